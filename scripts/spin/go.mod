module gosim/scripts/spin

go 1.22
