#!/usr/bin/env python3
"""report.py — writes the benchmark report of bench/run.sh.

  report.py --out DIR [--only 1,2,3,4,5,6,7,8] [--before OLD_DIR]
  report.py --peak RESULTS_TSV

Reads DIR/results.tsv (one line per measurement and round), DIR/meta.env and
DIR/failures.txt; writes DIR/report.md (summary table with ratio, target, met or
missed; latency; per-round figures), DIR/clients.dat and DIR/batch.dat, and plots
them into DIR/throughput.png with gnuplot (DIR/throughput.gp, written here). With --before, the
figures of an earlier run (OLD_DIR/results.tsv) stand beside this run's.
Exits 1 (after writing the report) when a selected scenario has no figure.
--peak prints "RPS CLIENTS": scenario 1's best median throughput and its clients.
"""

import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

TITLES = {
    "1": "unitary Ingest vs pgbench single-row INSERT",
    "2": "Ingest collection vs psql `\\copy`",
    "3": "unitary IngestExt upsert vs pgbench `INSERT … ON CONFLICT DO UPDATE`",
    "4": "sync `ffdaReplicateStagingData` vs psql pipeline (COPY → temp table → upsert → DELETE staging)",
    "4m": "sync vs psql COPY → temp table → upsert alone (no staging DELETE)",
    "4mem": "sync peak RSS, 1/10 of the rows vs all of them",
    "5": "SQLite: unitary Ingest vs raw insert loop (autocommit)",
    "5b": "SQLite: Ingest collection vs raw loop of one transaction per batch",
    "6": "unitary Ingest latency at half the peak throughput",
    "7": "ExecuteQuery over HTTP vs the same SQL in psql",
    "8": "unitary Ingest over HTTPS vs over HTTP (one server, listen + listen_http)",
    "9": "unitary Ingest through HAProxy to N nodes (one local database) vs one node direct",
    "10": "workflow JavaScript Ingest in process (`script run`) vs SOAP Ingest over HTTP, 1 connection",
    "10e": "an empty `script run` (process, databases, engine) vs `stagebridge --version`",
}
# scenario → (target, "min" when higher is better / "max" when lower is better)
TARGETS = {"10": (1.0, "min"), "1": (1.0, "min"), "2": (0.7, "min"), "3": (1.0, "min"), "4": (0.8, "min"), "4mem": (1.5, "max")}


def num(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def fmt_n(v, unit=""):
    if v is None:
        return "—"
    s = "{:,.0f}".format(v).replace(",", " ") if v >= 100 else "{:.1f}".format(v)
    return s + (" " + unit if unit else "")


def fmt_ms(us):
    v = num(us)
    if v is None:
        return "—"
    return "{:.1f} ms".format(v / 1000.0) if v >= 1000 else "{:.2f} ms".format(v / 1000.0)


def extra_of(s):
    out = {}
    for part in (s or "").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def load_results(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            vals = line.rstrip("\n").split("\t")
            if len(vals) < len(header):
                vals += [""] * (len(header) - len(vals))
            r = dict(zip(header, vals))
            r["extra"] = extra_of(r.get("extra"))
            rows.append(r)
    return rows


def load_meta(path):
    meta = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                if "=" in line:
                    k, v = line.rstrip("\n").split("=", 1)
                    meta[k] = v
    return meta


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


class Group:
    """One scenario × parameters, over its rounds."""

    def __init__(self, key, rows):
        self.key = key
        self.rows = rows
        self.sb = median(num(r["sb"]) for r in rows)
        self.base = median(num(r["base"]) for r in rows)
        ratios = [num(r["sb"]) / num(r["base"]) for r in rows if num(r["sb"]) and num(r["base"])]
        self.ratio = median(ratios)
        self.ratios = ratios
        self.unit = rows[0]["unit"]

    def x(self, name):
        return median(num(r["extra"].get(name)) for r in self.rows)


def group(rows):
    groups = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["backend"], r["clients"], r["batch"]), []).append(r)

    def sort_key(k):
        return (k[0], k[1], num(k[3]) or 0, num(k[2]) or 0)

    return [Group(k, groups[k]) for k in sorted(groups, key=sort_key)]


def peak(rows):
    best = None
    for g in group(rows):
        if g.key[0] == "1" and g.sb and (best is None or g.sb > best[0]):
            best = (g.sb, g.key[2])
    return best


