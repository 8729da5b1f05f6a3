set terminal pngcairo noenhanced size 1000,600 font 'sans,10'
set output 's3_stopcopy_bound.png'
set title "Scenario 3: critical-data latency, REINIT in STOP_COPY, engines limited\nmedian of 10 runs per bar; TCG guest, 2 vCPUs, on AMD EPYC, 2 cores (shared host); host load 0.3-2.3"
set ylabel "latency (ms, log)"
set style data histograms
set style histogram clustered
set style fill solid 0.7 border -1
set grid ytics
set xtics rotate by -30
set key top left opaque box
set logscale y
plot 'plot/s3_stopcopy_bound.dat' using 2:xtic(1) title "median latency"
