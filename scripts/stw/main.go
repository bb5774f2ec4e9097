// Command stw measures how long the Go runtime takes to stop the world for
// the collector on this machine: GOMAXPROCS goroutines allocate garbage of one
// size for a while, then the runtime's own histograms are read
// (runtime/metrics /sched/pauses/stopping/gc:seconds, from the decision to
// stop until every P has stopped, and /sched/pauses/total/gc:seconds, until
// the world runs again). One JSON line per GOMAXPROCS x size.
//
// gosim's `note_wakeup_ns` is the stopping M's futex wake-up at the end of the
// stop (docs/decisions.md, "Stopping the world waits for a futex wake-up").
//
//	stw [-procs 1,2] [-sizes 48,1024,32768] [-dur 2s]
//
// Bad arguments print one line "stw: ..." on stderr and exit 2, printing nothing.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// each goroutine keeps its last objects here, so the compiler cannot drop them
var sinks [][][]byte

type hist struct {
	N      uint64  `json:"n"`
	MeanUS float64 `json:"mean_us"`
	P50US  float64 `json:"p50_us"`
	P90US  float64 `json:"p90_us"`
}

// summarize a runtime/metrics histogram: the mean takes each bucket's midpoint
// (its lower bound for the open last one); quantiles are bucket upper bounds.
func summarize(h *metrics.Float64Histogram) hist {
	var n uint64
	var sum float64
	for i, c := range h.Counts {
		n += c
		lo, hi := h.Buckets[i], h.Buckets[i+1]
		if math.IsInf(lo, -1) {
			lo = 0
		}
		if math.IsInf(hi, 1) {
			hi = lo
		}
		sum += float64(c) * (lo + hi) / 2
	}
	q := func(p float64) float64 {
		var acc uint64
		for i, c := range h.Counts {
			acc += c
			if float64(acc) >= p*float64(n) {
				hi := h.Buckets[i+1]
				if math.IsInf(hi, 1) {
					hi = h.Buckets[i]
				}
				return hi
			}
		}
		return 0
	}
	out := hist{N: n}
	if n > 0 {
		out.MeanUS = sum / float64(n) * 1e6
		out.P50US = q(0.5) * 1e6
		out.P90US = q(0.9) * 1e6
	}
	return out
}

func read(names ...string) []metrics.Sample {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	return s
}

// delta of two reads of the same histogram
func delta(a, b *metrics.Float64Histogram) *metrics.Float64Histogram {
	d := &metrics.Float64Histogram{Buckets: b.Buckets, Counts: make([]uint64, len(b.Counts))}
	for i := range b.Counts {
		d.Counts[i] = b.Counts[i] - a.Counts[i]
	}
	return d
}

const (
	stopping = "/sched/pauses/stopping/gc:seconds"
	total    = "/sched/pauses/total/gc:seconds"
)

func run(procs, size int, dur time.Duration) map[string]any {
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	runtime.GC()
	before := read(stopping, total)
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	var wg sync.WaitGroup
	var allocs atomic.Int64
	sinks = make([][][]byte, procs)
	start := time.Now()
	stop := start.Add(dur)
	for i := 0; i < procs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n := int64(0)
			keep := make([][]byte, 64)
			sinks[i] = keep
			for time.Now().Before(stop) {
				for k := 0; k < 256; k++ {
					b := make([]byte, size)
					b[0] = 1
					keep[k&63] = b
				}
				n += 256
			}
			allocs.Add(n)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	after := read(stopping, total)
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	return map[string]any{
		"gomaxprocs":   procs,
		"size":         size,
		"dur_s":        elapsed.Seconds(),
		"allocs_per_s": float64(allocs.Load()) / elapsed.Seconds(),
		"num_gc":       ms1.NumGC - ms0.NumGC,
		"stopping":     summarize(delta(before[0].Value.Float64Histogram(), after[0].Value.Float64Histogram())),
		"total":        summarize(delta(before[1].Value.Float64Histogram(), after[1].Value.Float64Histogram())),
		"go":           runtime.Version(),
		"ncpu":         runtime.NumCPU(),
	}
}

func ints(flagName, text string, min int) ([]int, error) {
	var out []int
	for _, f := range strings.Split(text, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < min {
			return nil, fmt.Errorf("-%s: %q is not a list of integers >= %d", flagName, text, min)
		}
		out = append(out, v)
	}
	return out, nil
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "stw: "+msg)
	os.Exit(2)
}

func main() {
	fs := flag.NewFlagSet("stw", flag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	procsF := fs.String("procs", "1,2", "GOMAXPROCS values, comma-separated")
	sizesF := fs.String("sizes", "48,1024,32768", "object sizes in bytes, comma-separated")
	durF := fs.Duration("dur", 2*time.Second, "allocation time per setting")
	if err := fs.Parse(os.Args[1:]); err != nil {
		fail(err.Error())
	}
	if fs.NArg() > 0 {
		fail(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	procs, err := ints("procs", *procsF, 1)
	if err != nil {
		fail(err.Error())
	}
	for _, p := range procs {
		if p > runtime.NumCPU() {
			fail(fmt.Sprintf("-procs: %d is more than this machine's %d CPUs", p, runtime.NumCPU()))
		}
	}
	sizes, err := ints("sizes", *sizesF, 1)
	if err != nil {
		fail(err.Error())
	}
	if *durF <= 0 {
		fail("-dur: must be positive")
	}
	enc := json.NewEncoder(os.Stdout)
	for _, p := range procs {
		for _, s := range sizes {
			if err := enc.Encode(run(p, s, *durF)); err != nil {
				fail(err.Error())
			}
		}
	}
}
