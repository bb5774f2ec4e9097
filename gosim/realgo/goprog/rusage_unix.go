//go:build unix

package main

import "syscall"

func getRusage() rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fail("getrusage: %v", err)
	}
	return rusage{
		user:   float64(ru.Utime.Nano()) / 1e9,
		sys:    float64(ru.Stime.Nano()) / 1e9,
		minflt: int64(ru.Minflt), majflt: int64(ru.Majflt),
		nvcsw: int64(ru.Nvcsw), nivcsw: int64(ru.Nivcsw),
	}
}
