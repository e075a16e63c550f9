#!/usr/bin/env bash
# package_test.sh — end-to-end test of the Debian package. scripts/package.sh builds it
# (a Release tree in build-package/, incremental with ccache); then, as root: apt-get
# installs the .deb; the test checks the files, the conffiles, Depends, the stagebridge
# user and ownerships, the unit (systemd-analyze verify), `--version`; runs the unit's
# ExecStartPre and ExecStart command lines as the stagebridge user (ExecStart on a free
# port), pings the server and stops it with SIGTERM; reinstalls over an edited
# configuration (kept); removes the package (configuration and databases kept), then
# purges it (both gone, the user kept). Whatever happens, the package is purged at the
# end.
# Needs root or passwordless sudo: without, it FAILS (never skips). Refuses to run
# where a stagebridge package (or its configuration or data) is already present.
# Env: STAGEBRIDGE_SOURCE_DIR (the source tree); STAGEBRIDGE_PACKAGE_DIR (the build
# directory, default build-package under the source tree).
set -uo pipefail
src=${STAGEBRIDGE_SOURCE_DIR:?}
pkgdir=${STAGEBRIDGE_PACKAGE_DIR:-$src/build-package}
unit=/lib/systemd/system/stagebridge.service
config=/etc/stagebridge/stagebridge.toml
state=/var/lib/stagebridge
work=$(mktemp -d)
chmod 755 "$work"
passed=0
failed=0
installed=0
server_pid=""

fail_now() {  # fail_now MESSAGE — a failure that stops the test here
  echo "FAIL: $1" >&2
  failed=$((failed + 1))
  exit 1
}

if [[ $(id -u) -eq 0 ]]; then
  root=()
elif sudo -n true 2>/dev/null; then
  root=(sudo -n)
else
  echo "FAIL: package/deb installs the package: run it as root or with passwordless sudo" >&2
  echo "package_test: 0 passed, 1 failed"
  exit 1
fi
as_root() { "${root[@]}" "$@"; }
apt() { as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y -q "$@" </dev/null; }
status() { dpkg-query -W -f='${db:Status-Status}' stagebridge 2>/dev/null; }

cleanup() {
  if [[ -n $server_pid ]]; then as_root kill -KILL "$server_pid" 2>/dev/null; fi
  if ((installed)) && [[ $(status) != "" && $(status) != not-installed ]]; then
    echo "package_test: purging the package left by a failed run" >&2
    apt purge stagebridge >"$work/cleanup.log" 2>&1 || cat "$work/cleanup.log" >&2
  fi
  rm -rf "$work"
  echo "package_test: $passed passed, $failed failed"
}
trap cleanup EXIT

check() {  # check DESCRIPTION COMMAND... — passes when the command succeeds
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok: $what"
  else
    failed=$((failed + 1))
    echo "FAIL: $what" >&2
  fi
}
contains() { grep -qE -- "$2" <<<"$1"; }  # contains TEXT ERE
owner_mode() { as_root stat -c '%U:%G %a' "$1" 2>/dev/null; }
owner() { as_root stat -c '%U:%G' "$1" 2>/dev/null; }
exists() { as_root test -e "$1"; }  # inside $state, which only root and stagebridge may read

# One run at a time on the machine (dpkg state is machine-wide): a second one waits.
lock=/tmp/stagebridge-package-test.lock
[[ -e $lock ]] || (umask 0 && : >"$lock")
exec 8<"$lock"
flock 8

# Someone's installation (or what a purge would delete) is never touched.
case $(status) in
  "" | not-installed) ;;
  *) fail_now "a stagebridge package is already on this machine (status '$(status)'): not touching it" ;;
esac
for path in /etc/stagebridge "$state"; do
  [[ -e $path ]] && fail_now "$path exists without the package: not touching it (remove it to run this test)"
done

# --- build
echo "package_test: building (scripts/package.sh $pkgdir)"
head_before=$(git -C "$src" rev-parse HEAD 2>/dev/null)
if ! "$src/scripts/package.sh" "$pkgdir" >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  fail_now "scripts/package.sh failed"
fi
deb=$(sed -n 's/^package\.sh: built //p' "$work/build.log" | tail -1)
version=$(sed -nE 's/^project\(stagebridge VERSION ([0-9.]+).*/\1/p' "$src/CMakeLists.txt")
check "package.sh printed the path of the .deb" test -f "$deb"
check "the .deb is named stagebridge_${version}_amd64.deb" test "$(basename "$deb")" = "stagebridge_${version}_amd64.deb"
[[ -f $deb ]] || fail_now "no package to install"

# --- install
installed=1
if ! apt install "$deb" >"$work/install.log" 2>&1; then
  cat "$work/install.log" >&2
  fail_now "apt-get install $deb failed"
