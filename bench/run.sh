#!/usr/bin/env bash
# run.sh — the benchmark harness: every scenario of docs/benchmarks.md, each next to
# its raw baseline in the same run, written up as DIR/report.md + DIR/throughput.png.
#
#   bench/run.sh [--quick] [--out DIR] [--only LIST] [--seconds N] [--rounds N]
#                [--clients "1 8 32 128"] [--sync-rows N] [--before DIR]
#
# Installs the missing Debian packages (scripts/install-deps.sh --test), builds the
# release preset (build-release/stagebridge) unless SB_BIN names a binary, starts a
# throwaway PostgreSQL 15 through scripts/with-postgres.sh unless
# STAGEBRIDGE_TEST_PG_URL is already set, then runs:
#   1  unitary Ingest at 1/8/32/128 clients     vs pgbench single-row INSERT    (target >= 1.0x)
#   2  Ingest collections of 100 / 1000 records vs psql \copy of the same rows  (target >= 0.7x)
#   3  unitary IngestExt upserts, repeated keys vs pgbench INSERT .. ON CONFLICT (target >= 1.0x)
#   4  sync of 1 M staged rows (bench/merge_vs_copy.sh) vs the psql pipeline    (target >= 0.8x),
#      peak RSS at 100 k and 1 M rows                                          (must stay flat)
#   5  scenarios 1 and 2 on the embedded SQLite default vs a raw SQLite loop    (for the record)
#   6  p50/p99 latency of unitary Ingest paced at half the peak throughput of 1
#   7  ExecuteQuery: a select of 10 000 rows and a count over 1 M staged rows
#      vs the same SQL in psql (\timing), each the median of its repetitions   (for the record)
#   8  unitary Ingest over HTTPS vs over HTTP, one server (listen + listen_http), 8 and 32
#      clients, alternated                                                    (for the record)
#   9  unitary Ingest through HAProxy to 1, 2, 3 nodes sharing one local database
#      (scripts/cluster.sh) vs one node direct, 32 and 128 clients, alternated;
#      CPU of each process and PostgreSQL's WAL per call                      (for the record)
#  10 workflow JavaScript: a script ingesting N rows in a loop (`script run`), unitary
#      and in collections of 1 000, vs unitary SOAP Ingest and collections over HTTP
#      at 1 connection (the route the script bypasses); the cost of an empty
#      `script run` vs `stagebridge --version`                           (in-process >= 1.0x)
#
# --quick: tiny durations and counts (about a minute), the mode the test suite runs;
# it checks the harness, not the speed: a missed target never fails a run. Any run
# fails (exit 1) when a scenario produced no figure, an answer was not a 200 with
# its uuid(s) (or an IngestExtResponse), rows are missing, or the report or the
# plot is missing. --before DIR adds the figures of an earlier run (DIR/results.tsv)
# to the report, for before/after comparisons. --only 1,4 runs a subset.
# Environment: SB_BIN (the binary to measure; STAGEBRIDGE_BIN is accepted too),
# STAGEBRIDGE_TEST_PG_URL (an existing server to use), BENCH_SKIP_INSTALL=1,
# BENCH_NOTE (a line of context for the report's header), BENCH_SYNC_ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

quick=0 out="" only="1,2,3,4,5,6,7,8,9,10" before="" seconds="" rounds="" clients="" sync_rows=""
orig_args=("$@")
while (($#)); do
  case $1 in
    --quick) quick=1 ;;
    --out) out=$2; shift ;;
    --only) only=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --clients) clients=$2; shift ;;
    --sync-rows) sync_rows=$2; shift ;;
    --before) before=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# ------------------------------------------------------------------ preparation
bin=${SB_BIN:-${STAGEBRIDGE_BIN:-}}
if [[ -z ${BENCH_SKIP_INSTALL:-} ]]; then
  scripts/install-deps.sh --test
fi
if [[ -z $bin ]]; then
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
  echo "run.sh: building the release preset (build-release/)" >&2
  cmake --preset release >/dev/null
  cmake --build --preset release
  bin=build-release/stagebridge
