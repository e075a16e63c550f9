#!/usr/bin/env bash
# ingest_vs_pgbench.sh [SECONDS] [CLIENTS] — scenario 1 of bench/run.sh alone:
# unitary Ingest throughput against a PostgreSQL local store, next to pgbench doing
# single-row INSERTs into the same staging table at the same concurrency,
# alternated ROUNDS times (env, default 3) in the same run on the same cluster.
#   bench/ingest_vs_pgbench.sh 10 32                          # own throwaway cluster
#   scripts/with-postgres.sh bench/ingest_vs_pgbench.sh 10 32 # same, the old way
# CLIENTS may be a list ("8 32"). Prints the summary of the report (median ratio,
# p50/p99). Measures SB_BIN, else the release build (built when needed). The full
# harness, every scenario and the report: bench/run.sh (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
clients=${2:-32}
out=$(mktemp -d "${TMPDIR:-/tmp}/sb-ingest-XXXXXX")
trap 'rm -rf "$out"' EXIT
status=0
bench/run.sh --only 1 --seconds "$seconds" --clients "$clients" --rounds "${ROUNDS:-3}" --out "$out" || status=$?
sed -n '/^## Summary/,/^## Throughput/p' "$out/report.md" | sed '$d'
sed -n '/^## Every measurement/,$p' "$out/report.md"
exit "$status"
