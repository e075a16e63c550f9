#!/usr/bin/env python3
"""sqlite_loop.py DB SECONDS BATCH — the raw SQLite baseline of bench/run.sh (scenario 5).

One process inserting into DemSampleTableStg of DB for SECONDS, with the settings the
server uses (WAL, synchronous=FULL, 10 s busy timeout): BATCH = 1 is one autocommit
INSERT per row; BATCH > 1 is one transaction (BEGIN IMMEDIATE … COMMIT) of BATCH rows
with a reused prepared INSERT. Each row gets its own uuid, values and change sequence,
the columns the server writes. Prints `rows=N seconds=S rows_per_s=R`.

Why Python and not the sqlite3 shell: the loop must stop at a deadline (wrk runs for
a duration), which the shell cannot express; the Python overhead per row (~10 µs) is
small next to a commit's fsync.
"""

import sqlite3
import sys
import time
import uuid


def main():
    path, seconds, batch = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA busy_timeout=10000")
    seq = db.execute("SELECT coalesce(max(iStgSeq), 0) FROM DemSampleTableStg").fetchone()[0]
    sql = ("INSERT INTO DemSampleTableStg (uSampleTableId, sTestcol1, sTestcol2, iDelete, tsLastModified, "
           "iStgSeq, iStgKey, iStgOp) VALUES (?, ?, 'bench', 0, CURRENT_TIMESTAMP, ?, 0, 0)")
    rows = 0
    start = time.monotonic()
    deadline = start + seconds
    while time.monotonic() < deadline:
        if batch <= 1:
            seq += 1
            db.execute(sql, (str(uuid.uuid4()), "value l-%d" % seq, seq))
            rows += 1
            continue
        params = []
        for _ in range(batch):
            seq += 1
            params.append((str(uuid.uuid4()), "value l-%d" % seq, seq))
        db.execute("BEGIN IMMEDIATE")
        db.executemany(sql, params)
        db.execute("COMMIT")
        rows += batch
    elapsed = time.monotonic() - start
    db.close()
    print("rows=%d seconds=%.3f rows_per_s=%.1f" % (rows, elapsed, rows / elapsed))


if __name__ == "__main__":
    main()