def verdict(scn, ratio):
    if scn not in TARGETS:
        return "—", "for the record"
    target, how = TARGETS[scn]
    label = ("≥ %.1f×" % target) if how == "min" else ("≤ %.1f×" % target)
    if ratio is None:
        return label, "**no figure**"
    ok = ratio >= target if how == "min" else ratio <= target
    return label, "met" if ok else "**missed**"


def summary_rows(groups, meta):
    """(scenario id, label, parameters, stagebridge, baseline, ratio, target, result, group)."""
    out = []
    for g in groups:
        scn, backend, clients, batch = g.key
        lat = ""
        if g.x("p50_us") is not None and scn in ("1", "3", "5"):
            lat = " (p50 %s, p99 %s)" % (fmt_ms(g.x("p50_us")), fmt_ms(g.x("p99_us")))
        ratio = "%.2f×" % g.ratio if g.ratio is not None else "—"
        if scn == "1":
            target, res = verdict("1", g.ratio)
            out.append(("1", TITLES["1"], "%s client%s" % (clients, "" if clients == "1" else "s"),
                        fmt_n(g.sb, "req/s") + lat, fmt_n(g.base, "tx/s"), ratio, target, res, g))
        elif scn == "2":
            target, res = verdict("2", g.ratio)
            out.append(("2", TITLES["2"], "%s records/call, %s clients" % (batch, clients),
                        "%s (%s calls/s)" % (fmt_n(g.sb, "rows/s"), fmt_n(g.x("calls_per_s"))),
                        fmt_n(g.base, "rows/s"), ratio, target, res, g))
        elif scn == "3":
            target, res = verdict("3", g.ratio)
            keys = g.rows[0]["extra"].get("keys", "?")
            out.append(("3", TITLES["3"], "%s clients, %s keys" % (clients, fmt_n(num(keys))),
                        fmt_n(g.sb, "req/s") + lat, fmt_n(g.base, "tx/s"), ratio, target, res, g))
        elif scn == "4":
            target, res = verdict("4", g.ratio)
            sb_s, ps_s = g.x("sb_s"), g.x("psql_s")
            out.append(("4", TITLES["4"], "%s staged upserts (½ updates), %d round(s)" % (fmt_n(num(batch)), len(g.rows)),
                        "%s (%.1f s)" % (fmt_n(g.sb, "rows/s"), sb_s or 0), "%s (%.1f s)" % (fmt_n(g.base, "rows/s"), ps_s or 0),
                        ratio, target, res, g))
            mo = [num(r["extra"].get("merge_only_rps")) for r in g.rows]
            rm = [num(r["sb"]) / m for r, m in zip(g.rows, mo) if m and num(r["sb"])]
            out.append(("4", TITLES["4m"], "same runs", fmt_n(g.sb, "rows/s"), fmt_n(median(mo), "rows/s"),
                        "%.2f×" % median(rm) if rm else "—", "—", "for the record", g))
        elif scn == "4mem":
            small = g.rows[0]["extra"].get("small_rows", "?")
            target, res = verdict("4mem", g.ratio)
            out.append(("4", TITLES["4mem"], "%s → %s rows" % (fmt_n(num(small)), fmt_n(num(batch))),
                        "%s MiB at %s rows" % (fmt_n(g.sb), fmt_n(num(batch))),
                        "%s MiB at %s rows" % (fmt_n(g.base), fmt_n(num(small))), ratio, target + " (flat)", res, g))
        elif scn == "5":
            if batch == "1":
                out.append(("5", TITLES["5"], "%s client%s (loop: 1 process)" % (clients, "" if clients == "1" else "s"),
                            fmt_n(g.sb, "req/s") + lat, fmt_n(g.base, "rows/s"), ratio, "—", "for the record", g))
            else:
                out.append(("5", TITLES["5b"], "%s records/call, %s clients (loop: 1 process)" % (batch, clients),
                            "%s (%s calls/s)" % (fmt_n(g.sb, "rows/s"), fmt_n(g.x("calls_per_s"))),
                            fmt_n(g.base, "rows/s"), ratio, "—", "for the record", g))
        elif scn == "7":
            op = g.rows[0]["extra"].get("op", "?")
            rows = fmt_n(num(g.rows[0]["extra"].get("rows")))
            what = ("select of %s rows (ordered by @id) out of %s" % (fmt_n(num(batch)), rows)) if op == "select" \
                else "count over %s rows" % rows
            out.append(("7", TITLES["7"], "%s, median of %d round(s)" % (what, len(g.rows)),
                        "%s ms" % fmt_n(g.x("sb_ms")), "%s ms" % fmt_n(g.x("psql_ms")), ratio, "—", "for the record", g))
        elif scn == "8":
            out.append(("8", TITLES["8"], "%s clients" % clients,
                        "%s (p99 %s)" % (fmt_n(g.sb, "req/s"), fmt_ms(g.x("https_p99_us"))),
                        "%s (p99 %s)" % (fmt_n(g.base, "req/s"), fmt_ms(g.x("http_p99_us"))), ratio, "—",
                        "for the record", g))
        elif scn == "9":
            out.append(("9", TITLES["9"], "%s node%s, %s clients" % (batch, "" if batch == "1" else "s", clients),
                        "%s (p99 %s)" % (fmt_n(g.sb, "req/s"), fmt_ms(g.x("p99_us"))),
                        "%s (p99 %s)" % (fmt_n(g.base, "req/s"), fmt_ms(g.x("direct_p99_us"))), ratio, "—",
                        "for the record", g))
        elif scn == "10":
            if batch == "empty":
                out.append(("10", TITLES["10e"], "median of %s runs" % g.rows[0]["extra"].get("runs", "?"),
                            "%s ms" % fmt_n(g.sb), "%s ms" % fmt_n(g.base), ratio, "—", "for the record", g))
            else:
                target, res = verdict("10", g.ratio)
                what = "unitary calls" if batch == "1" else "collections of %s" % batch
                out.append(("10", TITLES["10"], "%s, %s rows per script run" % (
                    what, fmt_n(num(g.rows[0]["extra"].get("rows")))), fmt_n(g.sb, "rows/s"),
                    fmt_n(g.base, "rows/s"), ratio, target, res, g))
        elif scn == "6":
            out.append(("6", TITLES["6"],
                        "%s connections paced to %s req/s = ½ of the peak %s req/s" % (
                            clients, fmt_n(g.x("target_rps")), fmt_n(g.base)),
                        "p50 %s, p90 %s, p99 %s at %s" % (fmt_ms(g.x("p50_us")), fmt_ms(g.x("p90_us")),
                                                          fmt_ms(g.x("p99_us")), fmt_n(g.sb, "req/s")),
                        "—", "—", "—", "for the record", g))
    return out


