set terminal pngcairo noenhanced size 1000,600 font 'sans,10'
set output 's4_devices.png'
set title "Scenario 4: downtime vs devices (8 MiB per device, engine_bw 2 MiB/s)\nmedian of 10 runs per point, bars min-max; TCG guest, 2 vCPUs, on AMD EPYC, 2 cores (shared host); host load 0.3-2.3"
set xlabel "devices migrated"
set ylabel "downtime (s)"
set grid
set key top left opaque box
set yrange [0:*]
set xtics (1, 2, 4)
set offsets graph 0.05, graph 0.05, 0, 0
plot 'plot/s4_devices.dat' index 0 using 1:2:3:4 with yerrorlines lw 2 title "v3, every device at once, one reader pool", \
     'plot/s4_devices.dat' index 1 using 1:2:3:4 with yerrorlines lw 2 title "v3, device after device", \
     'plot/s4_devices.dat' index 2 using 1:2:3:4 with yerrorlines lw 2 title "v2, devices read in parallel, a thread per device (QEMU 10)", \
     'plot/s4_devices.dat' index 3 using 1:2:3:4 with yerrorlines lw 2 title "v2, device after device, serial loop (VMMs before QEMU 10)", \
     'plot/s4_devices.dat' index 4 using 1:2 with linespoints dt 2 lw 2 pt 0 title "device bound, v2-thread together", \
     'plot/s4_devices.dat' index 5 using 1:2 with linespoints dt 2 lw 2 pt 0 title "device bound, v2-today together", \
     'plot/s4_devices.dat' index 6 using 1:2 with linespoints dt 2 lw 2 pt 0 title "device bound, v3 together"
