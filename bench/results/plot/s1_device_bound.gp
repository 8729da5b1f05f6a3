set terminal pngcairo noenhanced size 900,520 font 'sans,10'
set output '/work/main/bench/results/s1_device_bound.png'

set title "Scenario 1: downtime, 512 MiB, engine_bw 33 MiB/s"
set ylabel "downtime (s)"
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -30
set yrange [0:*]

plot '/work/main/bench/results/plot/s1_device_bound.dat' using 1:3:xtic(2) with boxes lc rgb '#4477aa' title 'median', \
     '/work/main/bench/results/plot/s1_device_bound.dat' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 0 title 'min-max'
