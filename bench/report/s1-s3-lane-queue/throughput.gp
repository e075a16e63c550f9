# throughput.gp — written by bench/report.py; run from this directory: gnuplot throughput.gp
set terminal pngcairo size 700,640 font "sans,10"
set output "throughput.png"
set datafile missing "-"
set key bmargin center horizontal maxcols 2 width -6 font ",9"
set bmargin 7
set grid
set logscale y
set offsets graph 0.05, graph 0.05, 0, 0
set multiplot layout 1,1 title "stagebridge throughput next to its raw baselines (same run, same machine)"
set title "unitary calls vs concurrent clients"
set xlabel "concurrent clients (keep-alive connections / pgbench clients)"
set ylabel "requests/s = rows/s (log)"
set logscale x 2
plot "clients.dat" using 1:2 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "stagebridge Ingest (PostgreSQL)", \
     "clients.dat" using 1:3 with linespoints lw 2 pt 6 dt 2 lc rgb "#1f77b4" title "pgbench single-row INSERT", \
     "clients.dat" using 1:4 with linespoints lw 2 pt 5 lc rgb "#2ca02c" title "stagebridge IngestExt upsert (PostgreSQL)", \
     "clients.dat" using 1:5 with linespoints lw 2 pt 4 dt 2 lc rgb "#2ca02c" title "pgbench INSERT … ON CONFLICT"
unset multiplot
