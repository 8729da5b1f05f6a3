set terminal pngcairo noenhanced size 900,520 font 'sans,10'
set output '/work/main/bench/results/s5_8g_pattern.png'

set title "Scenario 5: downtime, 8 GiB pattern-backed"
set ylabel "downtime (s)"
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -30
set yrange [0:*]

plot '/work/main/bench/results/plot/s5_8g_pattern.dat' using 1:3:xtic(2) with boxes lc rgb '#4477aa' title 'median', \
     '/work/main/bench/results/plot/s5_8g_pattern.dat' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 0 title 'min-max'
