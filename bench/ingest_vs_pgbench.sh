#!/usr/bin/env bash
# ingest_vs_pgbench.sh [SECONDS] [CLIENTS] — unitary Ingest throughput against a
# PostgreSQL local store, next to pgbench doing single-row INSERTs into the same
# staging table at the same concurrency, in the same run on the same cluster.
# Run it through scripts/with-postgres.sh (it needs STAGEBRIDGE_TEST_PG_URL):
#   scripts/with-postgres.sh bench/ingest_vs_pgbench.sh 10 32
# Prints rows/s for both and their ratio. Uses build/stagebridge (build it first,
# e.g. cmake --preset release && cmake --build --preset release, and set SB_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
clients=${2:-32}
bin=${SB_BIN:-build/stagebridge}
: "${STAGEBRIDGE_TEST_PG_URL:?run through scripts/with-postgres.sh}"
base=${STAGEBRIDGE_TEST_PG_URL%/*}
work=$(mktemp -d)
db="sbbench_$$"
psql -q "$STAGEBRIDGE_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null
local_url="$base/$db"
cleanup() {
  [[ -n "${server_pid:-}" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  psql -q "$STAGEBRIDGE_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
sb() { "$bin" --local-db "$local_url" --cloud-db "sqlite:$work/cloud.db" --schemas-dir examples/schemas --log-level warn "$@"; }
sb schema apply >/dev/null
echo secret | sb operator add bench --admin --password-stdin >/dev/null

# pgbench: the same staging table, the same columns the server writes.
cat >"$work/insert.sql" <<'SQL'
INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, sTestcol2, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp)
VALUES (gen_random_uuid()::text, 'value ' || :client_id || '-' || random(), 'bench', 0, CURRENT_TIMESTAMP, nextval('SbStgSeq'), 0, 0);
SQL
coproc SERVER { exec "$bin" --local-db "$local_url" --cloud-db "sqlite:$work/cloud.db" --schemas-dir examples/schemas \
  --log-level warn --listen 127.0.0.1:0 serve; }
server_pid=$SERVER_PID
read -r -t 30 line <&"${SERVER[0]}"
port=${line##*:}
logon=$(curl -s -X POST "http://127.0.0.1:$port/nl/jsp/soaprouter.jsp" -H 'SOAPAction: xtk:session#Logon' \
  -H 'Content-Type: text/xml' --data-binary '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:xtk:session"><soapenv:Body><urn:Logon><urn:sessiontoken/><urn:strLogin>bench</urn:strLogin><urn:strPassword>secret</urn:strPassword><urn:elemParameters/></urn:Logon></soapenv:Body></soapenv:Envelope>')
export SB_TOKEN=$(grep -o '___[0-9a-f-]*' <<<"$logon")
export SB_SECURITY=$(grep -oP "pstrSecurityToken xsi:type='xsd:string'>\K[^<]+" <<<"$logon")
# Alternate the two, ROUNDS times: the disk's fsync speed drifts on shared
# machines, so each round compares neighbours; the median ratio is reported.
rounds=${ROUNDS:-3}
ratios=()
for ((r = 1; r <= rounds; r++)); do
  pg=$(pgbench -n -f "$work/insert.sql" -c "$clients" -j 2 -T "$seconds" "$local_url" 2>&1)
  pg_tps=$(grep -oP 'tps = \K[0-9.]+' <<<"$pg" | head -1)
  before=$(psql -qAt "$local_url" -c "SELECT COUNT(*) FROM DemSampleTableStg")
  out=$(wrk -t 2 -c "$clients" -d "${seconds}s" --latency -s bench/ingest.lua "http://127.0.0.1:$port" 2>&1)
  after=$(psql -qAt "$local_url" -c "SELECT COUNT(*) FROM DemSampleTableStg")
  wrk_rps=$(grep -oP 'Requests/sec:\s+\K[0-9.]+' <<<"$out")
  bad=$(grep -oP 'non2xx=\K[0-9]+' <<<"$out")
  errors=$(grep -oP 'errors=\K[0-9]+' <<<"$out")
  p50=$(grep -oP '^\s+50%\s+\K\S+' <<<"$out")
  p99=$(grep -oP '^\s+99%\s+\K\S+' <<<"$out")
  ratio=$(python3 -c "print(f'{$wrk_rps/$pg_tps:.2f}')")
  ratios+=("$ratio")
  echo "round $r: pgbench single-row INSERT $pg_tps rows/s | stagebridge unitary Ingest $wrk_rps rows/s (p50 $p50, p99 $p99; non-200 $bad, socket errors $errors, rows staged $((after - before))) | ratio $ratio"
done
echo "clients=$clients seconds=$seconds rounds=$rounds"
echo "median ratio stagebridge/pgbench: $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n "$(((rounds + 1) / 2))p")"
