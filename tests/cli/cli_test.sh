#!/usr/bin/env bash
# cli_test.sh BACKEND — end-to-end test of the stagebridge executable on one
# backend (sqlite | postgres): schema apply with examples/schemas creates the
# expected tables (checked in the database catalog), is idempotent, adds a column
# for a new attribute, applies nothing for an invalid schema; exit codes; serve
# answers ping and stops cleanly on SIGTERM.
# Needs: STAGEBRIDGE_BIN (the executable), STAGEBRIDGE_SOURCE_DIR, and for postgres
# STAGEBRIDGE_TEST_PG_URL (scripts/with-postgres.sh sets it).
set -uo pipefail
backend=$1
bin=${STAGEBRIDGE_BIN:?}
src=${STAGEBRIDGE_SOURCE_DIR:?}
work=$(mktemp -d)
passed=0
failed=0
cleanup() {
  if [[ -n "${pg_dbs:-}" ]]; then
    for db in $pg_dbs; do psql -q "$STAGEBRIDGE_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; done
  fi
  rm -rf "$work"
}
trap cleanup EXIT

check() {  # check DESCRIPTION COMMAND... — passes when the command succeeds
  local what=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $what" >&2
  fi
}

new_db() {  # new_db NAME → prints a URL of a fresh database
  if [[ $backend == sqlite ]]; then
    echo "sqlite:$work/$1.db"
  else
    : "${STAGEBRIDGE_TEST_PG_URL:?STAGEBRIDGE_TEST_PG_URL is not set: run through scripts/with-postgres.sh}"
    local name="sbcli_$$_$1"
    psql -q "$STAGEBRIDGE_TEST_PG_URL" -c "CREATE DATABASE $name" >/dev/null || exit 1
    pg_dbs="${pg_dbs:-} $name"
    echo "${STAGEBRIDGE_TEST_PG_URL%/*}/$name"
  fi
}

sql() {  # sql URL QUERY → rows, '|'-separated
  local url=$1 query=$2
  if [[ $backend == sqlite ]]; then
    sqlite3 "${url#sqlite:}" "$query"
  else
    psql -qAt "$url" -c "$query"
  fi
}

columns() {  # columns URL TABLE → lower-case column names, sorted, space-separated
  if [[ $backend == sqlite ]]; then
    sql "$1" "select lower(name) from pragma_table_info('$2') order by 1" | tr '\n' ' '
  else
    sql "$1" "select column_name from information_schema.columns where table_name = lower('$2') order by 1" | tr '\n' ' '
  fi
}

local_url=$(new_db local)
cloud_url=$(new_db cloud)
sb() { "$bin" --local-db "$local_url" --cloud-db "$cloud_url" "$@"; }

# --- exit codes and help
check "--help exits 0" "$bin" --help >/dev/null
check "schema apply --help exits 0" "$bin" schema apply --help >/dev/null
"$bin" --no-such-flag >/dev/null 2>&1
check "unknown flag exits 2" test $? -eq 2
"$bin" >/dev/null 2>&1
check "no subcommand exits 2" test $? -eq 2
"$bin" --local-db mysql://x schema list >/dev/null 2>"$work/err"
check "bad database URL exits 2" test $? -eq 2
check "bad URL message names the key" grep -q "local_db (flag --local-db)" "$work/err"

# --- schema apply with examples/schemas
out=$(sb --schemas-dir "$src/examples/schemas" schema apply 2>&1)
check "schema apply exits 0" test $? -eq 0
check "apply reports the cloud table" grep -qE "^cloud +dem:sampleTable +DemSampleTable +created" <<<"$out"
check "apply reports the staging table" grep -qE "^local +dem:sampleTableStg +DemSampleTableStg +created" <<<"$out"
check "cloud DemSampleTable columns" test "$(columns "$cloud_url" DemSampleTable)" = "stestcol1 stestcol2 usampletableid "
check "staging DemSampleTableStg columns" test "$(columns "$local_url" DemSampleTableStg)" = \
  "idelete istgkey istgop istgseq stestcol1 stestcol2 tslastmodified usampletableid "
check "no staging table in the cloud" test -z "$(columns "$cloud_url" DemSampleTableStg)"
check "no cloud table in local" test -z "$(columns "$local_url" DemSampleTable)"
check "built-in recipient staged" test -n "$(columns "$local_url" NmsRecipientStg)"
# The user's query, unquoted and mixed case, works as written.
sql "$cloud_url" "insert into DemSampleTable (uSampleTableId, sTestcol1) values ('ABC12345', 'x')" >/dev/null
check "select sTestcol1 from DemSampleTable works" test "$(sql "$cloud_url" "select sTestcol1 from DemSampleTable")" = "x"

out=$(sb --schemas-dir "$src/examples/schemas" schema apply 2>&1)
check "second apply exits 0" test $? -eq 0
check "second apply changes nothing" grep -q "database structure up to date" <<<"$out"
check "second apply lists no creation" test -z "$(grep -E 'created|added' <<<"$out")"

