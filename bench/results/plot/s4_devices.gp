set terminal pngcairo noenhanced size 900,520 font 'sans,10'
set output '/work/main/bench/results/s4_devices.png'

set title "Scenario 4: downtime vs devices (v3-4, 8 MiB per device, engine_bw 2 MiB/s)"
set xlabel "devices"
set ylabel "downtime (s)"
set grid
set xtics (1, 2, 4)
set yrange [0:*]
set key top left
plot '/work/main/bench/results/plot/s4_devices.dat' using 1:2:3:4 with yerrorlines lw 2 title 'device after device (serial)', \
     '/work/main/bench/results/plot/s4_devices.dat' using 1:5:6:7 with yerrorlines lw 2 title 'together, one pool'