def write_dat(out_dir, groups, meta):
    by = {g.key: g for g in groups}
    clients = sorted({num(g.key[2]) for g in groups if g.key[0] in ("1", "3", "5") and g.key[3] == "1"} - {None})
    with open(os.path.join(out_dir, "clients.dat"), "w") as f:
        f.write("# clients sb_ingest_pg pgbench_insert sb_upsert_pg pgbench_upsert sb_ingest_sqlite sqlite_loop\n")
        for c in clients:
            cs = "%d" % c
            vals = []
            for scn, backend in (("1", "postgres"), ("3", "postgres"), ("5", "sqlite")):
                g = by.get((scn, backend, cs, "1"))
                vals += [g.sb if g else None, g.base if g else None]
            f.write(cs + " " + " ".join("%.1f" % v if v else "-" for v in vals) + "\n")
    bc = meta.get("batch_clients", "8")
    batches = sorted({num(g.key[3]) for g in groups if g.key[0] in ("2", "5")} - {None})
    with open(os.path.join(out_dir, "batch.dat"), "w") as f:
        f.write("# batch sb_pg copy_or_pgbench sb_sqlite sqlite_loop  (%s clients; batch 1 = unitary)\n" % bc)
        for b in batches:
            bs = "%d" % b
            pg = by.get(("2", "postgres", bc, bs)) if b > 1 else by.get(("1", "postgres", bc, "1"))
            sq = by.get(("5", "sqlite", bc, bs))
            vals = [pg.sb if pg else None, pg.base if pg else None, sq.sb if sq else None, sq.base if sq else None]
            f.write(bs + " " + " ".join("%.1f" % v if v else "-" for v in vals) + "\n")


