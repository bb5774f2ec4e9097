package main

import (
	"math"
	"runtime"
	"runtime/metrics"
)

// Measurement snapshots: runtime.MemStats plus every runtime/metrics sample.

type snapshot struct {
	ms      runtime.MemStats
	samples []metrics.Sample
}

func newSnapshot() *snapshot {
	descs := metrics.All()
	s := &snapshot{samples: make([]metrics.Sample, len(descs))}
	for i := range descs {
		s.samples[i].Name = descs[i].Name
	}
	// First read allocates histogram buffers; later reads reuse them.
	metrics.Read(s.samples)
	return s
}

func (s *snapshot) take() {
	runtime.ReadMemStats(&s.ms) // flushes every mcache
	metrics.Read(s.samples)
}

func jsonFloat(f float64) any {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	if math.IsInf(f, -1) {
		return "-Inf"
	}
	if math.IsNaN(f) {
		return "NaN"
	}
	return f
}

func (s *snapshot) export() map[string]any {
	m := map[string]any{}
	for _, smp := range s.samples {
		switch smp.Value.Kind() {
		case metrics.KindUint64:
			m[smp.Name] = smp.Value.Uint64()
		case metrics.KindFloat64:
			m[smp.Name] = jsonFloat(smp.Value.Float64())
		case metrics.KindFloat64Histogram:
			h := smp.Value.Float64Histogram()
			b := make([]any, len(h.Buckets))
			for i, x := range h.Buckets {
				b[i] = jsonFloat(x)
			}
			m[smp.Name] = map[string]any{"buckets": b, "counts": h.Counts}
		}
	}
	return map[string]any{"memstats": s.ms, "metrics": m}
}

// heapInuse reads the bytes in in-use spans without flushing mcaches
// (runtime/metrics: objects + unused = mheap inHeap, updated by allocSpan).
var inuseSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
}

func heapInuse() uint64 {
	metrics.Read(inuseSamples)
	return inuseSamples[0].Value.Uint64() + inuseSamples[1].Value.Uint64()
}

func readUint(samples []metrics.Sample) uint64 {
	metrics.Read(samples)
	var t uint64
	for _, x := range samples {
		t += x.Value.Uint64()
	}
	return t
}

var mspanSamples = []metrics.Sample{{Name: "/memory/classes/metadata/mspan/inuse:bytes"}}
var idleSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
}
var touchedSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/memory/classes/heap/stacks:bytes"},
}
var mappedSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/memory/classes/heap/stacks:bytes"},
}
