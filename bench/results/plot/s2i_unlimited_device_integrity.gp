set terminal pngcairo noenhanced size 1000,600 font 'sans,10'
set output 's2i_unlimited_device_integrity.png'
set title "Scenario 2i: scenario 2 with integrity checking as real devices do it (no per-record CRC on the host's CPUs): downtime vs N\nmedian of 10 runs per point, bars min-max; TCG guest, 2 vCPUs, on AMD EPYC, 2 cores (shared host); host load 0.3-2.3"
set xlabel "N: dirty FDs (v3) or engines (v2 mux)"
set ylabel "downtime (s)"
set grid
set key top right opaque box
set logscale x 2
set yrange [0:*]
set xtics (1, 2, 4, 8)
set offsets graph 0.05, graph 0.05, 0, 0
plot 'plot/s2i_unlimited_device_integrity.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title "v3-N (N dirty FDs)", \
     'plot/s2i_unlimited_device_integrity.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title "v2 mux, E = N engines", \
     'plot/s2i_unlimited_device_integrity.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title "v2 mux-head, E = N engines", \
     'plot/s2i_unlimited_device_integrity.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 title "v2-today (one engine)", \
     'plot/s2i_unlimited_device_integrity.dat' index 4 using 1:2:3:4 with yerrorlines lw 2 title "v2-pool (one engine)", \
     'plot/s2i_unlimited_device_integrity.dat' index 5 using 1:2:3:4 with yerrorlines lw 2 title "v2-thread (one engine)", \
     'plot/s2i_unlimited_device_integrity.dat' index 6 using 1:2 with linespoints dt 2 lw 2 pt 0 title "pipeline bound (measured, median)"
