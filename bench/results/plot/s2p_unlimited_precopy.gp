set terminal pngcairo noenhanced size 1000,600 font 'sans,10'
set output 's2p_unlimited_precopy.png'
set title "Scenario 2p: one device, no engine limit, precopy on (main): downtime vs N\nmedian of 10 runs per point, bars min-max; TCG guest, 2 vCPUs, on AMD EPYC, 2 cores (shared host); host load 0.3-2.3"
set xlabel "N: dirty FDs (v3) or engines (v2 mux)"
set ylabel "downtime (s)"
set grid
set key top right opaque box
set logscale x 2
set yrange [0:*]
set xtics (1, 2, 4, 8)
set offsets graph 0.05, graph 0.05, 0, 0
plot 'plot/s2p_unlimited_precopy.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title "v3-N (N dirty FDs)", \
     'plot/s2p_unlimited_precopy.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title "v2 mux, E = N engines", \
     'plot/s2p_unlimited_precopy.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title "v2 mux-head, E = N engines", \
     'plot/s2p_unlimited_precopy.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 title "v2-today (one engine)", \
     'plot/s2p_unlimited_precopy.dat' index 4 using 1:2:3:4 with yerrorlines lw 2 title "v2-pool (one engine)"
