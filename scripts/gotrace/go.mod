module gosim.local/gotrace

go 1.27