fi
check "dpkg says installed" test "$(status)" = installed
check "the binary is /usr/bin/stagebridge" test -x /usr/bin/stagebridge
check "the configuration is $config" test -f "$config"
check "the schemas directory holds a README and no schema" \
  test -f /etc/stagebridge/schemas/README -a -z "$(find /etc/stagebridge/schemas -name '*.xml')"
check "the example schema is under /usr/share/doc/stagebridge/examples" \
  test -f /usr/share/doc/stagebridge/examples/schemas/dem_sampleTable.xml
check "the example workflows are under /usr/share/doc/stagebridge/examples" \
  test -f /usr/share/doc/stagebridge/examples/workflows/seed1-insert.xml
check "the workflows directory exists" test -d /etc/stagebridge/workflows
check "the README is in /usr/share/doc/stagebridge" test -f /usr/share/doc/stagebridge/README.md
check "the unit is $unit" test -f "$unit"
conffiles=$(dpkg-query -W -f='${Conffiles}\n' stagebridge)
check "the configuration is a conffile" contains "$conffiles" "^ $config [0-9a-f]{32}$"
check "the schemas README is a conffile" contains "$conffiles" "^ /etc/stagebridge/schemas/README [0-9a-f]{32}$"
depends=$(dpkg-query -W -f='${Depends}' stagebridge | tr ',' '\n' | awk '{print $1}')  # the names
check "Depends names adduser" grep -qx adduser <<<"$depends"
for lib in libc6 libstdc++6 libpq5 libsqlite3-0 libsodium23; do
  check "Depends names $lib (dpkg-shlibdeps)" grep -qxF "$lib" <<<"$depends"
done

# --- the system user and what it owns
passwd=$(getent passwd stagebridge)
check "the stagebridge user exists" test -n "$passwd"
IFS=: read -r _ _ uid gid _ home shell <<<"$passwd"
check "…a system user (uid $uid < 1000)" test "${uid:-1000}" -lt 1000
check "…in the stagebridge group" test "$(getent group stagebridge | cut -d: -f3)" = "$gid"
check "…home $state, no login shell" test "$home:$shell" = "$state:/usr/sbin/nologin"
check "$state is stagebridge:stagebridge 750" test "$(owner_mode "$state")" = "stagebridge:stagebridge 750"
check "$config is root:stagebridge 640" test "$(owner_mode "$config")" = "root:stagebridge 640"
check "the stagebridge user cannot change the configuration" \
  test "$(as_root runuser -u stagebridge -- sh -c "test -w $config && echo writable")" = ""

# --- the unit
check "unit: User= and Group= stagebridge" \
  test "$(grep -E '^(User|Group)=' "$unit" | tr '\n' ' ')" = "User=stagebridge Group=stagebridge "
for setting in ProtectSystem=strict ReadWritePaths=$state NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes \
  WorkingDirectory=$state Restart=on-failure KillSignal=SIGTERM LimitNOFILE=65536; do
  check "unit: $setting" grep -qxF "$setting" "$unit"
done
if command -v systemd-analyze >/dev/null; then
  as_root systemd-analyze verify "$unit" >"$work/verify.out" 2>&1
  rc=$?
  cat "$work/verify.out"
  check "systemd-analyze verify $unit passes" test "$rc" -eq 0
  check "…and says nothing about it" test -z "$(grep -i stagebridge "$work/verify.out")"
else
  echo "note: systemd-analyze is not installed: the unit is not verified"
fi

# --- the binary and its configuration
out=$(/usr/bin/stagebridge --version)
check "--version: '$out'" contains "$out" "^stagebridge ${version//./\\.} \(git ([0-9a-f]{7,}(-dirty)?|unknown)\)$"
if [[ -n $head_before ]]; then
  # The commit checked out when the build ran: HEAD then, or one committed since.
  commit=$(sed -nE 's/.*\(git ([0-9a-f]+).*/\1/p' <<<"$out")
  built_at() {
    local full
    full=$(git -C "$src" rev-parse --verify -q "${commit:-none}^{commit}") &&
      git -C "$src" merge-base --is-ancestor "$head_before" "$full" &&
      git -C "$src" merge-base --is-ancestor "$full" HEAD
  }
  check "--version names the commit built ($commit; HEAD was ${head_before:0:7} when the build started)" built_at
fi
out=$(as_root runuser -u stagebridge -- /usr/bin/stagebridge --config "$config" config show 2>&1)
check "config show accepts every key of the configuration" test $? -eq 0
check "…local_db from the file" contains "$out" "local_db.*sqlite:$state/local.db.*file $config"
check "…schemas_dir from the file" contains "$out" "schemas_dir.*/etc/stagebridge/schemas.*file $config"