CLIENT_SERIES = [  # column in clients.dat, title, style
    (2, "stagebridge Ingest (PostgreSQL)", 'pt 7 lc rgb "#1f77b4"'),
    (3, "pgbench single-row INSERT", 'pt 6 dt 2 lc rgb "#1f77b4"'),
    (4, "stagebridge IngestExt upsert (PostgreSQL)", 'pt 5 lc rgb "#2ca02c"'),
    (5, "pgbench INSERT … ON CONFLICT", 'pt 4 dt 2 lc rgb "#2ca02c"'),
    (6, "stagebridge Ingest (SQLite)", 'pt 9 lc rgb "#d62728"'),
    (7, "raw SQLite autocommit loop (1 process)", 'pt 8 dt 2 lc rgb "#d62728"'),
]
BATCH_SERIES = [
    (2, "stagebridge Ingest (PostgreSQL)", 'pt 7 lc rgb "#1f77b4"'),
    (3, "psql \\\\copy (batch 1: pgbench INSERT)", 'pt 6 dt 2 lc rgb "#1f77b4"'),
    (4, "stagebridge Ingest (SQLite)", 'pt 9 lc rgb "#d62728"'),
    (5, "raw SQLite loop, 1 transaction per batch", 'pt 8 dt 2 lc rgb "#d62728"'),
]


def present_columns(path):
    cols = set()
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            for i, v in enumerate(line.split(), start=1):
                if i > 1 and v != "-":
                    cols.add(i)
    return cols


