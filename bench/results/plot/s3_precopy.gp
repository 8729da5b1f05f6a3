set terminal pngcairo noenhanced size 900,520 font 'sans,10'
set output '/work/main/bench/results/s3_precopy.png'

set title "Scenario 3: critical-data latency, REINIT in PRE_COPY"
set ylabel "latency (ms, log)"
set style fill solid 0.6 border -1
set boxwidth 0.6
set grid ytics
set xtics rotate by -30
set yrange [*:*]
set logscale y
plot '/work/main/bench/results/plot/s3_precopy.dat' using 1:3:xtic(2) with boxes lc rgb '#4477aa' title 'median', \
     '/work/main/bench/results/plot/s3_precopy.dat' using 1:3:4:5 with yerrorbars lc rgb 'black' pt 0 title 'min-max'
