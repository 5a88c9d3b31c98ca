module mloop.dev/bench/serving/loadgen

go 1.21
