#!/usr/bin/env bash
# cluster.sh — the scale-out deployment on one machine: PostgreSQL (a local and a
# cloud database), N `stagebridge serve` nodes sharing them, and HAProxy in front
# with health checks on /nl/jsp/ping.jsp. Stops everything on exit.
#
#   scripts/cluster.sh [--nodes N] [--bin PATH] [--dir DIR] [--pg-url URL] [--cloud-pg-url URL]
#                      [--keep-databases] [--password P] [--log-level L] [--env-file FILE] [-- CMD ARGS…]
#
# --nodes N      serve nodes (default 3), each on a free 127.0.0.1 port
# --bin PATH     the stagebridge binary (default build/stagebridge, else build-release/)
# --dir DIR      configuration, logs and the HAProxy configuration (default: a temp dir, removed)
# --pg-url URL   a PostgreSQL server's maintenance database (postgresql://user@host:port/postgres):
#                the two databases are created there (and dropped on exit); without it a
#                throwaway PostgreSQL 15 is started with scripts/with-postgres.sh
# --cloud-pg-url URL  the cloud database on another server (default: the same as --pg-url)
# --keep-databases    leaves the two databases in place on exit (their URLs are in the env file)
# --password P   password of the operator `admin` it creates (default: admin)
# --env-file F   writes CLUSTER_* shell assignments there once everything is up
# -- CMD         runs CMD with the CLUSTER_* variables in its environment, then stops
#                everything and exits with CMD's status; without CMD it waits for
#                SIGINT/SIGTERM (Ctrl-C)
#
# The variables: CLUSTER_URL (HAProxy's address, http://127.0.0.1:PORT),
# CLUSTER_NODE_PORTS and CLUSTER_NODE_PIDS (space-separated, in node order; node I
# is `stagebridge --listen 127.0.0.1:PORT --instance-name nodeI serve` with the
# databases in STAGEBRIDGE_LOCAL_DB / STAGEBRIDGE_CLOUD_DB, so a test may restart
# one on its port), CLUSTER_HAPROXY_PID,
# CLUSTER_STATS_URL (HAProxy's statistics, add ";csv"), CLUSTER_LOCAL_DB,
# CLUSTER_CLOUD_DB, CLUSTER_DIR, CLUSTER_TOKEN and CLUSTER_SECURITY (a session of
# admin, logged on through HAProxy: valid on every node).
# Every node runs the technical workflows on their schedules (STAGEBRIDGE_* from the
# environment apply, e.g. STAGEBRIDGE_REPLICATE_SCHEDULE="every 5s"); the lease in
# the local database lets one node at a time run each workflow.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

nodes=3 bin="" dir="" pg_url="" cloud_pg_url="" keep_databases=0 password=admin log_level=info env_file="" cmd=()
orig_args=("$@")
while (($#)); do
  case $1 in
    --nodes) nodes=$2; shift ;;
    --bin) bin=$2; shift ;;
    --dir) dir=$2; shift ;;
    --pg-url) pg_url=$2; shift ;;
    --cloud-pg-url) cloud_pg_url=$2; shift ;;
    --keep-databases) keep_databases=1 ;;
    --password) password=$2; shift ;;
    --log-level) log_level=$2; shift ;;
    --env-file) env_file=$2; shift ;;
    --) shift; cmd=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "cluster.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -z $pg_url ]]; then
  pg_url=${CLUSTER_PG_URL:-}
fi
if [[ -z $pg_url ]]; then
  if [[ -n ${STAGEBRIDGE_TEST_PG_URL:-} ]]; then
    pg_url=$STAGEBRIDGE_TEST_PG_URL
  else
    exec scripts/with-postgres.sh "$root/scripts/cluster.sh" "${orig_args[@]}"
  fi
fi
if [[ -z $bin ]]; then
  for b in build/stagebridge build-release/stagebridge; do
    [[ -x $b ]] && { bin=$b; break; }
  done