# --- an added attribute becomes a column
mkdir -p "$work/schemas"
sed 's|<attribute name="testcol2"[^>]*/>|&<attribute name="testcol3" type="long"/>|' \
  "$src/examples/schemas/dem_sampleTable.xml" >"$work/schemas/dem_sampleTable.xml"
out=$(sb --schemas-dir "$work/schemas" schema apply 2>&1)
check "apply with testcol3 exits 0" test $? -eq 0
check "apply reports the added column" grep -q "added column(s) iTestcol3" <<<"$out"
check "cloud has iTestcol3" grep -q "itestcol3" <<<"$(columns "$cloud_url" DemSampleTable)"
check "staging has iTestcol3" grep -q "itestcol3" <<<"$(columns "$local_url" DemSampleTableStg)"
check "cloud row survived" test "$(sql "$cloud_url" "select sTestcol1 from DemSampleTable where uSampleTableId = 'ABC12345'")" = "x"

# --- an invalid schema applies nothing
cat >"$work/schemas/dem_other.xml" <<'XML'
<srcSchema namespace="dem" name="other"><element name="other" autopk="true" autouuid="true" autoStg="true"
  dataSource="nms:extAccount:ffda"><attribute name="a" type="strin"/></element></srcSchema>
XML
sed -i 's|<attribute name="testcol3"[^>]*/>|&<attribute name="testcol4"/>|' "$work/schemas/dem_sampleTable.xml"
sb --schemas-dir "$work/schemas" schema apply >"$work/out" 2>"$work/err"
check "invalid schema exits 1" test $? -eq 1
check "error names file, element and fault" \
  grep -q "dem_other.xml: element 'other', attribute 'a': unknown type 'strin'" "$work/err"
check "nothing applied: no testcol4" test -z "$(grep stestcol4 <<<"$(columns "$cloud_url" DemSampleTable)")"
check "nothing applied: no DemOther" test -z "$(columns "$cloud_url" DemOther)"
rm "$work/schemas/dem_other.xml"

# --- disabling staging: refused while rows are pending, then forced
sql "$local_url" "insert into DemSampleTableStg (uSampleTableId) values ('pending1')" >/dev/null
sed -i 's/autoStg="true"/autoStg="false"/' "$work/schemas/dem_sampleTable.xml"
sb --schemas-dir "$work/schemas" schema apply >"$work/out" 2>"$work/err"
check "unstaging with pending rows exits 1" test $? -eq 1
check "refusal names table and count" grep -q "DemSampleTableStg still holds 1 unmerged row" "$work/err"
check "staging table kept" test -n "$(columns "$local_url" DemSampleTableStg)"
out=$(sb --schemas-dir "$work/schemas" schema apply --force 2>&1)
check "forced unstaging exits 0" test $? -eq 0
check "staging table dropped" test -z "$(columns "$local_url" DemSampleTableStg)"

# --- schema show / list
out=$(sb --schemas-dir "$src/examples/schemas" schema show dem:sampleTable)
check "show prints the schema" grep -q '<schema namespace="dem" name="sampleTable"' <<<"$out"
check "show prints the derived staging schema" grep -q 'stgSrcSchema="dem:sampleTable"' <<<"$out"
check "show hides internal columns" test -z "$(grep iStgSeq <<<"$out")"
check "show --internal shows them" grep -q iStgSeq <<<"$(sb --schemas-dir "$src/examples/schemas" schema show dem:sampleTable --internal)"
sb schema show dem:nothing >/dev/null 2>&1
check "show of an unknown schema exits 1" test $? -eq 1
check "list shows the staging schema" grep -qE "^dem:sampleTableStg +DemSampleTableStg +local" <<<"$(sb --schemas-dir "$src/examples/schemas" schema list)"

# --- workflow list / run / history
wsb() { "$bin" --local-db "$local_url" --cloud-db "$cloud_url" --schemas-dir "$src/examples/schemas" "$@"; }
wsb schema apply >/dev/null
out=$(wsb workflow list)
check "workflow list names both workflows with their schedules" \
  grep -qE "^ffdaReplicateStagingData +every 1h +never" <<<"$out"
check "workflow list names cleanup" grep -qE "^cleanup +daily 04:00" <<<"$out"
out=$(wsb workflow run nosuchflow 2>&1)
check "workflow run of an unknown workflow exits 1" test $? -eq 1
check "…naming the known ones" \
  grep -q "Unknown workflow 'nosuchflow' (known: ffdaReplicateStagingData, ffdaUnsubscribe, cleanup)" <<<"$out"
