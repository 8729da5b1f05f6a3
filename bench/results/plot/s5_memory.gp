set terminal pngcairo noenhanced size 1000,600 font 'sans,10'
set output 's5_memory.png'
set title "Scenario 5: memory while migrating 8 GiB\nlargest of 5 runs per bar; TCG guest, 2 vCPUs, on AMD EPYC, 2 cores (shared host); host load 0.3-2.3"
set ylabel "largest value over the runs (MiB)"
set style data histograms
set style histogram clustered
set style fill solid 0.7 border -1
set grid ytics
set xtics rotate by -30
set key top left opaque box
set yrange [0:*]
plot 'plot/s5_memory.dat' using 2:xtic(1) title "reader pool buffers (alloc)", \
     'plot/s5_memory.dat' using 3:xtic(1) title "reader pool in use (peak)", \
     'plot/s5_memory.dat' using 4:xtic(1) title "CLI max RSS", \
     'plot/s5_memory.dat' using 5:xtic(1) title "guest memory used (kernel queues included)"