def plot(out_dir):
    """Writes OUT/throughput.gp (only the series this run measured) and runs gnuplot."""
    png = os.path.join(out_dir, "throughput.png")
    if os.path.exists(png):
        os.remove(png)
    panels = []
    for dat, series, title, xlabel, ylabel, logx in (
            ("clients.dat", CLIENT_SERIES, "unitary calls vs concurrent clients",
             "concurrent clients (keep-alive connections / pgbench clients)", "requests/s = rows/s (log)", 2),
            ("batch.dat", BATCH_SERIES, "rows/s vs records per call",
             "records per call (collection size; 1 = unitary Ingest)", "rows/s (log)", 10)):
        cols = present_columns(os.path.join(out_dir, dat))
        plots = ['"%s" using 1:%d with linespoints lw 2 %s title "%s"' % (dat, c, style, t)
                 for c, t, style in series if c in cols]
        if plots:
            panels.append('set title "%s"\nset xlabel "%s"\nset ylabel "%s"\nset logscale x %d\nplot %s\n'
                          % (title, xlabel, ylabel, logx, ", \\\n     ".join(plots)))
    if not panels:
        return None  # a run of scenarios 4/6 alone: nothing to plot
    gp = os.path.join(out_dir, "throughput.gp")
    with open(gp, "w") as f:
        f.write("# throughput.gp — written by bench/report.py; run from this directory: gnuplot throughput.gp\n")
        f.write('set terminal pngcairo size %d,640 font "sans,10"\n' % (700 * len(panels)))
        f.write('set output "throughput.png"\nset datafile missing "-"\nset key bmargin center horizontal maxcols 2 width -6 font ",9"\n')
        f.write("set bmargin 7\n")
        f.write("set grid\nset logscale y\nset offsets graph 0.05, graph 0.05, 0, 0\n")
        f.write('set multiplot layout 1,%d title "stagebridge throughput next to its raw baselines '
                '(same run, same machine)"\n' % len(panels))
        f.write("\n".join(panels))
        f.write("unset multiplot\n")
    r = subprocess.run(["gnuplot", "throughput.gp"], cwd=out_dir, capture_output=True, text=True)
    if r.returncode != 0 or not os.path.exists(png):
        return "gnuplot failed: " + (r.stderr.strip() or "no PNG written")
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--only", default="1,2,3,4,5,6,7,8,9")
    ap.add_argument("--before")
    ap.add_argument("--peak")
    a = ap.parse_args()
    if a.peak:
        p = peak(load_results(a.peak))
        if p:
            print("%.1f %s" % p)
        return 0
    out_dir = a.out
    rows = load_results(os.path.join(out_dir, "results.tsv"))
    meta = load_meta(os.path.join(out_dir, "meta.env"))
    fail_path = os.path.join(out_dir, "failures.txt")
    failures = [l.rstrip("\n") for l in open(fail_path)] if os.path.exists(fail_path) else []
    groups = group(rows)
    summary = summary_rows(groups, meta)

    new_failures = []
    for scn in a.only.split(","):
        scn = scn.strip()
        have = [g for g in groups if g.key[0] == scn or (scn == "4" and g.key[0] == "4mem")]
        if not have or any(g.sb is None or (g.base is None and g.key[0] != "6") for g in have):
            new_failures.append("scenario %s: no figure (or no baseline figure) in results.tsv" % scn)
    write_dat(out_dir, groups, meta)
    err = plot(out_dir)
    if err:
        new_failures.append(err)
    if new_failures:
        with open(fail_path, "a") as f:
            for l in new_failures:
                f.write(l + "\n")
        failures += new_failures

    before = {}
    if a.before:
        for g in group(load_results(os.path.join(a.before, "results.tsv"))):
            before[g.key] = g

    quick = meta.get("mode") == "quick"
    L = []
    L.append("# stagebridge benchmark report")
    L.append("")
    L.append("Produced by `bench/run.sh%s` on %s (method: `docs/benchmarks.md`); "
             "every figure sits next to its raw baseline measured in the same run, alternated round by round."
             % (" --quick" if quick else "", meta.get("date", "?")))
    L.append("")
    if quick:
        L.append("> **Quick mode**: tiny durations and counts, possibly on a sanitizer build. It checks that the harness "
                 "works; its figures are not speed measurements and its met/missed column means nothing.")
        L.append("")
    L.append("| | |")
    L.append("|---|---|")
    for k, label in (("commit", "commit"), ("binary", "binary"), ("build_type", "build type"), ("cpu", "CPU"),
                     ("cores", "cores"), ("memory", "memory"), ("postgres", "PostgreSQL"), ("pg_settings", "PostgreSQL settings"),
                     ("sqlite", "SQLite"), ("wrk", "wrk"), ("pgbench", "pgbench")):
        L.append("| %s | %s |" % (label, meta.get(k, "?")))
    L.append("| durations | %s s per measurement, %s round(s) (scenarios 1–3), latency run %s s, sync %s rows × %s round(s) |"
             % (meta.get("seconds"), meta.get("rounds"), meta.get("latency_seconds"), fmt_n(num(meta.get("sync_rows"))),
                meta.get("sync_rounds")))
    L.append("| load average (1/5/15 min) | %s at the start, %s at the end; total %s s |"
             % (meta.get("load_start", "?"), meta.get("load_end", "?"), meta.get("elapsed_s", "?")))
    if meta.get("note"):
        L.append("| note | %s |" % meta["note"])
    L.append("")
    L.append("Server, PostgreSQL, SQLite, wrk, pgbench and psql share the same %s core(s): every client steals CPU "
             "from the server it measures, and the baseline's client steals from PostgreSQL alike. Other work may be "
             "running on the machine (see the load averages, and the per-measurement load in the last table)."
             % meta.get("cores", "?"))
    L.append("")
    if failures:
        L.append("## Problems")
        L.append("")
        for f in failures:
            L.append("- " + f)
        L.append("")

    L.append("## Summary")
    L.append("")
    L.append("Ratio = stagebridge / baseline, the median of the per-round ratios (each round measures both, one after "
             "the other); the figures shown are the medians over the rounds.")
    L.append("")
    hdr = "| # | scenario | parameters | stagebridge | baseline | ratio | target | result |"
    sep = "|---|---|---|---|---|---|---|---|"
    if before:
        hdr += " before: stagebridge | before: ratio |"
        sep += "---|---|"
    L.append(hdr)
    L.append(sep)
    for sid, title, params, sbv, basev, ratio, target, res, g in summary:
        line = "| %s | %s | %s | %s | %s | %s | %s | %s |" % (sid, title, params, sbv, basev, ratio, target, res)
        if before:
            b = before.get(g.key)
            bratio = b.ratio if b else None
            if b and title == TITLES["4m"]:
                bm = [num(r["sb"]) / num(r["extra"].get("merge_only_rps")) for r in b.rows
                      if num(r["sb"]) and num(r["extra"].get("merge_only_rps"))]
                bratio = median(bm)
            line += " %s | %s |" % (fmt_n(b.sb, b.unit) if b else "—",
                                    ("%.2f×" % bratio) if bratio is not None else "—")
        L.append(line)
    L.append("")
    missed = [s for s in summary if s[7] == "**missed**"]
    if missed and not quick:
        L.append("Targets missed: %s. What the profiles show about them is in docs/benchmarks.md (*Where the "
                 "time goes*); to record the before/after of a change, rerun with `--before` pointing at this "
                 "directory (copied aside)." % "; ".join("%s (%s, %s)" % (s[1], s[2], s[5]) for s in missed))
        L.append("")

    L.append("## Throughput")
    L.append("")
    if not os.path.exists(os.path.join(out_dir, "throughput.png")):
        L.append("No throughput figure in this run (scenarios 1, 2, 3 and 5 were not run).")
    else:
        L.append("![throughput against clients and batch size](throughput.png)")
        L.append("")
        L.append("Left: unitary calls against concurrent clients (log scales). Right: rows/s against records per call "
                 "at %s clients; batch 1 is the unitary Ingest of scenario 1 next to pgbench's single-row INSERT, "
                 "larger batches are collections next to `\\copy` (PostgreSQL) or one transaction per batch "
                 "(SQLite). Data: `clients.dat`, `batch.dat`." % meta.get("batch_clients", "8"))
    L.append("")

    lat = [g for g in groups if g.key[0] in ("1", "3", "5") and g.key[3] == "1"]
    if lat:
        L.append("## Latency of unitary calls (closed loop, every connection sends its next call on the answer)")
        L.append("")
        L.append("| scenario | backend | clients | req/s | p50 | p99 |")
        L.append("|---|---|---|---|---|---|")
        for g in lat:
            L.append("| %s | %s | %s | %s | %s | %s |" % ({"1": "Ingest", "3": "IngestExt upsert", "5": "Ingest"}[g.key[0]],
                                                       g.key[1], g.key[2], fmt_n(g.sb), fmt_ms(g.x("p50_us")),
                                                       fmt_ms(g.x("p99_us"))))
        L.append("")
    s6 = [g for g in groups if g.key[0] == "6"]
    if s6:
        g = s6[0]
        L.append("Scenario 6: wrk has no rate option, so the load is paced with its `delay()` hook: the same number "
                 "of connections as the peak of scenario 1 (%s), each pausing before its next call, the pause adjusted "
                 "once a second by every wrk thread towards its share of half the peak. Target %s req/s, achieved "
                 "%s req/s: p50 %s, p90 %s, p99 %s (wrk times each call from its send to its answer)." % (g.key[2], fmt_n(g.x("target_rps")), fmt_n(g.sb), fmt_ms(g.x("p50_us")),
                                               fmt_ms(g.x("p90_us")), fmt_ms(g.x("p99_us"))))
        L.append("")

    s9 = [g for g in groups if g.key[0] == "9"]
    if s9:
        L.append("## Scenario 9: where the time goes (CPU in %% of one core, medians over the rounds; %s cores = %s %%)"
                 % (meta.get("cores", "?"), 100 * int(num(meta.get("cores")) or 0)))
        L.append("")
        L.append("The nodes, HAProxy, PostgreSQL and wrk all run on this machine's cores: adding a node adds no CPU, "
                 "it only splits the same cores among more processes. *other* is the rest of the busy time: wrk, "
                 "the kernel's loopback traffic not charged to a process, anything else running.")
        L.append("")
        L.append("| nodes | clients | path | req/s | p99 | nodes CPU | HAProxy CPU | PostgreSQL CPU | all busy | other "
                 "| WAL bytes/call | fsyncs/s | calls/fsync |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for g in s9:
            for label, pre, rps in (("HAProxy", "", g.sb), ("direct (node 1)", "direct_", g.base)):
                def x(k, pre=pre):
                    return g.x(pre + k)
                other = None
                if None not in (x("cpu_all"), x("cpu_nodes"), x("cpu_haproxy"), x("cpu_pg")):
                    other = x("cpu_all") - x("cpu_nodes") - x("cpu_haproxy") - x("cpu_pg")
                L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    g.key[3], g.key[2], label, fmt_n(rps), fmt_ms(x("p99_us")), fmt_n(x("cpu_nodes")),
                    fmt_n(x("cpu_haproxy")) if pre == "" else "—", fmt_n(x("cpu_pg")), fmt_n(x("cpu_all")),
                    fmt_n(other), fmt_n(x("wal_bytes_per_call")), fmt_n(x("fsyncs_per_s")),
                    fmt_n(x("calls_per_fsync"))))
        L.append("")

    L.append("## Every measurement")
    L.append("")
    L.append("| scenario | backend | clients | batch/rows | round | stagebridge | baseline | unit | ratio | details |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        sb, base = num(r["sb"]), num(r["base"])
        ratio = "%.2f" % (sb / base) if sb and base else "—"
        det = ", ".join("%s=%s" % kv for kv in r["extra"].items())
        L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (r["scenario"], r["backend"], r["clients"],
                                                                       r["batch"], r["round"], fmt_n(sb), fmt_n(base),
                                                                       r["unit"], ratio, det))
    L.append("")
    L.append("Raw tool outputs (wrk, pgbench, psql, merge_vs_copy.sh, server logs) are in `raw/`; "
             "`results.tsv` holds the figures above.")
    L.append("")
    with open(os.path.join(out_dir, "report.md"), "w") as f:
        f.write("\n".join(L))
    return 1 if new_failures else 0


if __name__ == "__main__":
    sys.exit(main())
