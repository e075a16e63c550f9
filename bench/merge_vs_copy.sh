#!/usr/bin/env bash
# merge_vs_copy.sh [ROWS] — the staging → cloud merge (ffdaReplicateStagingData) of
# ROWS staged IngestExt upserts of dem:sampleTable (DemSampleTableStg in the local
# database → DemSampleTable in the cloud one, two databases of one PostgreSQL
# server), next to a hand-written psql pipeline doing the same job: COPY out of
# staging piped into a COPY into a temporary table in the cloud, one INSERT … ON
# CONFLICT DO UPDATE, then DELETE of the merged staging rows. Half of the staged
# keys are already in the cloud (updates), half are not (inserts).
# Run it through scripts/with-postgres.sh (it needs STAGEBRIDGE_TEST_PG_URL):
#   scripts/with-postgres.sh bench/merge_vs_copy.sh 1000000
# ROUNDS (env, default 3) rounds alternate the two, each from the identical state;
# prints rows/s per round, the median ratio stagebridge/psql, stagebridge's peak
# RSS at ROWS and at ROWS/10, and checks the cloud table after every merge.
# Uses build-release/stagebridge (built if missing; SB_BIN overrides). With
# BENCH_RESULTS=FILE it also appends machine-readable key=value lines to FILE (one
# per round, then one for the ROWS/10 run): bench/run.sh's scenario 4.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
rounds=${ROUNDS:-3}
bin=${SB_BIN:-build-release/stagebridge}
: "${STAGEBRIDGE_TEST_PG_URL:?run through scripts/with-postgres.sh}"
if [[ ! -x "$bin" ]]; then
  cmake --preset release >/dev/null && ninja -C build-release stagebridge >/dev/null
