package main

import (
	"encoding/binary"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// workload mode: goroutines allocate pre-drawn objects between two readings.

// warmThreads makes the runtime create n more OS threads (Ms) now and park
// them idle: a thread started later, while measuring, would allocate its m
// and g0 on the heap. Each locked goroutine that blocks keeps its M asleep
// and hands its P to another M.
func warmThreads(n int) {
	rel := make(chan struct{})
	var up, down atomic.Int32
	for i := 0; i < n; i++ {
		go func() {
			runtime.LockOSThread()
			up.Add(1)
			<-rel
			runtime.UnlockOSThread()
			down.Add(1)
		}()
	}
	for up.Load() < int32(n) {
		time.Sleep(50 * time.Microsecond)
	}
	close(rel)
	for down.Load() < int32(n) {
		time.Sleep(50 * time.Microsecond)
	}
}

// procPin disables preemption and returns the P's id (runtime/proc.go
// procPin, linkname-accessible, go.dev/issue/67401). A goroutine that runs
// pinned keeps its P, and so its mcache, for the whole workload: real
// preemption timing (sysmon preempts after 10 ms of wall time, earlier on a
// loaded machine) can neither move it to another P nor interleave it with a
// goroutine sharing its P. Only with the GC off: a pinned goroutine cannot
// start a GC cycle (mgc.go gcStart returns while m.locks > 1).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// warmTimers gives every P's timer heap room for a timer. The first timer a
// P holds grows its heap (time.go (*timers).addHeap appends a 16-byte
// timerWhen), an allocation that would otherwise fall inside a measurement
// when the main goroutine sleeps on that P. n goroutines spin until all run
// (one per P), then each sleeps once on its own P; three rounds, in case the
// scheduler moved one before it slept.
func warmTimers(n int) {
	for round := 0; round < 3; round++ {
		var running, done atomic.Int32
		for i := 0; i < n; i++ {
			go func() {
				running.Add(1)
				for running.Load() < int32(n) {
				}
				time.Sleep(time.Microsecond)
				done.Add(1)
			}()
		}
		for done.Load() < int32(n) {
			time.Sleep(50 * time.Microsecond)
		}
	}
}

type worker struct {
	spec     goroutineSpec
	sizes    []uint32
	ptrs     []byte
	work     []uint32
	holder   []unsafe.Pointer
	slot     int
	start    int64
	end      int64
	p        int // the P it ran on
	touched  int // touch writes
	finished atomic.Bool
}

// readU32s reads n little-endian uint32 values from a stream file.
func readU32s(path string, n int) []uint32 {
	raw := mustRead(path)
	if len(raw) != 4*n {
		fail("%s: %d bytes, want %d", path, len(raw), 4*n)
	}
	out := make([]uint32, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(raw[4*i:])
	}
	return out
}

func loadWorker(g goroutineSpec, slot int) *worker {
	w := &worker{spec: g, slot: slot}
	if g.SizesFile != "" {
		w.sizes = readU32s(g.SizesFile, g.N)
	}
	if g.PtrsFile != "" {
		w.ptrs = mustRead(g.PtrsFile)
		if len(w.ptrs) != g.N {
			fail("%s: %d bytes, want %d", g.PtrsFile, len(w.ptrs), g.N)
		}
	}
	if g.WorkFile != "" {
		w.work = readU32s(g.WorkFile, g.N)
	}
	switch {
	case g.Keep < 0:
		w.holder = make([]unsafe.Pointer, g.N)
	case g.Keep > 0:
		w.holder = make([]unsafe.Pointer, g.Keep)
	}
	return w
}

func (w *worker) run() {
	g := w.spec
	keep := g.Keep
	holder := w.holder
	ring := 0
	simple := w.sizes == nil && w.ptrs == nil && w.work == nil && g.WorkNs == 0 && !g.Touch
	w.start = time.Since(clock0).Nanoseconds()
	if simple && keep == 0 {
		// The common benchmark shape: one constant size, dropped.
		slot := &sinkSlot[w.slot]
		if g.Ptr {
			for i := 0; i < g.N; i++ {
				*slot = allocPtr(g.Size)
			}
		} else {
			for i := 0; i < g.N; i++ {
				*slot = allocNoscan(g.Size)
			}
		}
	} else {
		for i := 0; i < g.N; i++ {
			size := g.Size
			if w.sizes != nil {
				size = w.sizes[i]
			}
			ptr := g.Ptr
			if w.ptrs != nil {
				ptr = w.ptrs[i] != 0
			}
			var p unsafe.Pointer
			if ptr {
				p = allocPtr(size)
			} else {
				p = allocNoscan(size)
			}
			if g.Touch && (ptr || size >= 16) { // not the tiny allocator's
				w.touched += touch(p, size)
			}
			switch {
			case keep < 0:
				holder[i] = p
			case keep > 0:
				holder[ring] = p
				ring++
				if ring == keep {
					ring = 0
				}
			default:
				sinkSlot[w.slot] = p
			}
			if w.work != nil {
				spin(w.work[i])
			} else if g.WorkNs != 0 {
				spin(g.WorkNs)
			}
		}
	}
	w.end = time.Since(clock0).Nanoseconds()
}

func runWorkload(sp *spec) map[string]any {
	if len(sp.Goroutines) > len(sinkSlot) {
		fail("at most %d goroutines", len(sinkSlot))
	}
	workers := make([]*worker, len(sp.Goroutines))
	for i, g := range sp.Goroutines {
		workers[i] = loadWorker(g, i)
	}
	calibrateSpin()
	base, after := newSnapshot(), newSnapshot()
	empty0, empty1 := newSnapshot(), newSnapshot()
	gate := make(chan struct{})
	var parked, running, done atomic.Int32
	nw := int32(len(workers))
	procs := runtime.GOMAXPROCS(0)
	// Goroutines before the workers: after.take waits until the count is
	// back to it, so that every worker has exited (proc.go goexit0 -> gfput
	// frees a grown stack to the heap, which changes HeapSys).
	g0 := runtime.NumGoroutine()
	for k, w := range workers {
		go func() {
			parked.Add(1)
			<-gate
			if k >= procs {
				// Goroutines beyond GOMAXPROCS run in lanes: goroutine k
				// starts when goroutine k-GOMAXPROCS has finished, so one
				// P runs goroutines k, k+GOMAXPROCS, ... one after another
				// (the model's order). Gosched, not a channel: blocking
				// could allocate a sudog.
				prev := workers[k-procs]
				for !prev.finished.Load() {
					runtime.Gosched()
				}
			}
			w.p = -1
			if sp.Pin {
				w.p = procPin()
			}
			if sp.Barrier {
				// Start together, one goroutine per P (only when they fit).
				running.Add(1)
				for running.Load() < nw {
				}
			}
			w.run()
			if sp.Pin {
				procUnpin()
			}
			w.finished.Store(true)
			done.Add(1)
		}()
	}
	for parked.Load() < nw {
		time.Sleep(20 * time.Microsecond)
	}
	time.Sleep(200 * time.Microsecond) // let every goroutine reach <-gate
	warmThreads(runtime.GOMAXPROCS(0) + 3)
	warmTimers(runtime.GOMAXPROCS(0))
	// The heap before the live heap: the runtime's own start-up objects,
	// which the model (its heap starts empty) does not have.
	runtime.ReadMemStats(&prepStats)
	startHeapInuse := prepStats.HeapInuse
	live := buildLiveHeap(sp.LiveHeap)
	prep := prepare(sp.Prepare)
	// Self-check: what does measuring an empty workload cost?
	empty0.take()
	time.Sleep(20 * time.Microsecond)
	empty1.take()
	harness := int64(empty1.ms.Mallocs) - int64(empty0.ms.Mallocs)

	base.take()
	t0 := time.Since(clock0).Nanoseconds()
	close(gate)
	for done.Load() < nw {
		time.Sleep(100 * time.Microsecond)
	}
	t1 := time.Since(clock0).Nanoseconds()
	for runtime.NumGoroutine() > g0 {
		time.Sleep(50 * time.Microsecond)
	}
	after.take()

	gs := make([]map[string]any, len(workers))
	for i, w := range workers {
		gs[i] = map[string]any{"n": w.spec.N, "p": w.p, "start_ns": w.start - t0, "end_ns": w.end - t0,
			"touch_writes": w.touched}
	}
	return map[string]any{
		"baseline":         base.export(),
		"after":            after.export(),
		"goroutines":       gs,
		"wall_ns":          t1 - t0,
		"harness_mallocs":  harness,
		"prepare":          prep.export(sp.Prepare),
		"live_objects":     live,
		"start_heap_inuse": startHeapInuse,
	}
}
