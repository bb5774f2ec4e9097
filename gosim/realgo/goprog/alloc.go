package main

import (
	"time"
	"unsafe"
)

// Allocation primitives and the calibrated spin loop that stands for work
// between allocations.

//go:noinline
func allocNoscan(n uint32) unsafe.Pointer {
	b := make([]byte, n)
	return unsafe.Pointer(unsafe.SliceData(b))
}

//go:noinline
func allocPtr(n uint32) unsafe.Pointer {
	s := make([]unsafe.Pointer, (n+7)/8)
	return unsafe.Pointer(unsafe.SliceData(s))
}

func spin(ns uint32) {
	k := uint64(float64(ns) * itersPerK / 1000)
	x := spinSink
	for i := uint64(0); i < k; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink = x
}

func calibrateSpin() {
	const k = 2000000
	t := time.Now()
	x := spinSink
	for i := 0; i < k; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink = x
	d := time.Since(t).Nanoseconds()
	if d <= 0 {
		d = 1
	}
	itersPerK = float64(k) * 1000 / float64(d)
}

func allocOne(size uint32, ptr bool) {
	if ptr {
		sinkSlot[0] = allocPtr(size)
	} else {
		sinkSlot[0] = allocNoscan(size)
	}
}
