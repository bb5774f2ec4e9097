module gosimprobe

go 1.22