fi
base=${STAGEBRIDGE_TEST_PG_URL%/*}
work=$(mktemp -d)
ldb="sbmerge_local_$$"
cdb="sbmerge_cloud_$$"
psql -qX "$STAGEBRIDGE_TEST_PG_URL" -c "CREATE DATABASE $ldb" -c "CREATE DATABASE $cdb" >/dev/null
local_url="$base/$ldb"
cloud_url="$base/$cdb"
cleanup() {
  psql -qX "$STAGEBRIDGE_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $ldb WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS $cdb WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT
export STAGEBRIDGE_LOCAL_DB=$local_url STAGEBRIDGE_CLOUD_DB=$cloud_url STAGEBRIDGE_SCHEMAS_DIR=examples/schemas
export STAGEBRIDGE_LOG_LEVEL=${STAGEBRIDGE_LOG_LEVEL:-info}
"$bin" schema apply >/dev/null
psql -qX "$local_url" -c "CREATE SEQUENCE IF NOT EXISTS SbStgSeq" >/dev/null

# Peak RSS of stagebridge: GNU time's %M when present, else the children's
# ru_maxrss read by python3 (both the kernel's exact high-water mark, in KiB).
if [[ -x /usr/bin/time ]]; then
  rss_how="/usr/bin/time %M" rss_key=gnu-time
  measure() { /usr/bin/time -f '%M' -o "$work/rss" "$@"; }
else
  rss_how="getrusage(RUSAGE_CHILDREN) via python3" rss_key=getrusage
  measure() {
    python3 -c 'import resource,subprocess,sys
rc = subprocess.call(sys.argv[2:])
open(sys.argv[1], "w").write("%d\n" % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(rc)' "$work/rss" "$@"
  }
fi

# Row g (1..n): id md5(g) as a uuid, staged values 'value g'/'other g'; the keys of
# even g are already in the cloud with 'old g'/'old2 g'.
key="md5(g::text)::uuid::text"
reset() {  # reset N: the identical starting state, vacuumed, then a checkpoint
  local n=$1
  psql -qX -v ON_ERROR_STOP=1 "$local_url" >/dev/null <<SQL
TRUNCATE DemSampleTableStg;
INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, sTestcol2, iDelete, tsLastModified, iStgSeq, iStgKey, iStgOp)
  SELECT $key, 'value ' || g, 'other ' || g, 0, now(), nextval('SbStgSeq'), 0, 1 FROM generate_series(1, $n) g;
VACUUM (ANALYZE) DemSampleTableStg;
SQL
  psql -qX -v ON_ERROR_STOP=1 "$cloud_url" >/dev/null <<SQL
TRUNCATE DemSampleTable;
INSERT INTO DemSampleTable (uSampleTableId, sTestcol1, sTestcol2)
  SELECT $key, 'old ' || g, 'old2 ' || g FROM generate_series(2, $n, 2) g;
VACUUM (ANALYZE) DemSampleTable;
CHECKPOINT;
SQL
}

# After a merge of N rows: N cloud rows holding exactly the staged values (an
# order-independent checksum), staging empty, and a sample row.
check() {  # check N WHO
  local n=$1 who=$2 got want left sample
  got=$(psql -qAtX "$cloud_url" -c "SELECT count(*) || ' ' || coalesce(sum(hashtext(uSampleTableId || '|' || sTestcol1 || '|' || sTestcol2)::bigint), 0) FROM DemSampleTable")
  want=$(psql -qAtX "$cloud_url" -c "SELECT count(*) || ' ' || sum(hashtext($key || '|value ' || g || '|other ' || g)::bigint) FROM generate_series(1, $n) g")
  left=$(psql -qAtX "$local_url" -c "SELECT count(*) FROM DemSampleTableStg")
  sample=$(psql -qAtX "$cloud_url" -c "SELECT sTestcol1 || '/' || sTestcol2 FROM DemSampleTable WHERE uSampleTableId = md5('$((n / 2 * 2))')::uuid::text")
  if [[ "$got" != "$want" || "$left" != 0 || "$sample" != "value $((n / 2 * 2))/other $((n / 2 * 2))" ]]; then
    echo "CHECK FAILED after $who: cloud (count checksum) '$got', expected '$want'; staging rows left $left; sample '$sample'" >&2
    exit 1
  fi
}

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }

run_psql() {  # sets a_merge, a_total (seconds)
  local t0 t1 t2 upto
  t0=$(now)
  upto=$(psql -qAtX "$local_url" -c "SELECT coalesce(max(iStgSeq), 0) FROM DemSampleTableStg")
  psql -qX -v ON_ERROR_STOP=1 "$cloud_url" >/dev/null <<SQL
CREATE TEMP TABLE t (LIKE DemSampleTable);
\copy t FROM PROGRAM 'psql -qX "$local_url" -c "COPY (SELECT uSampleTableId, sTestcol1, sTestcol2 FROM DemSampleTableStg WHERE iStgSeq <= $upto) TO STDOUT"'
INSERT INTO DemSampleTable SELECT * FROM t
  ON CONFLICT (uSampleTableId) DO UPDATE SET sTestcol1 = excluded.sTestcol1, sTestcol2 = excluded.sTestcol2;
SQL
  t1=$(now)
  psql -qX -v ON_ERROR_STOP=1 "$local_url" -c "DELETE FROM DemSampleTableStg WHERE iStgSeq <= $upto" >/dev/null
  t2=$(now)
  a_merge=$(secs "$t0" "$t1")
  a_total=$(secs "$t0" "$t2")
}

run_sb() {  # run_sb N: sets b_total (seconds), b_rss (MiB)
  local n=$1 t0 t1
  t0=$(now)
  if ! measure "$bin" workflow run ffdaReplicateStagingData --schema dem:sampleTable >"$work/sb.log" 2>&1; then
    echo "stagebridge workflow run failed:" >&2
    cat "$work/sb.log" >&2
    exit 1
  fi
  t1=$(now)
  b_total=$(secs "$t0" "$t1")
  b_rss=$(awk '{ printf "%.1f", $1 / 1024 }' "$work/rss")
  local want="$n staged row(s) merged: $((n - n / 2)) inserted, $((n / 2)) updated, 0 deleted, 0 rejected"
  if ! grep -qF "dem:sampleTable: $want" "$work/sb.log"; then
    echo "stagebridge did not report '$want':" >&2
    cat "$work/sb.log" >&2
    exit 1
  fi
  b_batches=$(grep -c 'staged rows merged (' "$work/sb.log" || true)
}

echo "merge of $rows staged upserts (half updates, half inserts) into DemSampleTable, PostgreSQL $(psql -qAtX "$STAGEBRIDGE_TEST_PG_URL" -c 'SHOW server_version'), $(nproc) cores"
ratios=()
ratios_merge=()
peak=0
for ((r = 1; r <= rounds; r++)); do
  reset "$rows"
  run_psql
  check "$rows" "psql round $r"
  reset "$rows"
  run_sb "$rows"
  check "$rows" "stagebridge round $r"
  ra=$(rate "$rows" "$a_merge")
  rat=$(rate "$rows" "$a_total")
  rb=$(rate "$rows" "$b_total")
  ratio=$(awk -v b="$rb" -v a="$rat" 'BEGIN { printf "%.2f", b / a }')
  ratio_m=$(awk -v b="$rb" -v a="$ra" 'BEGIN { printf "%.2f", b / a }')
  ratios+=("$ratio")
  ratios_merge+=("$ratio_m")
  peak=$(awk -v a="$peak" -v b="$b_rss" 'BEGIN { print (b > a ? b : a) }')
  echo "round $r: psql COPY+upsert $ra rows/s (${a_merge} s), +DELETE staging $rat rows/s (${a_total} s)" \
    "| stagebridge $rb rows/s (${b_total} s, batches $b_batches, peak RSS $b_rss MiB)" \
    "| ratio $ratio (vs COPY+upsert alone $ratio_m)"
  if [[ -n ${BENCH_RESULTS:-} ]]; then
    echo "round=$r psql_merge_rps=$ra psql_total_rps=$rat sb_rps=$rb psql_merge_s=$a_merge psql_total_s=$a_total" \
      "sb_s=$b_total sb_rss_mib=$b_rss batches=$b_batches" >>"$BENCH_RESULTS"
  fi
done
small=$((rows / 10))
reset "$small"
run_sb "$small"
check "$small" "stagebridge at ROWS/10"
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
echo "rows=$rows rounds=$rounds batch_rows=${STAGEBRIDGE_BATCH_ROWS:-1000000 (default)}; every merge checked (count, checksum of all values, staging empty)"
echo "median ratio stagebridge/psql: $(median "${ratios[@]}") with the staging DELETE, $(median "${ratios_merge[@]}") vs COPY+upsert alone (target >= 0.80)"
echo "stagebridge peak RSS ($rss_how): $peak MiB at $rows rows, $b_rss MiB at $small rows ($(rate "$small" "$b_total") rows/s)"
if [[ -n ${BENCH_RESULTS:-} ]]; then
  echo "small=$small small_rss_mib=$b_rss small_rps=$(rate "$small" "$b_total") peak_rss_mib=$peak rows=$rows how=$rss_key" >>"$BENCH_RESULTS"
fi
