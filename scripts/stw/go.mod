module gosim/scripts/stw

go 1.22