fi
[[ -n $bin && -x $bin ]] || { echo "cluster.sh: no stagebridge binary (build it, or --bin PATH)" >&2; exit 1; }
[[ $bin == /* ]] || bin=$root/$bin
command -v haproxy >/dev/null || { echo "cluster.sh: haproxy is not installed (scripts/install-deps.sh --test)" >&2; exit 1; }
((nodes >= 1)) || { echo "cluster.sh: --nodes must be at least 1" >&2; exit 2; }

keep_dir=1
if [[ -z $dir ]]; then
  dir=$(mktemp -d "${TMPDIR:-/tmp}/sb-cluster-XXXXXX")
  keep_dir=0
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

log() { echo "cluster.sh: $*" >&2; }
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

tag="sbcluster_$$"
cloud_pg_url=${cloud_pg_url:-$pg_url}
local_db="${pg_url%/*}/${tag}_local"
cloud_db="${cloud_pg_url%/*}/${tag}_cloud"
node_pids=() node_ports=() haproxy_pid="" created=0

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  set +e  # every step runs, whatever the one before returned
  if [[ -n $haproxy_pid ]]; then
    kill "$haproxy_pid" 2>/dev/null
    wait "$haproxy_pid" 2>/dev/null
  fi
  for pid in "${node_pids[@]}"; do kill "$pid" 2>/dev/null; done  # SIGTERM: in-flight calls finish
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null; done
  if ((created && !keep_databases)); then
    psql -qX "$pg_url" -c "DROP DATABASE IF EXISTS ${tag}_local WITH (FORCE)" >/dev/null 2>&1 || true
    psql -qX "$cloud_pg_url" -c "DROP DATABASE IF EXISTS ${tag}_cloud WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  ((keep_dir)) || rm -rf "$dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

created=1
psql -qX -v ON_ERROR_STOP=1 "$pg_url" -c "CREATE DATABASE ${tag}_local" >/dev/null
psql -qX -v ON_ERROR_STOP=1 "$cloud_pg_url" -c "CREATE DATABASE ${tag}_cloud" >/dev/null
export STAGEBRIDGE_LOCAL_DB=$local_db STAGEBRIDGE_CLOUD_DB=$cloud_db
export STAGEBRIDGE_SCHEMAS_DIR=${STAGEBRIDGE_SCHEMAS_DIR:-$root/examples/schemas}
export STAGEBRIDGE_LOG_LEVEL=$log_level
"$bin" schema apply >"$dir/schema-apply.txt" 2>&1 || { cat "$dir/schema-apply.txt" >&2; exit 1; }
echo "$password" | "$bin" operator add admin --admin --password-stdin >/dev/null

# start_node I: `serve` on a free port (a fixed one, so that the node can be
# restarted where HAProxy expects it), started once it printed its address.
start_node() {
  local i=$1 out="$dir/node$1.out" line="" t
  : >"$out"
  "$bin" --listen "127.0.0.1:$(free_port)" --instance-name "node$i" serve >"$out" 2>>"$dir/node$i.log" &
  node_pids[i]=$!
  for ((t = 0; t < 600; t++)); do
    line=$(head -1 "$out")
    [[ $line == listening\ on* ]] && break
    kill -0 "${node_pids[i]}" 2>/dev/null || { tail -20 "$dir/node$i.log" >&2; log "node $i did not start"; exit 1; }
    sleep 0.1
  done
  [[ $line == listening\ on* ]] || { log "node $i printed no address in 60 s"; exit 1; }
  node_ports[i]=${line##*:}
}
for ((i = 1; i <= nodes; i++)); do start_node "$i"; done

haproxy_port=$(free_port) stats_port=$(free_port)
{
  cat <<EOF
# HAProxy in front of the stagebridge nodes (written by scripts/cluster.sh).
global
  maxconn 4096
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
  # A refused connection (a dead node) is tried again on another node; a request
  # already sent is never sent again (retry-on's default is conn-failure).
  retries 3
  option redispatch 1
frontend soap
  bind 127.0.0.1:$haproxy_port
  default_backend nodes
backend nodes
  balance roundrobin
  option httpchk GET /nl/jsp/ping.jsp
  http-check expect status 200
  # Down after 2 failed checks 500 ms apart, up again after 2 good ones.
  default-server inter 500ms fastinter 250ms downinter 500ms fall 2 rise 2
EOF
  for ((i = 1; i <= nodes; i++)); do echo "  server node$i 127.0.0.1:${node_ports[i]} check"; done
  cat <<EOF
listen stats
  bind 127.0.0.1:$stats_port
  stats enable
  stats uri /stats
EOF
} >"$dir/haproxy.cfg"
haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
haproxy_pid=$!

# Up when HAProxy's statistics show every node UP.
up=0
for ((t = 0; t < 300; t++)); do
  if curl -sf "http://127.0.0.1:$stats_port/stats;csv" 2>/dev/null |
    awk -F, -v n="$nodes" '$1 == "nodes" && $2 ~ /^node/ && $18 == "UP" { c++ } END { exit !(c == n) }'; then
    up=1
    break
  fi
  kill -0 "$haproxy_pid" 2>/dev/null || { cat "$dir/haproxy.log" >&2; log "haproxy did not start"; exit 1; }
  sleep 0.1
done
((up)) || { log "HAProxy does not see every node up after 30 s ($dir/haproxy.log)"; exit 1; }

logon=$(curl -s -X POST "http://127.0.0.1:$haproxy_port/nl/jsp/soaprouter.jsp" -H 'SOAPAction: xtk:session#Logon' \
  -H 'Content-Type: text/xml' --data-binary "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:urn=\"urn:xtk:session\"><soapenv:Body><urn:Logon><urn:sessiontoken/><urn:strLogin>admin</urn:strLogin><urn:strPassword>$password</urn:strPassword><urn:elemParameters/></urn:Logon></soapenv:Body></soapenv:Envelope>")
token=$(grep -o '___[0-9a-f-]*' <<<"$logon" | head -1 || true)
security=$(grep -oP "pstrSecurityToken xsi:type='xsd:string'>\K[^<]+" <<<"$logon" || true)
[[ -n $token && -n $security ]] || { log "Logon through HAProxy failed: $logon"; exit 1; }

export CLUSTER_URL="http://127.0.0.1:$haproxy_port" CLUSTER_STATS_URL="http://127.0.0.1:$stats_port/stats"
export CLUSTER_NODE_PORTS="${node_ports[*]}" CLUSTER_NODE_PIDS="${node_pids[*]}" CLUSTER_DIR=$dir
export CLUSTER_HAPROXY_PID=$haproxy_pid
export CLUSTER_LOCAL_DB=$local_db CLUSTER_CLOUD_DB=$cloud_db CLUSTER_TOKEN=$token CLUSTER_SECURITY=$security
if [[ -n $env_file ]]; then
  for v in CLUSTER_URL CLUSTER_STATS_URL CLUSTER_NODE_PORTS CLUSTER_NODE_PIDS CLUSTER_HAPROXY_PID CLUSTER_DIR CLUSTER_LOCAL_DB \
    CLUSTER_CLOUD_DB CLUSTER_TOKEN CLUSTER_SECURITY; do
    printf '%s=%q\n' "$v" "${!v}"
  done >"$env_file.tmp"
  mv "$env_file.tmp" "$env_file"
fi
log "$nodes node(s) on ports ${node_ports[*]} behind HAProxy at $CLUSTER_URL (statistics $CLUSTER_STATS_URL)"
log "local database $local_db, cloud database $cloud_db; operator admin; logs in $dir"

if ((${#cmd[@]})); then
  set +e
  "${cmd[@]}"
  status=$?
  set -e
  exit "$status"
fi
log "Ctrl-C stops the cluster"
gone=()
while true; do
  for ((i = 1; i <= nodes; i++)); do
    if [[ -z ${gone[i]:-} ]] && ! kill -0 "${node_pids[i]}" 2>/dev/null; then
      log "node $i (pid ${node_pids[i]}) has exited ($dir/node$i.log)"
      gone[i]=1
    fi
  done
  sleep 1 &
  wait $! || true
done