check "workflow list names ffdaUnsubscribe" grep -qE "^ffdaUnsubscribe +every 1h +never" <<<"$(wsb workflow list)"
out=$(wsb workflow run ffdaReplicateStagingData --schema nms:nothing 2>&1)
check "workflow run of an unknown schema exits 1" test $? -eq 1
check "…with SYN-300001" grep -q "SYN-300001 The schema 'nms:nothing' does not exist" <<<"$out"
out=$(wsb workflow run ffdaReplicateStagingData --schema dem:sampleTable)
check "workflow run of an empty staging ends done" grep -q "ffdaReplicateStagingData run 1: done (trigger cli" <<<"$out"
out=$(wsb workflow run cleanup)
check "workflow run cleanup ends done" test $? -eq 0
out=$(wsb workflow history ffdaReplicateStagingData --json)
check "workflow history --json lists the run" grep -q '"id":1,"workflow":"ffdaReplicateStagingData","trigger":"cli"' <<<"$out"
wsb workflow history nosuchflow >/dev/null 2>&1
check "workflow history of an unknown workflow exits 2" test $? -eq 2
out=$(wsb workflow run ffdaUnsubscribe)
check "workflow run ffdaUnsubscribe with nothing staged ends done" \
  grep -qE "^  nms:subscription: 0 request\(s\) applied: 0 subscribed" <<<"$out"

# --- service add / list
out=$(wsb service add news --label "Monthly news")
check "service add exits 0 and says what it added" \
  grep -qF "service 'news' added (label 'Monthly news', channel email)" <<<"$out"
wsb service add alerts --channel mobile >/dev/null
check "service add --channel mobile exits 0" test $? -eq 0
out=$(wsb service add news 2>&1)
check "service add of an existing name exits 1" test $? -eq 1
check "…saying it exists" grep -qF "The service 'news' already exists." <<<"$out"
out=$(wsb service add "a,b" 2>&1)
check "service add of a list exits 1" test $? -eq 1
out=$(wsb service add x --channel pigeon 2>&1)
check "service add of an unknown channel exits 1 naming the channels" grep -qF "Unknown channel 'pigeon' (one of: email, mobile" <<<"$out"
out=$(wsb service list)
check "service list shows both services" grep -qE "^news +Monthly news +email +0$" <<<"$out"
check "…with their channel" grep -qE "^alerts +alerts +mobile +0$" <<<"$out"
out=$("$bin" --local-db "$local_url" --cloud-db "$(new_db emptycloud)" service list 2>&1)
check "service list before schema apply exits 1 asking for it" grep -qF "run \`stagebridge schema apply\` first" <<<"$out"

# --- serve: ping answers OK, SIGTERM stops with exit 0
coproc SERVER { exec "$bin" --local-db "$local_url" --cloud-db "$cloud_url" --listen 127.0.0.1:0 serve 2>"$work/serve.err"; }
server_pid=$SERVER_PID
line=""
read -r -t 20 line <&"${SERVER[0]}"
check "serve prints its address" grep -qE "^listening on 127.0.0.1:[0-9]+$" <<<"$line"
port=${line##*:}
check "ping answers OK" test "$(curl -s "http://127.0.0.1:$port/nl/jsp/ping.jsp" | head -1)" = "OK"
check "/r/test answers redir OK" grep -q "<redir status='OK'" <<<"$(curl -s "http://127.0.0.1:$port/r/test")"
# curl sends "Expect: 100-continue" with a body over 1 MiB and waits for the 100
# (a second, then sends anyway): the server answers it at once; a body over the
# limit gets its 413 instead, and curl never sends it.
head -c 2000000 /dev/zero | tr '\0' x >"$work/big.xml"
out=$(curl -sv -o "$work/big.out" -H "Content-Type: text/xml" -H "SOAPAction: xtk:session#Ingest" \
  --data-binary @"$work/big.xml" "http://127.0.0.1:$port/nl/jsp/soaprouter.jsp" 2>&1)
check "a 2 MB POST from curl (Expect: 100-continue) gets 100 Continue" grep -q "^< HTTP/1.1 100 Continue" <<<"$out"
check "…then its answer: the body read, a fault for what is not XML" grep -q "SOP-330001" "$work/big.out"
head -c 34000000 /dev/zero | tr '\0' x >"$work/huge.xml"
out=$(curl -sv -o /dev/null -H "Content-Type: text/xml" --data-binary @"$work/huge.xml" \
  "http://127.0.0.1:$port/nl/jsp/soaprouter.jsp" 2>&1)
check "a 34 MB POST from curl gets 413 at once" grep -q "^< HTTP/1.1 413" <<<"$out"
check "…without a 100 Continue" test "$(grep -c "100 Continue" <<<"$out")" -eq 0
rm -f "$work/big.xml" "$work/huge.xml"
kill -TERM "$server_pid"
wait "$server_pid"
check "serve exits 0 on SIGTERM" test $? -eq 0

echo "cli_test[$backend]: $passed passed, $failed failed"
test "$failed" -eq 0
