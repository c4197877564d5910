# scale.gp: the scale chart, from the .dat files bench/scale.awk writes.
# Usage: gnuplot -e "dir='bench/results'; out='bench/scale.png'" bench/scale.gp
set terminal pngcairo size 1500,900 font ",10"
set output out
set datafile missing "?"
set multiplot layout 2,3 title "hardcached vs memcached 1.6.18: 32 B values, 90% get, pipeline 1, 1 server thread, loopback (make bench-scale)"
set logscale x
set grid
set key top left
mc = "lc rgb '#c0392b' pt 7 lw 2"
hc = "lc rgb '#2471a3' pt 5 lw 2"
c = dir."/scale_conns.dat"
i = dir."/scale_items.dat"

set xlabel "connections"
set ylabel "ops/s"
set yrange [0:*]
set title "throughput vs connections"
plot c u 1:2 w lp @mc t "memcached", c u 1:3 w lp @hc t "hardcached"
set logscale y
set yrange [*:*]
set ylabel "us"
set title "p99 latency vs connections"
plot c u 1:4 w lp @mc t "memcached", c u 1:5 w lp @hc t "hardcached"
set title "p99.9 latency vs connections"
plot c u 1:6 w lp @mc t "memcached", c u 1:7 w lp @hc t "hardcached"
unset logscale y

set xlabel "items (16 B keys, 32 B values)"
set ylabel "ops/s"
set yrange [0:*]
set title "throughput vs item count (50 connections)"
plot i u 1:2 w lp @mc t "memcached", i u 1:3 w lp @hc t "hardcached"
set logscale y
set yrange [*:*]
set ylabel "us"
set title "p99 latency vs item count"
plot i u 1:4 w lp @mc t "memcached", i u 1:5 w lp @hc t "hardcached"
unset logscale y
set ylabel "bytes"
set yrange [0:*]
set title "resident bytes per item vs item count"
plot i u 1:8 w lp @mc t "memcached", i u 1:9 w lp @hc t "hardcached"
unset multiplot
