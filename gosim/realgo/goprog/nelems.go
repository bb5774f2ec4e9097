package main

// nelems mode: objects per span, counted from heap-in-use steps.

func runNelems(sp *spec) map[string]any {
	out := make([]map[string]any, len(sp.Cases))
	heapInuse() // warm the metrics machinery
	for ci, c := range sp.Cases {
		type step struct{ At, Bytes uint64 }
		// Allocated before counting: an append inside the loop would take
		// a slot of a small size class and skew the count.
		steps := make([]step, 0, c.Spans)
		max := c.MaxObj
		if max <= 0 {
			max = 1 << 20
		}
		prev := heapInuse()
		for i := 1; i <= max && len(steps) < c.Spans; i++ {
			if c.Ptr {
				sinkSlot[0] = allocPtr(c.Size)
			} else {
				sinkSlot[0] = allocNoscan(c.Size)
			}
			cur := heapInuse()
			if cur != prev {
				steps = append(steps, step{uint64(i), cur - prev})
				prev = cur
			}
		}
		at := make([]uint64, len(steps))
		by := make([]uint64, len(steps))
		for i, s := range steps {
			at[i], by[i] = s.At, s.Bytes
		}
		out[ci] = map[string]any{"size": c.Size, "pointerful": c.Ptr, "step_at": at, "step_bytes": by}
	}
	return map[string]any{"cases": out}
}
