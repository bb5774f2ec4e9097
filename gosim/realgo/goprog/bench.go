package main

import "runtime"

// bench mode: ns per allocation, one size at a time, objects dropped.

func runBench(sp *spec) map[string]any {
	out := make([]map[string]any, len(sp.Cases))
	var m0, m1 runtime.MemStats
	for ci, c := range sp.Cases {
		w := &worker{spec: goroutineSpec{N: c.Warmup, Size: c.Size, Ptr: c.Ptr}}
		w.run()
		runtime.ReadMemStats(&m0)
		reps := make([]float64, c.Reps)
		w.spec.N = c.N
		for r := 0; r < c.Reps; r++ {
			w.run()
			reps[r] = float64(w.end-w.start) / float64(c.N)
		}
		runtime.ReadMemStats(&m1)
		out[ci] = map[string]any{
			"size": c.Size, "pointerful": c.Ptr, "n": c.N, "reps": c.Reps,
			"ns_per_alloc": reps,
			"num_gc":       m1.NumGC - m0.NumGC,
			"mallocs":      m1.Mallocs - m0.Mallocs,
			"heap_sys":     m1.HeapSys,
			"pause_ns":     m1.PauseTotalNs - m0.PauseTotalNs,
		}
	}
	return map[string]any{"cases": out}
}
