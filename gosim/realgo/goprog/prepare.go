package main

import (
	"os"
	"runtime"
)

// Before the baseline (GC off) prepare brings the runtime to the model's
// starting state: a forced GC, then for each span class the workload uses,
// allocations until a fresh span is cached and that span is full (no
// partially used span is left to absorb workload objects); one-page spans
// until this P's mspan-struct cache is empty; and every usable free page
// allocated, so the workload's first new span needs a heap growth, as in a
// model that starts from an empty heap.

// drainClass allocates objects of one span class until the P holds a fresh
// span (a heap-in-use step), measures objects per span from the next step and
// fills that span: afterwards no partially used span of this class is left
// anywhere, so the workload starts from fresh spans as the model does.
// Objects stay alive because GOGC=off (the caller checks).
func drainClass(size uint32, ptr bool) int {
	prev := heapInuse()
	var at [2]int
	n := 0
	for i := 1; i <= 1<<22 && n < 2; i++ {
		allocOne(size, ptr)
		if cur := heapInuse(); cur != prev {
			at[n] = i
			n++
			prev = cur
		}
	}
	if n < 2 {
		fail("drain of size %d (pointerful=%v) saw no span change", size, ptr)
	}
	ne := at[1] - at[0]
	for j := 1; j < ne; j++ {
		allocOne(size, ptr)
	}
	return ne
}

// drainMSpanCache empties this P's cache of mspan structs (mheap.go
// allocMSpanLocked refills it with len(buf)/2 structs when empty), so
// MSpanInuse deltas count structs from zero as the model does. One-object
// spans (8 KiB objects) take one struct each. Returns the refill count.
func drainMSpanCache() int {
	prev := readUint(mspanSamples)
	var at [2]int
	n := 0
	for i := 1; i <= 1<<16 && n < 2; i++ {
		allocOne(8192, false)
		if cur := readUint(mspanSamples); cur != prev {
			at[n] = i
			n++
			prev = cur
		}
	}
	if n < 2 {
		fail("mspan cache drain saw no MSpanInuse step")
	}
	k := at[1] - at[0]
	for j := 1; j < k; j++ {
		allocOne(8192, false)
	}
	return k
}

// unusableIdle allocates one-page spans until the heap grows and returns the
// idle bytes seen just before the growth: pages the allocator cannot hand
// out (Go 1.26+ marks a random number of pages of the first chunk as
// allocated padding but counts them as released: mheap.go grow,
// randomizeHeapBase). A one-page request grows the heap only when no usable
// free page is left anywhere.
func unusableIdle() uint64 {
	mapped := readUint(mappedSamples)
	idle := readUint(idleSamples)
	for i := 0; i < 1<<20; i++ {
		allocOne(8192, false)
		if m := readUint(mappedSamples); m != mapped {
			return idle
		}
		idle = readUint(idleSamples)
	}
	fail("heap never grew while filling it")
	return 0
}

// fillHeap uses every usable free page with exactly a multiple of 64 spans
// of one or two pages (so this P's mspan-struct cache, empty before, is
// empty after), leaving the workload to start like the model: no free
// page, first new span needs a heap growth.
func fillHeap(unusable uint64, refill int) (spans int, growths int) {
	mapped := readUint(mappedSamples)
	free := int((readUint(idleSamples) - unusable) / 8192)
	if free < refill {
		for j := 0; j < refill; j++ {
			allocOne(8192, false)
			spans++
		}
		free = int((readUint(idleSamples) - unusable) / 8192)
	}
	s := refill * (free / refill)
	d := free - s
	for j := 0; j < d; j++ {
		allocOne(16384, false) // a two-page span
	}
	for j := 0; j < s-d; j++ {
		allocOne(8192, false)
	}
	spans += s
	if m := readUint(mappedSamples); m != mapped {
		growths++
	}
	return spans, growths
}

// prepResult is filled without allocating: an allocation after a drain
// (a map, a boxed int: tiny objects) would leave a partially used span.
var prepStats runtime.MemStats

type prepResult struct {
	drained    []int
	unusable   uint64
	refill     int
	fillSpans  int
	fillGrowth int
	residual   uint64
	p          int // the P the caches were drained on
}

func prepare(p prepSpec) *prepResult {
	r := &prepResult{drained: make([]int, len(p.Drain))}
	if p.GC {
		runtime.GC() // frees init garbage, sweeps everything, flushes idle Ps' page caches
	}
	// Return every P's cached spans to mcentral, so the drains below see them.
	runtime.ReadMemStats(&prepStats)
	if (len(p.Drain) > 0 || p.MSpanCache || p.FillHeap) && os.Getenv("GOGC") != "off" {
		fail("prepare: drain/mspancache/fill_heap need GOGC=off")
	}
	// Pinned: every drain below empties the caches of one P, this one.
	r.p = procPin()
	defer procUnpin()
	for i, d := range p.Drain {
		r.drained[i] = drainClass(d.Size, d.Ptr)
	}
	// The one- and two-page classes used below hold one object per span;
	// fill their cached spans so that each later allocation is a new span.
	if p.MSpanCache || p.FillHeap {
		drainClass(8192, false)
		drainClass(16384, false)
	}
	if p.FillHeap {
		r.unusable = unusableIdle()
	}
	if p.MSpanCache || p.FillHeap {
		r.refill = drainMSpanCache()
	}
	if p.FillHeap {
		r.fillSpans, r.fillGrowth = fillHeap(r.unusable, r.refill)
		r.residual = readUint(idleSamples) - r.unusable
	}
	return r
}

func (r *prepResult) export(p prepSpec) map[string]any {
	drained := make([]map[string]any, len(p.Drain))
	for i, d := range p.Drain {
		drained[i] = map[string]any{"size": d.Size, "pointerful": d.Ptr, "nelems": r.drained[i]}
	}
	return map[string]any{
		"drained": drained, "unusable_idle_bytes": r.unusable, "mspancache_refill": r.refill,
		"p": r.p, "fill_spans": r.fillSpans, "fill_growths": r.fillGrowth, "fill_residual_bytes": r.residual,
	}
}

// warmThreads makes the runtime create n more OS threads (Ms) now and park
// them idle: a thread started later, while measuring, would allocate its m
// and g0 on the heap. Each locked goroutine that blocks keeps its M asleep