# --- the unit's command lines, as the stagebridge user in its working directory
read -ra pre <<<"$(sed -n 's/^ExecStartPre=//p' "$unit")"
read -ra start <<<"$(sed -n 's/^ExecStart=//p' "$unit")"
check "ExecStartPre is schema apply" test "${pre[*]}" = "/usr/bin/stagebridge --config $config schema apply"
check "ExecStart is serve" test "${start[*]}" = "/usr/bin/stagebridge --config $config serve"
as_service() { as_root env -C "$state" runuser -u stagebridge -- "$@"; }
out=$(as_service "${pre[@]}" 2>&1)
check "ExecStartPre (schema apply) exits 0" test $? -eq 0
check "…and creates the tables" contains "$out" "database structure updated"
check "the databases are the stagebridge user's" \
  test "$(owner "$state/local.db") $(owner "$state/cloud.db")" = "stagebridge:stagebridge stagebridge:stagebridge"

# sh prints its pid, then becomes the server: SIGTERM goes to the server itself.
coproc SERVER { as_service sh -c 'echo "pid $$"; exec "$@"' sh "${start[@]}" --listen 127.0.0.1:0 2>"$work/serve.err"; }
runner_pid=$SERVER_PID
line=""
read -r -t 30 line <&"${SERVER[0]}"
server_pid=${line#pid }
[[ $server_pid =~ ^[0-9]+$ ]] || server_pid=""
line=""
read -r -t 30 line <&"${SERVER[0]}"
[[ -n $line ]] || sed 's/^/serve: /' "$work/serve.err" >&2
check "ExecStart (serve) prints its address" contains "$line" "^listening on 127\.0\.0\.1:[0-9]+$"
port=${line##*:}
check "the server runs as stagebridge" test "$(ps -o user= -p "$server_pid" 2>/dev/null)" = stagebridge
check "ping answers OK" test "$(curl -s --max-time 10 "http://127.0.0.1:$port/nl/jsp/ping.jsp" | head -1)" = OK
[[ -n $server_pid ]] && as_root kill -TERM "$server_pid"
wait "$runner_pid"
check "serve exits 0 on SIGTERM" test $? -eq 0
server_pid=""

# --- an upgrade (here a reinstall) keeps an edited configuration and the data
echo "# edited by package_test" | as_root tee -a "$config" >/dev/null
if apt install --reinstall "$deb" >"$work/reinstall.log" 2>&1; then
  check "reinstall over an edited configuration succeeds" true
else
  cat "$work/reinstall.log" >&2
  check "reinstall over an edited configuration succeeds" false
fi
check "…the edit is kept" test "$(as_root tail -1 "$config")" = "# edited by package_test"
check "…the user keeps its uid" test "$(id -u stagebridge)" = "$uid"
check "…the local database is kept" exists "$state/local.db"
check "…the cloud database is kept" exists "$state/cloud.db"
check "…ownerships too" test "$(owner_mode "$state") $(owner_mode "$config")" = "stagebridge:stagebridge 750 root:stagebridge 640"

# Enabled, as an administrator would; purge must take the enablement away.
wants=/etc/systemd/system/multi-user.target.wants/stagebridge.service
if command -v systemctl >/dev/null; then
  as_root systemctl enable stagebridge.service >/dev/null 2>&1
  check "systemctl enable links it into multi-user.target" test -L "$wants"
fi

# --- remove: the binary and the unit go, the configuration and the databases stay
if ! apt remove stagebridge >"$work/remove.log" 2>&1; then
  cat "$work/remove.log" >&2
  check "apt-get remove succeeds" false
fi
check "after remove: dpkg keeps only its config files" test "$(status)" = config-files
check "after remove: no binary, no unit" test ! -e /usr/bin/stagebridge -a ! -e "$unit"
check "after remove: the configuration is kept" test -f "$config"
check "after remove: the databases are kept" exists "$state/local.db"

# --- purge: the configuration, the data, the enablement go; the user stays
if ! apt purge stagebridge >"$work/purge.log" 2>&1; then
  cat "$work/purge.log" >&2
  check "apt-get purge succeeds" false
fi
check "after purge: dpkg knows no stagebridge" test "$(status)" = "" -o "$(status)" = not-installed
check "after purge: /etc/stagebridge is gone" test ! -e /etc/stagebridge
check "after purge: $state (the databases) is gone" test ! -e "$state"
check "after purge: the doc directory is gone" test ! -e /usr/share/doc/stagebridge
check "after purge: no enablement link left" test ! -L "$wants"
check "after purge: the stagebridge user is kept (Debian practice)" test -n "$(getent passwd stagebridge)"
installed=0

test "$failed" -eq 0
