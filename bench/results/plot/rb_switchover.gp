set terminal pngcairo noenhanced size 1000,600 font 'sans,10'
set output 'rb_switchover.png'
set title "Scenario RB: time from the REINIT to switchover vs the dirty backlog B\nmedian of 10 runs per point, bars min-max; TCG guest, 2 vCPUs, on AMD EPYC, 2 cores (shared host); host load 0.3-2.3"
set xlabel "dirty backlog B queued at the REINIT (MiB)"
set ylabel "time from the REINIT to switchover (ms, log)"
set grid
set key top left opaque box
set logscale y
set offsets graph 0.05, graph 0.05, 0, 0
plot 'plot/rb_switchover.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title "v2-today", \
     'plot/rb_switchover.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title "v2-pool", \
     'plot/rb_switchover.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title "v2-mux4", \
     'plot/rb_switchover.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 title "v2-muxhead4", \
     'plot/rb_switchover.dat' index 4 using 1:2:3:4 with yerrorlines lw 2 title "v3-1", \
     'plot/rb_switchover.dat' index 5 using 1:2:3:4 with yerrorlines lw 2 title "v3-4"
