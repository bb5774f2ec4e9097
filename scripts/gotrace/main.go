// gotrace: the study behind docs/groundtruth.md's "Faults, the scavenger and
// the mark phase at two and more Ps". N goroutines (one per P) allocate
// pointer-free objects of one size in a tight loop, each keeping only its
// last one, as gosim's probe does; every 1/20 of the run the heap's
// runtime/metrics classes are printed, and with -trace the run is recorded
// by the execution tracer.
//
//	cd scripts/gotrace && ../../.venv/bin/go build -o /tmp/gotrace .
//	/tmp/gotrace -size 1024 -procs 2 -dur 1s                 # heap classes over time
//	GODEBUG=gctrace=1,scavtrace=1 /tmp/gotrace -size 1024 -procs 2 -dur 100ms
//	/tmp/gotrace -size 1024 -procs 2 -dur 200ms -trace t.out
//	/tmp/gotrace -size 48 -procs 8 -ballast-mib 256 -dur 1s  # with the probe's live heap
//	../../.venv/bin/go tool trace -d=parsed t.out > parsed.txt
//
// In parsed.txt a cycle is the range "GC concurrent mark phase"; the fractional
// workers are the goroutines labelled "GC (fractional)"; "stop-the-world (GC
// mark termination)" ends the phase. The tracer slows the program, so run
// lengths and heap sizes under it are not the untraced program's.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/trace"
	"sync/atomic"
	"time"
	"unsafe"
)

type slot struct {
	p unsafe.Pointer
	_ [56]byte
}

type counter struct {
	n atomic.Int64
	_ [56]byte
}

// ballastNode: the probe's live-heap node (gosim/realgo/goprog/scaling.go),
// a pointer then padding, 1 KiB in all.
type ballastNode struct {
	next *ballastNode
	_    [1024 - 8]byte
}

var (
	ballast *ballastNode
	sinks   [256]slot
	count [256]counter
	stop  atomic.Bool
)

func main() {
	size := flag.Int("size", 1024, "object size, bytes")
	procs := flag.Int("procs", 2, "GOMAXPROCS and allocating goroutines (at most 256)")
	dur := flag.Duration("dur", time.Second, "how long to allocate")
	traceOut := flag.String("trace", "", "write an execution trace here")
	ballastMiB := flag.Int("ballast-mib", 0, "live heap kept throughout: MiB of pointerful 1 KiB nodes, as the probe's")
	flag.Parse()
	if *procs < 1 || *procs > len(sinks) || *size < 1 || *ballastMiB < 0 {
		fmt.Fprintln(os.Stderr, "gotrace: -procs 1..256, -size >= 1 and -ballast-mib >= 0")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(*procs)
	names := []string{"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes", "/memory/classes/heap/released:bytes",
		"/gc/cycles/total:gc-cycles", "/cpu/classes/scavenge/total:cpu-seconds",
		"/cpu/classes/total:cpu-seconds"}
	samples := make([]metrics.Sample, len(names))
	for i := range samples {
		samples[i].Name = names[i]
	}
	read := func() []float64 {
		metrics.Read(samples)
		out := make([]float64, len(samples))
		for i, s := range samples {
			if s.Value.Kind() == metrics.KindUint64 {
				out[i] = float64(s.Value.Uint64())
			} else {
				out[i] = s.Value.Float64()
			}
		}
		return out
	}
	for i := 0; i < *ballastMiB<<10; i++ {
		ballast = &ballastNode{next: ballast}
	}
	runtime.GC()
	if *traceOut != "" {
		f, err := os.Create(*traceOut)
		if err != nil {
			fmt.Fprintln(os.Stderr, "gotrace:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			fmt.Fprintln(os.Stderr, "gotrace:", err)
			os.Exit(1)
		}
		defer trace.Stop()
	}
	for g := 0; g < *procs; g++ {
		go func(g int) {
			for !stop.Load() {
				for i := 0; i < 64; i++ {
					b := make([]byte, *size)
					b[0] = 1
					sinks[g].p = unsafe.Pointer(&b[0])
				}
				count[g].n.Add(64)
			}
		}(g)
	}
	t0 := time.Now()
	for time.Since(t0) < *dur {
		time.Sleep(*dur / 20)
		v := read()
		var n int64
		for g := 0; g < *procs; g++ {
			n += count[g].n.Load()
		}
		fmt.Printf("t=%.3fs allocs=%d objects=%.2fMB unused=%.2fMB free=%.2fMB "+
			"released=%.2fMB heap=%.2fMB gc=%.0f scavenge=%.2f%%\n",
			time.Since(t0).Seconds(), n, v[0]/1e6, v[1]/1e6, v[2]/1e6, v[3]/1e6,
			(v[0]+v[1]+v[2]+v[3])/1e6, v[4], 100*v[5]/v[6])
	}
	stop.Store(true)
	runtime.KeepAlive(ballast)
}
