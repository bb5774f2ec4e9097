module gosim/scripts/mmaplock

go 1.22