fi
[[ $bin == /* ]] || bin=$root/$bin
if [[ ! -x $bin ]]; then
  echo "run.sh: $bin is not an executable" >&2
  exit 1
fi
if [[ -z ${STAGEBRIDGE_TEST_PG_URL:-} ]]; then
  # Our own throwaway cluster, stopped and removed whatever happens.
  SB_BIN=$bin BENCH_SKIP_INSTALL=1 exec scripts/with-postgres.sh "$root/bench/run.sh" "${orig_args[@]}"
fi

# ------------------------------------------------------------------ settings
if ((quick)); then
  # 32 clients at most: the suite's other tests share the cluster's 200 connections.
  # Collections of 10 and 100: a 1000-record call can take over the 1 s a quick
  # measurement lasts on a sanitizer build, and then no call completes.
  : "${seconds:=1}" "${rounds:=1}" "${clients:=1 8 32}" "${sync_rows:=2000}"
  batch_sizes="10 100" batch_clients=8 upsert_clients="8" keys=1000 sync_rounds=1 latency_seconds=3
  sqlite_rounds=1 mode=quick tls_clients="8" query_rows=20000 query_select=1000 query_reps=3
  cluster_clients="8" cluster_nodes="1 2"
  script_rows=300 script_batch=100 script_empty_runs=3
else
  : "${seconds:=8}" "${rounds:=3}" "${clients:=1 8 32 128}" "${sync_rows:=1000000}"
  batch_sizes="100 1000" batch_clients=8 upsert_clients="8 32" keys=10000 sync_rounds=${BENCH_SYNC_ROUNDS:-3}
  latency_seconds=$((seconds * 2)) sqlite_rounds=1 mode=full tls_clients="8 32" query_rows=1000000 query_select=10000 query_reps=10
  cluster_clients="32 128" cluster_nodes="1 2 3"
  script_rows=100000 script_batch=1000 script_empty_runs=10
fi
out=${out:-bench/report}
mkdir -p "$out"
out=$(cd "$out" && pwd)
raw=$out/raw
rm -rf "$raw" "$out/report.md" "$out/throughput.png" "$out/results.tsv" "$out/failures.txt"
mkdir -p "$raw"
results=$out/results.tsv
failures=$out/failures.txt
: >"$failures"
printf 'scenario\tbackend\tclients\tbatch\tround\tsb\tbase\tunit\textra\n' >"$results"
want() { [[ ",$only," == *",$1,"* ]]; }

pg_url=$STAGEBRIDGE_TEST_PG_URL
pg_base=${pg_url%/*}
work=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-XXXXXX")
server_pid="" server_name="" server_extra=() server_scheme=http
dbs=()
stop_server() {  # SIGTERM: in-flight calls finish; a crash or a sanitizer report is a failure
  if [[ -n $server_pid ]]; then
    local st=0
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || st=$?
    server_pid=""
    if ((st != 0 && st != 143)); then
      fail "the $server_name server exited with status $st (raw/$server_name-server.log)"
    fi
  fi
}
cleanup() {
  local status=$?
  stop_server
  for db in "${dbs[@]}"; do
    psql -qX "$pg_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() { echo "$*" >>"$failures"; log "FAILURE: $*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
kv() { grep -oP "(^|\s)$1=\K\S+" <<<"$2" | head -1; }
loadavg() { cut -d' ' -f1 /proc/loadavg; }
record() {  # record SCENARIO BACKEND CLIENTS BATCH ROUND SB BASE UNIT EXTRA
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"
}

# ------------------------------------------------------------------ metadata
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "mode=$mode"
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null ||
    echo ' (uncommitted changes in src/ now)')"
  echo "binary=${bin#"$root"/}, built $(date -r "$bin" '+%Y-%m-%d %H:%M')"
  echo "build_type=$(grep -oP '^CMAKE_BUILD_TYPE:\w+=\K.*' "$(dirname "$bin")/CMakeCache.txt" 2>/dev/null || echo unknown)"
  echo "cpu=$(grep -m1 -oP 'model name\s*:\s*\K.*' /proc/cpuinfo || echo unknown)"
  echo "cores=$(nproc)"
  echo "memory=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "postgres=$(psql -qAtX "$pg_url" -c 'SHOW server_version')"
  echo "pg_settings=$(psql -qAtX "$pg_url" -c "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level')")"
  echo "sqlite=$(sqlite3 --version | cut -d' ' -f1)"
  echo "wrk=$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "pgbench=$(pgbench --version)"
  echo "seconds=$seconds"
  echo "rounds=$rounds"
  echo "sync_rows=$sync_rows"
  echo "sync_rounds=$sync_rounds"
  echo "keys=$keys"
  echo "batch_clients=$batch_clients"
  echo "latency_seconds=$latency_seconds"
  echo "load_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "note=${BENCH_NOTE:-}"
} >"$out/meta.env"
started=$(now)

# ------------------------------------------------------------------ server
# start_server NAME LOCAL_URL: a fresh `stagebridge serve` on a free loopback port,
# schemas applied, operator bench/secret, logged on (SB_TOKEN, SB_SECURITY).
start_server() {
  local name=$1 local_url=$2 line="" i
  local cloud="sqlite:$work/$name-cloud.db"
  local sb=("$bin" --local-db "$local_url" --cloud-db "$cloud" --schemas-dir examples/schemas --log-level warn
    "${server_extra[@]}")
  "${sb[@]}" schema apply >"$raw/$name-schema.txt" 2>&1
  echo secret | "${sb[@]}" operator add bench --admin --password-stdin >/dev/null
  STAGEBRIDGE_REPLICATE_SCHEDULE=off STAGEBRIDGE_CLEANUP_SCHEDULE=off \
    "${sb[@]}" --listen 127.0.0.1:0 serve >"$work/$name-server.out" 2>"$raw/$name-server.log" &
  server_pid=$! server_name=$name
  for ((i = 0; i < 600; i++)); do
    line=$(head -1 "$work/$name-server.out" 2>/dev/null || true)
    [[ $line == *:* ]] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "run.sh: the server did not start:" >&2
      cat "$raw/$name-server.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  if [[ $line != *:* ]]; then
    echo "run.sh: the server printed no address in 60 s" >&2
    exit 1
  fi
  port=${line##*:}
  local logon
  logon=$(curl -s -k -X POST "${server_scheme:-http}://127.0.0.1:$port/nl/jsp/soaprouter.jsp" -H 'SOAPAction: xtk:session#Logon' \
    -H 'Content-Type: text/xml' --data-binary '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session"><soapenv:Body><urn:Logon><urn:sessiontoken/><urn:strLogin>bench</urn:strLogin><urn:strPassword>secret</urn:strPassword><urn:elemParameters/></urn:Logon></soapenv:Body></soapenv:Envelope>')
  SB_TOKEN=$(grep -o '___[0-9a-f-]*' <<<"$logon" | head -1)
  SB_SECURITY=$(grep -oP "pstrSecurityToken xsi:type='xsd:string'>\K[^<]+" <<<"$logon")
  export SB_TOKEN SB_SECURITY
  if [[ -z $SB_TOKEN || -z $SB_SECURITY ]]; then
    echo "run.sh: Logon failed: $logon" >&2
    exit 1
  fi
  log "$name: stagebridge serving on 127.0.0.1:$port (local store $local_url)"
}

# check_raw NAME: a tool that returned must have left raw/NAME.txt; when not, the
# failure says what raw/ holds (and whether it still exists) to tell why.
check_raw() {
  [[ -f $raw/$1.txt ]] && return 0
  fail "$1: the tool returned but raw/$1.txt is missing (raw/: $(ls -A "$raw" 2>&1 | tr '\n' ' '))"
  return 1
}

# run_wrk NAME CONNECTIONS SECONDS MODE BATCH [RATE]: sets w_rps w_req w_p50 w_p90 w_p99
# (latencies in µs); a bad answer, a non-200 or a socket error is a failure.
run_wrk() {
  local name=$1 c=$2 d=$3 wmode=$4 batch=$5 rate=${6:-0}
  local t=$((c < 2 ? c : 2)) line
  if ! SB_MODE=$wmode SB_BATCH=$batch SB_KEYS=$keys SB_RATE=$rate SB_THREADS=$t SB_CONNS=$c \
    wrk -t "$t" -c "$c" -d "${d}s" --timeout 30s --latency -s bench/ingest.lua "${wrk_base:-http://127.0.0.1:$port}" \
    >"$raw/$name.txt" 2>&1; then
    fail "$name: wrk exited with an error (raw/$name.txt)"
  fi
  check_raw "$name" || true
  line=$(grep '^wrk-result' "$raw/$name.txt" 2>/dev/null || true)
  w_req=$(kv requests "$line") w_rps=$(kv rps "$line")
  w_p50=$(kv p50_us "$line") w_p90=$(kv p90_us "$line") w_p99=$(kv p99_us "$line")
  local bad non200 errors
  bad=$(kv bad "$line") non200=$(kv non200 "$line") errors=$(kv errors "$line")
  if [[ -z $line || -z $w_rps || ${w_req:-0} -eq 0 ]]; then
    fail "$name: wrk produced no figure (raw/$name.txt)"
    w_rps=""
  elif ((bad > 0 || non200 > 0 || errors > 0)); then
    fail "$name: $bad of $w_req answers were not a 200 with the expected content ($non200 HTTP errors, $errors socket errors)$(grep -m1 '^wrk-first-bad' "$raw/$name.txt" | sed 's/^wrk-first-bad/; the first:/')"
  fi
}

# ------------------------------------------------------------------ PostgreSQL helpers
pg_db() {  # pg_db NAME: a fresh database on the cluster, dropped on exit; sets db_url
  local db="sbbench_$1_$$"
  psql -qX "$pg_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null 2>&1
  dbs+=("$db")
  db_url="$pg_base/$db"
}
pg_reset() {  # empty staging table, then a checkpoint: every measurement starts alike
  psql -qX -v ON_ERROR_STOP=1 "$1" -c "TRUNCATE DemSampleTableStg" -c "CHECKPOINT" >/dev/null
}
pg_count() { psql -qAtX "$1" -c "SELECT count(*) FROM DemSampleTableStg"; }

# run_pgbench NAME URL CLIENTS SECONDS SCRIPT [ARGS…]: sets p_tps
run_pgbench() {
  local name=$1 url=$2 c=$3 d=$4 script=$5
  shift 5
  local t=$((c < 2 ? c : 2))
  if ! pgbench -n -M prepared -c "$c" -j "$t" -T "$d" -f "$script" "$@" "$url" >"$raw/$name.txt" 2>&1; then
    fail "$name: pgbench failed (raw/$name.txt)"
  fi
  check_raw "$name" || true
  p_tps=$(grep -oP 'tps = \K[0-9.]+' "$raw/$name.txt" 2>/dev/null | head -1 || true)
  local failed
  failed=$(grep -oP 'number of failed transactions: \K[0-9]+' "$raw/$name.txt" 2>/dev/null || echo 0)
  if [[ -z $p_tps ]]; then
    fail "$name: pgbench produced no figure (raw/$name.txt)"
  elif ((failed > 0)); then
    fail "$name: pgbench had $failed failed transactions"
  fi
}

# check_rows NAME COUNT_CMD… : every acknowledged row is in the staging table
check_rows() {
  local name=$1 expected=$2
  shift 2
  local got
  got=$("$@")
  if ((got < expected)); then
    fail "$name: $expected rows acknowledged, $got in the staging table"
  fi
}

# The staging table's columns as the server writes them (src/staging/writer.cc).
cat >"$work/insert.sql" <<'SQL'
INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, sTestcol2, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp)
VALUES (gen_random_uuid()::text, 'value ' || :client_id || '-' || random(), 'bench', 0, CURRENT_TIMESTAMP, nextval('SbStgSeq'), 0, 0);
SQL
cat >"$work/upsert.sql" <<'SQL'
\set k random(1, :keys)
INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, sTestcol2, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp)
VALUES ('00000000-0000-4000-8000-' || lpad(:k::text, 12, '0'), 'value ' || :client_id || '-' || random(), 'bench', 0, CURRENT_TIMESTAMP, nextval('SbStgSeq'), 0, 1)
ON CONFLICT (uSampleTableId) DO UPDATE SET sTestcol1 = excluded.sTestcol1, sTestcol2 = excluded.sTestcol2, iDelete = 0,
  iStgOp = CASE WHEN DemSampleTableStg.iStgOp >= 2 THEN 3 ELSE 1 END, tsLastModified = excluded.tsLastModified,
  iStgSeq = excluded.iStgSeq, iStgKey = excluded.iStgKey;
SQL

# copy_run URL BATCH CLIENTS SECONDS: CLIENTS psql sessions each running \copy of
# BATCH rows (one transaction each) until the deadline; sets c_rps (rows/s).
# The id and the change sequence come from column defaults set for the run, the
# same expressions the server's INSERT uses (gen_random_uuid(), nextval).
copy_run() {
  local url=$1 n=$2 c=$3 d=$4 i j k blocks file="$work/batch_$2.tsv" script="$work/copy_$2.sql"
  if [[ ! -f $script ]]; then
    for ((i = 1; i <= n; i++)); do printf 'value c-%d\tbench\n' "$i"; done >"$file"
    k=$((n >= 500 ? 1 : 500 / n))
    blocks=$((3000000 / (n * k)))
    {
      echo '\set ON_ERROR_STOP on'
      for ((i = 0; i < blocks; i++)); do
        for ((j = 0; j < k; j++)); do echo "\\copy DemSampleTableStg (sTestcol1, sTestcol2) FROM '$file'"; done
        echo 'SELECT extract(epoch FROM clock_timestamp()) < :deadline AS more \gset'
        printf '\\if :more\n\\else\n\\q\n\\endif\n'
      done
    } >"$script"
  fi
  psql -qX -v ON_ERROR_STOP=1 "$url" >/dev/null <<'SQL'
ALTER TABLE DemSampleTableStg ALTER COLUMN uSampleTableId SET DEFAULT gen_random_uuid()::text,
  ALTER COLUMN iStgSeq SET DEFAULT nextval('SbStgSeq');
SQL
  pg_reset "$url"
  local t0 t1 deadline pids=()
  t0=$(now)
  deadline=$(calc "$t0 + $d" 3)
  for ((i = 0; i < c; i++)); do
    psql -qX -v deadline="$deadline" -f "$script" "$url" >/dev/null 2>>"$raw/copy-b$n-c$c.txt" &
    pids+=($!)
  done
  local st=0
  for p in "${pids[@]}"; do wait "$p" || st=1; done
  t1=$(now)
  ((st == 0)) || fail "copy batch=$n clients=$c: a psql session failed (raw/copy-b$n-c$c.txt)"
  local rows
  rows=$(pg_count "$url")
  psql -qX -v ON_ERROR_STOP=1 "$url" >/dev/null <<'SQL'
ALTER TABLE DemSampleTableStg ALTER COLUMN uSampleTableId DROP DEFAULT, ALTER COLUMN iStgSeq SET DEFAULT 0;
SQL
  c_rps=$(calc "$rows / ($t1 - $t0)")
  echo "copy batch=$n clients=$c: $rows rows in $(calc "$t1 - $t0" 2) s" >>"$raw/copy-b$n-c$c.txt"
  ((rows > 0)) || { fail "copy batch=$n clients=$c: no row copied"; c_rps=""; }
}

# ------------------------------------------------------------------ scenarios on PostgreSQL
peak_rps="" peak_clients=""
pg_ingest_scenarios() {
  local url r c n sbr
  pg_db ingest
  url=$db_url
  start_server pg "$url"

  if want 1; then
    for ((r = 1; r <= rounds; r++)); do
      for c in $clients; do
        log "1: unitary Ingest vs pgbench INSERT, $c clients, round $r"
        pg_reset "$url"
        run_pgbench "s1-pgbench-c$c-r$r" "$url" "$c" "$seconds" "$work/insert.sql"
        pg_reset "$url"
        run_wrk "s1-wrk-c$c-r$r" "$c" "$seconds" ingest 1
        check_rows "s1-wrk-c$c-r$r" "${w_req:-0}" pg_count "$url"
        record 1 postgres "$c" 1 "$r" "$w_rps" "$p_tps" req/s "p50_us=$w_p50;p99_us=$w_p99;load=$(loadavg)"
      done
    done
  fi

  if want 2; then
    for ((r = 1; r <= rounds; r++)); do
      for n in $batch_sizes; do
        log "2: Ingest collections of $n vs \\copy, $batch_clients clients, round $r"
        copy_run "$url" "$n" "$batch_clients" "$seconds"
        pg_reset "$url"
        run_wrk "s2-wrk-b$n-r$r" "$batch_clients" "$seconds" ingest "$n"
        check_rows "s2-wrk-b$n-r$r" $((${w_req:-0} * n)) pg_count "$url"
        sbr=""
        [[ -n $w_rps ]] && sbr=$(calc "$w_rps * $n")
        record 2 postgres "$batch_clients" "$n" "$r" "$sbr" "$c_rps" rows/s "calls_per_s=$w_rps;p50_us=$w_p50;p99_us=$w_p99;load=$(loadavg)"
      done
    done
  fi

  if want 3; then
    for ((r = 1; r <= rounds; r++)); do
      for c in $upsert_clients; do
        log "3: unitary IngestExt upserts vs pgbench ON CONFLICT, $c clients, $keys keys, round $r"
        pg_reset "$url"
        run_pgbench "s3-pgbench-c$c-r$r" "$url" "$c" "$seconds" "$work/upsert.sql" -D "keys=$keys"
        pg_reset "$url"
        run_wrk "s3-wrk-c$c-r$r" "$c" "$seconds" ingestext 1
        record 3 postgres "$c" 1 "$r" "$w_rps" "$p_tps" req/s "keys=$keys;p50_us=$w_p50;p99_us=$w_p99;load=$(loadavg)"
      done
    done
  fi

  if want 6; then
    # Half of the peak: the best median throughput of scenario 1 in this run, at the
    # connection count that reached it; else a closed-loop run at 32 connections.
    if [[ -z $peak_rps ]]; then
      peak_rps=$(python3 bench/report.py --peak "$results")
      peak_clients=${peak_rps#* } peak_rps=${peak_rps% *}
    fi
    if [[ -z $peak_rps ]]; then
      log "6: no scenario-1 figure in this run: closed-loop peak at 32 connections"
      pg_reset "$url"
      run_wrk "s6-peak" 32 "$seconds" ingest 1
      peak_rps=$w_rps peak_clients=32
    fi
    if [[ -n $peak_rps ]]; then
      local rate
      rate=$(calc "$peak_rps / 2" 0)
      log "6: unitary Ingest latency at $rate req/s (half of $peak_rps), $peak_clients connections"
      pg_reset "$url"
      run_wrk "s6-wrk-paced" "$peak_clients" "$latency_seconds" ingest 1 "$rate"
      check_rows "s6-wrk-paced" "${w_req:-0}" pg_count "$url"
      record 6 postgres "$peak_clients" 1 1 "$w_rps" "$peak_rps" req/s \
        "target_rps=$rate;p50_us=$w_p50;p90_us=$w_p90;p99_us=$w_p99;load=$(loadavg)"
    else
      fail "6: no peak throughput to halve"
    fi
  fi
  stop_server
}

# ------------------------------------------------------------------ scenario 4: the sync
sync_scenario() {
  log "4: sync of $sync_rows staged rows vs the psql pipeline ($sync_rounds round(s), bench/merge_vs_copy.sh)"
  local kvf=$work/sync.kv line r
  : >"$kvf"
  if ! ROUNDS=$sync_rounds SB_BIN=$bin BENCH_RESULTS=$kvf STAGEBRIDGE_LOG_LEVEL=info \
    bench/merge_vs_copy.sh "$sync_rows" >"$raw/s4-merge_vs_copy.txt" 2>&1; then
    fail "4: bench/merge_vs_copy.sh failed (raw/s4-merge_vs_copy.txt)"
    tail -20 "$raw/s4-merge_vs_copy.txt" >&2
  fi
  while read -r line; do
    case $line in
      round=*)
        r=$(kv round "$line")
        record 4 postgres - "$sync_rows" "$r" "$(kv sb_rps "$line")" "$(kv psql_total_rps "$line")" rows/s \
          "merge_only_rps=$(kv psql_merge_rps "$line");sb_s=$(kv sb_s "$line");psql_s=$(kv psql_total_s "$line");rss_mib=$(kv sb_rss_mib "$line");batches=$(kv batches "$line");load=$(loadavg)"
        ;;
      small=*)
        record 4mem postgres - "$sync_rows" 1 "$(kv peak_rss_mib "$line")" "$(kv small_rss_mib "$line")" MiB \
          "small_rows=$(kv small "$line");small_rps=$(kv small_rps "$line");how=$(kv how "$line")"
        ;;
    esac
  done <"$kvf"
  grep -q '^round=' "$kvf" || fail "4: no sync figure"
}

# ------------------------------------------------------------------ scenario 5: SQLite
sqlite_scenarios() {
  local dir=$work/sqlite db r c n sbr
  mkdir -p "$dir"
  db=$dir/local.db
  start_server sqlite "sqlite:$db"
  sq_reset() { sqlite3 "$db" 'PRAGMA busy_timeout=10000; DELETE FROM DemSampleTableStg; PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null; }
  sq_count() { sqlite3 "$db" 'PRAGMA busy_timeout=10000; SELECT count(*) FROM DemSampleTableStg' | tail -1; }
  for ((r = 1; r <= sqlite_rounds; r++)); do
    for c in $clients; do
      log "5: SQLite unitary Ingest vs raw insert loop, $c clients, round $r"
      sq_reset
      python3 bench/sqlite_loop.py "$db" "$seconds" 1 >"$raw/s5-loop-unitary-c$c-r$r.txt" 2>&1 || fail "5: sqlite_loop.py failed"
      local loop
      loop=$(kv rows_per_s "$(cat "$raw/s5-loop-unitary-c$c-r$r.txt")")
      sq_reset
      run_wrk "s5-wrk-c$c-r$r" "$c" "$seconds" ingest 1
      check_rows "s5-wrk-c$c-r$r" "${w_req:-0}" sq_count
      record 5 sqlite "$c" 1 "$r" "$w_rps" "$loop" req/s "p50_us=$w_p50;p99_us=$w_p99;load=$(loadavg)"
    done
    for n in $batch_sizes; do
      log "5: SQLite Ingest collections of $n vs raw loop of $n-row transactions, $batch_clients clients, round $r"
      sq_reset
      python3 bench/sqlite_loop.py "$db" "$seconds" "$n" >"$raw/s5-loop-b$n-r$r.txt" 2>&1 || fail "5: sqlite_loop.py failed"
      loop=$(kv rows_per_s "$(cat "$raw/s5-loop-b$n-r$r.txt")")
      sq_reset
      run_wrk "s5-wrk-b$n-r$r" "$batch_clients" "$seconds" ingest "$n"
      check_rows "s5-wrk-b$n-r$r" $((${w_req:-0} * n)) sq_count
      sbr=""
      [[ -n $w_rps ]] && sbr=$(calc "$w_rps * $n")
      record 5 sqlite "$batch_clients" "$n" "$r" "$sbr" "$loop" rows/s "calls_per_s=$w_rps;p50_us=$w_p50;p99_us=$w_p99;load=$(loadavg)"
    done
  done
  stop_server
}

# ------------------------------------------------------------------ scenario 7: ExecuteQuery
# query_post FILE BODY: one ExecuteQuery over HTTP; prints curl's total time (s).
query_post() {
  curl -s -o "$1" -w '%{time_total}\n' -X POST "http://127.0.0.1:$port/nl/jsp/soaprouter.jsp" \
    -H 'SOAPAction: xtk:queryDef#ExecuteQuery' -H 'Content-Type: text/xml' \
    -H "Cookie: __sessiontoken=$SB_TOKEN" -H "X-Security-Token: $SB_SECURITY" --data-binary "$2"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
query_envelope() {  # query_envelope QUERYDEF
  echo "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:urn=\"urn:xtk:queryDef\"><soapenv:Body><urn:ExecuteQuery><urn:sessiontoken/><urn:entity>$1</urn:entity></urn:ExecuteQuery></soapenv:Body></soapenv:Envelope>"
}
# query_case NAME ENVELOPE SQL CHECK_PATTERN CHECK_COUNT URL: sets q_sb_ms q_psql_ms, the
# medians of query_reps repetitions, alternated one by one (an ExecuteQuery over HTTP,
# then the same SQL in psql, timed by its \timing, which leaves out psql's start).
query_case() {
  local name=$1 body=$2 sql=$3 pattern=$4 want=$5 url=$6 i t sb_times=() psql_times=() got
  for ((i = 0; i < query_reps; i++)); do
    t=$(query_post "$work/$name.xml" "$body")
    sb_times+=("$t")
    t=$(psql -qX -o /dev/null -c '\timing on' -c "$sql" "$url" 2>>"$raw/s7-$name-psql.txt" | grep -oP '^Time: \K[0-9.]+')
    psql_times+=("$t")
  done
  got=$(grep -o "$pattern" "$work/$name.xml" | wc -l)
  if [[ $got != "$want" ]]; then
    fail "7 $name: the answer holds $got × '$pattern', not $want (raw/s7-$name.xml)"
    cp "$work/$name.xml" "$raw/s7-$name.xml"
  fi
  printf '%s\n' "${sb_times[@]}" >"$raw/s7-$name-sb.txt"
  printf '%s\n' "${psql_times[@]}" >>"$raw/s7-$name-psql.txt"
  q_sb_ms=$(printf '%s\n' "${sb_times[@]}" | median | awk '{ printf "%.3f", $1 * 1000 }')
  q_psql_ms=$(printf '%s\n' "${psql_times[@]}" | grep . | median)
  [[ -n $q_psql_ms ]] || fail "7 $name: psql printed no timing (raw/s7-$name-psql.txt)"
}

query_scenario() {
  local url r
  pg_db query
  url=$db_url
  start_server query "$url"
  log "7: $query_rows staged rows for the queries"
  psql -qX -v ON_ERROR_STOP=1 "$url" >"$raw/s7-fill.txt" 2>&1 <<SQL || fail "7: filling the staging table failed"
INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, sTestcol2, iStgSeq)
  SELECT 'q' || lpad(g::text, 8, '0'), 'value ' || g, 'other ' || g, g FROM generate_series(1, $query_rows) g;
VACUUM (ANALYZE) DemSampleTableStg;
SQL
  local select_def="<queryDef schema=\"dem:sampleTableStg\" operation=\"select\" lineCount=\"$query_select\"><select><node expr=\"@id\"/><node expr=\"@testcol1\"/><node expr=\"@testcol2\"/></select><orderBy><node expr=\"@id\"/></orderBy></queryDef>"
  local select_sql="SELECT uSampleTableId, sTestcol1, sTestcol2 FROM DemSampleTableStg ORDER BY uSampleTableId COLLATE \"C\" LIMIT $query_select"
  local count_def='<queryDef schema="dem:sampleTableStg" operation="count"/>'
  for ((r = 1; r <= rounds; r++)); do
    log "7: select of $query_select rows, ExecuteQuery vs psql, $query_reps repetitions, round $r"
    query_case "select-r$r" "$(query_envelope "$select_def")" "$select_sql" '<sampleTableStg ' "$query_select" "$url"
    record 7 postgres 1 "$query_select" "$r" "$(calc "1000 / $q_sb_ms" 2)" "$(calc "1000 / $q_psql_ms" 2)" queries/s \
      "op=select;sb_ms=$q_sb_ms;psql_ms=$q_psql_ms;rows=$query_rows;load=$(loadavg)"
    log "7: count over $query_rows rows, ExecuteQuery vs psql, $query_reps repetitions, round $r"
    query_case "count-r$r" "$(query_envelope "$count_def")" "SELECT COUNT(*) FROM DemSampleTableStg" \
      "count=\"$query_rows\"" 1 "$url"
    record 7 postgres 1 count "$r" "$(calc "1000 / $q_sb_ms" 2)" "$(calc "1000 / $q_psql_ms" 2)" queries/s \
      "op=count;sb_ms=$q_sb_ms;psql_ms=$q_psql_ms;rows=$query_rows;load=$(loadavg)"
  done
  stop_server
}

# ------------------------------------------------------------------ scenario 8: HTTPS
tls_scenario() {
  local url r c dir=$work/tls plain
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 2 \
    -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost >"$raw/s8-openssl.txt" 2>&1 ||
    { fail "8: openssl could not make a certificate (raw/s8-openssl.txt)"; return; }
  plain=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  pg_db tls
  url=$db_url
  server_extra=(--tls-cert "$dir/cert.pem" --tls-key "$dir/key.pem" --listen-http "127.0.0.1:$plain")
  server_scheme=https
  start_server tls "$url"
  local tls_port=$port
  for ((r = 1; r <= rounds; r++)); do
    for c in $tls_clients; do
      log "8: unitary Ingest over HTTPS vs HTTP (same server), $c clients, round $r"
      pg_reset "$url"
      wrk_base="https://127.0.0.1:$tls_port" run_wrk "s8-https-c$c-r$r" "$c" "$seconds" ingest 1
      check_rows "s8-https-c$c-r$r" "${w_req:-0}" pg_count "$url"
      local https_rps=$w_rps https_p99=$w_p99
      pg_reset "$url"
      wrk_base="http://127.0.0.1:$plain" run_wrk "s8-http-c$c-r$r" "$c" "$seconds" ingest 1
      check_rows "s8-http-c$c-r$r" "${w_req:-0}" pg_count "$url"
      record 8 postgres "$c" 1 "$r" "$https_rps" "$w_rps" req/s \
        "https_p99_us=$https_p99;http_p99_us=$w_p99;load=$(loadavg)"
    done
  done
  server_extra=() server_scheme=http
  stop_server
}

# ------------------------------------------------------------------ scenario 9: the cluster
# ticks PID…: CPU time (user + system, clock ticks) the processes have used so far.
ticks() {
  local t=0 p f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
    t=$((t + ${f% *} + ${f#* }))
  done
  echo "$t"
}
busy_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }  # user nice system irq softirq
wal_stats() { psql -qAtX "$pg_url" -c "SELECT wal_bytes::bigint || ' ' || wal_sync FROM pg_stat_wal"; }

# cluster_wrk NAME C BASE NODE_PIDS: run_wrk against BASE, with the CPU used meanwhile by
# the nodes, HAProxy, PostgreSQL and in all (percent of one core; 200 = both cores), and
# the WAL bytes and fsyncs per call; sets c_extra.
cluster_wrk() {
  local name=$1 c=$2 base=$3 pids=$4 pg_pids n0 h0 p0 b0 w0 t0 t1 n1 h1 p1 b1 w1 hz
  hz=$(getconf CLK_TCK)
  pg_pids=$(pgrep -x postgres | tr '\n' ' ')
  read -r w0 s0 <<<"$(wal_stats)"
  n0=$(ticks $pids) h0=$(ticks "$CLUSTER_HAPROXY_PID") p0=$(ticks $pg_pids) b0=$(busy_ticks) t0=$(now)
  wrk_base=$base run_wrk "$name" "$c" "$seconds" ingest 1
  pg_pids="$pg_pids $(pgrep -x postgres | tr '\n' ' ')"
  n1=$(ticks $pids) h1=$(ticks "$CLUSTER_HAPROXY_PID") p1=$(ticks $(tr ' ' '\n' <<<"$pg_pids" | sort -u)) b1=$(busy_ticks) t1=$(now)
  read -r w1 s1 <<<"$(wal_stats)"
  local el calls=${w_req:-0}
  el=$(calc "$t1 - $t0" 3)
  c_extra="p50_us=$w_p50;p99_us=$w_p99;cpu_nodes=$(calc "100 * ($n1 - $n0) / $hz / $el" 0);cpu_haproxy=$(calc "100 * ($h1 - $h0) / $hz / $el" 0)"
  c_extra+=";cpu_pg=$(calc "100 * ($p1 - $p0) / $hz / $el" 0);cpu_all=$(calc "100 * ($b1 - $b0) / $hz / $el" 0)"
  if ((calls > 0)); then
    c_extra+=";wal_bytes_per_call=$(calc "($w1 - $w0) / $calls" 0);fsyncs_per_s=$(calc "($s1 - $s0) / $el" 0);calls_per_fsync=$(calc "$calls / (($s1 - $s0) + 0.0001)" 1)"
  fi
}

cluster_scenario() {
  local n r c envf pid ports first
  for n in $cluster_nodes; do
    envf=$work/cluster-$n.env
    rm -f "$envf"
    log "9: starting scripts/cluster.sh with $n node(s)"
    STAGEBRIDGE_REPLICATE_SCHEDULE=off STAGEBRIDGE_UNSUBSCRIBE_SCHEDULE=off STAGEBRIDGE_CLEANUP_SCHEDULE=off \
      scripts/cluster.sh --nodes "$n" --bin "$bin" --pg-url "$pg_url" --log-level warn --dir "$work/cluster-$n" \
      --env-file "$envf" >"$raw/s9-cluster-$n.txt" 2>&1 &
    pid=$!
    local i=0
    while [[ ! -s $envf ]] && ((i++ < 1200)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if [[ ! -s $envf ]]; then
      fail "9: scripts/cluster.sh did not start $n node(s) (raw/s9-cluster-$n.txt)"
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      continue
    fi
    # shellcheck disable=SC1090
    source "$envf"
    SB_TOKEN=$CLUSTER_TOKEN SB_SECURITY=$CLUSTER_SECURITY
    export SB_TOKEN SB_SECURITY
    first=${CLUSTER_NODE_PORTS%% *}
    for ((r = 1; r <= rounds; r++)); do
      for c in $cluster_clients; do
        log "9: unitary Ingest through HAProxy to $n node(s) vs one node direct, $c clients, round $r"
        pg_reset "$CLUSTER_LOCAL_DB"
        cluster_wrk "s9-direct-n$n-c$c-r$r" "$c" "http://127.0.0.1:$first" "${CLUSTER_NODE_PIDS%% *}"
        check_rows "s9-direct-n$n-c$c-r$r" "${w_req:-0}" pg_count "$CLUSTER_LOCAL_DB"
        local direct_rps=$w_rps direct_extra=$c_extra
        pg_reset "$CLUSTER_LOCAL_DB"
        cluster_wrk "s9-haproxy-n$n-c$c-r$r" "$c" "$CLUSTER_URL" "$CLUSTER_NODE_PIDS"
        check_rows "s9-haproxy-n$n-c$c-r$r" "${w_req:-0}" pg_count "$CLUSTER_LOCAL_DB"
        record 9 postgres "$c" "$n" "$r" "$w_rps" "$direct_rps" req/s \
          "$c_extra;direct_${direct_extra//;/;direct_};load=$(loadavg)"
      done
    done
    kill "$pid" 2>/dev/null || true
    local st=0
    wait "$pid" 2>/dev/null || st=$?
    ((st == 0 || st == 143)) || fail "9: scripts/cluster.sh with $n node(s) exited with status $st (raw/s9-cluster-$n.txt)"
    for p in $CLUSTER_NODE_PIDS $CLUSTER_HAPROXY_PID; do
      if kill -0 "$p" 2>/dev/null; then
        fail "9: process $p was still running after scripts/cluster.sh exited; stopped now"
        kill "$p" 2>/dev/null || true
      fi
    done
    cp "$work/cluster-$n/"*.log "$raw/" 2>/dev/null || true
    for f in "$raw"/node*.log "$raw"/haproxy.log; do [[ -f $f ]] && mv "$f" "$raw/s9-n$n-$(basename "$f")"; done
  done
}

# ------------------------------------------------------------------ scenario 10: workflow JavaScript
# script_ingest NAME URL FILE: runs FILE with `script run`; its last log line says
# "rows=N ms=T" (timed inside the script); sets s_rps (rows/s) and s_rows.
script_ingest() {
  local name=$1 url=$2 file=$3 line
  if ! "$bin" --local-db "$url" --cloud-db "sqlite:$work/script-cloud.db" --schemas-dir examples/schemas \
    --log-level warn script run "$file" --operator bench --timeout 3600 >"$raw/$name.txt" 2>&1; then
    fail "$name: script run failed (raw/$name.txt)"
  fi
  line=$(grep -oP '^INFO rows=\S+ ms=\S+' "$raw/$name.txt" | tail -1)
  s_rows=$(kv rows "${line#INFO }") s_rps=""
  local ms
  ms=$(kv ms "${line#INFO }")
  if [[ -z $s_rows || -z $ms ]]; then
    fail "$name: the script printed no figure (raw/$name.txt)"
    s_rows=0
  else
    s_rps=$(calc "$s_rows * 1000 / ($ms + 0.001)")
  fi
}

script_scenario() {
  local url r i t0 t1 empty=() version=()
  pg_db script
  url=$db_url
  start_server script "$url"
  cat >"$work/unit.js" <<JS
var n = $script_rows, t0 = Date.now();
for (var i = 0; i < n; i++) {
  var uuid = xtk.session.Ingest(<sampleTableStg xtkschema="dem:sampleTableStg" testcol1={"script " + i} testcol2="bench"/>);
  if (uuid.length != 36) throw new Error("Ingest returned no uuid: '" + uuid + "'");
}
logInfo("rows=" + n + " ms=" + (Date.now() - t0));
JS
  cat >"$work/collection.js" <<JS
var n = $script_rows, size = $script_batch, t0 = Date.now();
for (var done = 0; done < n; done += size) {
  var c = <sampleTableStg-collection xtkschema="dem:sampleTableStg"/>;
  for (var i = 0; i < size; i++) c.appendChild(<sampleTableStg testcol1={"script " + (done + i)} testcol2="bench"/>);
  var uuids = xtk.session.Ingest(c).split(",");
  if (uuids.length != size) throw new Error("Ingest returned " + uuids.length + " uuids for " + size + " records");
}
logInfo("rows=" + n + " ms=" + (Date.now() - t0));
JS
  : >"$work/empty.js"
  for ((r = 1; r <= rounds; r++)); do
    log "10: $script_rows unitary Ingest calls from a script vs unitary SOAP Ingest at 1 connection, round $r"
    pg_reset "$url"
    script_ingest "s10-script-unit-r$r" "$url" "$work/unit.js"
    check_rows "s10-script-unit-r$r" "$s_rows" pg_count "$url"
    local unit_rps=$s_rps
    pg_reset "$url"
    run_wrk "s10-soap-unit-r$r" 1 "$seconds" ingest 1
    check_rows "s10-soap-unit-r$r" "${w_req:-0}" pg_count "$url"
    record 10 postgres 1 1 "$r" "$unit_rps" "$w_rps" rows/s "rows=$script_rows;soap_p50_us=$w_p50;load=$(loadavg)"
    log "10: collections of $script_batch from a script vs over HTTP at 1 connection, round $r"
    pg_reset "$url"
    script_ingest "s10-script-coll-r$r" "$url" "$work/collection.js"
    check_rows "s10-script-coll-r$r" "$s_rows" pg_count "$url"
    local coll_rps=$s_rps
    pg_reset "$url"
    run_wrk "s10-soap-coll-r$r" 1 "$seconds" ingest "$script_batch"
    check_rows "s10-soap-coll-r$r" "$((${w_req:-0} * script_batch))" pg_count "$url"
    record 10 postgres 1 "$script_batch" "$r" "$coll_rps" "$(calc "${w_rps:-0} * $script_batch")" rows/s \
      "rows=$script_rows;load=$(loadavg)"
  done
  log "10: an empty script run vs stagebridge --version, $script_empty_runs runs each"
  for ((i = 0; i < script_empty_runs; i++)); do
    t0=$(now)
    "$bin" --local-db "$url" --cloud-db "sqlite:$work/script-cloud.db" --schemas-dir examples/schemas --log-level warn \
      script run "$work/empty.js" --operator bench >>"$raw/s10-empty.txt" 2>&1 || fail "10: an empty script run failed"
    t1=$(now)
    empty+=("$(calc "($t1 - $t0) * 1000" 1)")
    t0=$(now)
    "$bin" --version >/dev/null
    t1=$(now)
    version+=("$(calc "($t1 - $t0) * 1000" 1)")
  done
  local e v
  e=$(printf '%s\n' "${empty[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  v=$(printf '%s\n' "${version[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  record 10 postgres 1 empty 1 "$e" "$v" ms "runs=$script_empty_runs;load=$(loadavg)"
  stop_server
}

# ------------------------------------------------------------------ run
log "bench ($mode): out $out, binary ${bin#"$root"/}, PostgreSQL $pg_url"
if want 1 || want 2 || want 3 || want 6; then pg_ingest_scenarios; fi
if want 4; then sync_scenario; fi
if want 5; then sqlite_scenarios; fi
if want 7; then query_scenario; fi
if want 8; then tls_scenario; fi
if want 9; then cluster_scenario; fi
if want 10; then script_scenario; fi
{
  echo "load_end=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "elapsed_s=$(calc "$(now) - $started" 0)"
  echo "only=$only"
} >>"$out/meta.env"

report_args=(--out "$out" --only "$only")
[[ -n $before ]] && report_args+=(--before "$before")
python3 bench/report.py "${report_args[@]}" || fail "report.py failed"
files=(report.md)
if want 1 || want 2 || want 3 || want 5; then files+=(throughput.png); fi
for f in "${files[@]}"; do
  [[ -s $out/$f ]] || fail "$out/$f is missing"
done
log "report: $out/report.md, plot: $out/throughput.png"
if [[ -s $failures ]]; then
  echo "run.sh: FAILED:" >&2
  cat "$failures" >&2
  exit 1
fi
echo "run.sh: every scenario produced its figures; report in $out/report.md"
