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

// touch writes a zero byte into each 4 KiB page the object's n bytes
// overlap (its first byte, every 4096th, its last), as a program using its
// memory does: the first write to a fresh OS page faults it in (gosim's
// workload groups' touch). A zero byte leaves a pointer slot nil, so
// pointerful objects (all pointer slots, allocPtr) stay valid for the GC.
// Returns the writes: ceil(n/4096) + 1.
func touch(p unsafe.Pointer, n uint32) int {
	if n == 0 {
		return 0
	}
	w := 1
	for off := uint32(0); off < n; off += 4096 {
		*(*byte)(unsafe.Add(p, off)) = 0
		w++
	}
	*(*byte)(unsafe.Add(p, n-1)) = 0
	return w
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
