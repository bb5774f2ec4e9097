module gosim.local/wakeup

go 1.27
