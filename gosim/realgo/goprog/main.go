// Command gosimprobe measures Go's allocator for gosim (the Python package
// that models it; see docs/realgo.md in the gosim repository).
//
// Usage: gosimprobe spec.json   (writes one JSON document to stdout)
//
// The spec's mode picks what to measure:
//
//   - workload (workload.go): run goroutines that allocate pre-drawn sizes and
//     pointer flags (binary streams named in the spec), keep or drop the
//     objects, and report runtime.MemStats and every runtime/metrics sample at a
//     baseline and after the workload. Before the baseline the workload's
//     live heap is built (liveheap.go) and the runtime is brought to the
//     model's starting state (prepare.go).
//   - nelems (nelems.go): objects per span of each size class, counted from
//     heap-in-use steps.
//   - bench (bench.go): ns per allocation, one size at a time, objects dropped.
//   - scaling (scaling.go): one multi-P run, GC on or off, printed as one
//     ground-truth record; grid: many such runs, one process each.
//
// How the harness makes mallocgc see exactly the requested object:
//
//   - pointer-free, n bytes: make([]byte, n), so mallocgc(n, uint8, true);
//     sizes below 16 go to the tiny allocator, as in the model;
//   - pointerful, n bytes: make([]unsafe.Pointer, ceil(n/8)), so
//     mallocgc(8*ceil(n/8), unsafe.Pointer, true). A Go type with pointers is a
//     multiple of 8 bytes long, and every size class and page boundary is a
//     multiple of 8, so the size class, the malloc-header decision (n <= 512)
//     and the large-object page count of the rounded size are those of n;
//   - size 0: make returns the runtime's zerobase and allocates nothing;
//   - objects escape (they are stored through a pointer), so none is placed
//     on the stack.
//
// Everything the harness itself needs (goroutines, their stacks and sudogs,
// holder slices, metric sample buffers, the timer behind time.Sleep) is
// allocated before the baseline ReadMemStats; between the baseline and the
// final reading the only allocations are the workload's. The self-check
// harness_mallocs (an empty workload measured the same way) must be 0.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"
)

type goroutineSpec struct {
	N         int    `json:"n"`
	Size      uint32 `json:"size"`
	Ptr       bool   `json:"pointerful"`
	WorkNs    uint32 `json:"work_ns"`
	SizesFile string `json:"sizes_file"`
	PtrsFile  string `json:"ptrs_file"`
	WorkFile  string `json:"work_file"`
	Keep      int    `json:"keep"`  // 0 drop, -1 keep all, k > 0 keep the last k
	Touch     bool   `json:"touch"` // write each 4 KiB page of each object (alloc.go touch)
}

type caseSpec struct {
	Size   uint32 `json:"size"`
	Ptr    bool   `json:"pointerful"`
	N      int    `json:"n"`
	Warmup int    `json:"warmup"`
	Reps   int    `json:"reps"`
	Spans  int    `json:"spans"`
	MaxObj int    `json:"max_objects"`
}

type drainSpec struct {
	Size uint32 `json:"size"`
	Ptr  bool   `json:"pointerful"`
}

// prepSpec: how to bring the runtime to the model's starting state before
// the baseline (prepare.go).
type prepSpec struct {
	GC         bool        `json:"gc"`
	Drain      []drainSpec `json:"drain"`
	MSpanCache bool        `json:"mspancache"`
	FillHeap   bool        `json:"fill_heap"`
}

type spec struct {
	Mode       string          `json:"mode"`
	Goroutines []goroutineSpec `json:"goroutines"`
	Barrier    bool            `json:"barrier"`
	Pin        bool            `json:"pin"` // pin workload goroutines to their P (GC off only)
	Prepare    prepSpec        `json:"prepare"`
	LiveHeap   liveHeapSpec    `json:"live_heap"` // built before the baseline (liveheap.go)
	Cases      []caseSpec      `json:"cases"`
}

var (
	sinkSlot  [64]unsafe.Pointer // dropped objects (padded per goroutine)
	spinSink  uint64
	itersPerK float64 // spin iterations per 1000 ns
	clock0    time.Time
)

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		fail("reading %s: %v", path, err)
	}
	return b
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gosim probe: "+format+"\n", args...)
	os.Exit(3)
}

func main() {
	clock0 = time.Now()
	if len(os.Args) != 2 {
		fail("usage: %s spec.json", os.Args[0])
	}
	var sp spec
	if err := json.Unmarshal(mustRead(os.Args[1]), &sp); err != nil {
		fail("parsing %s: %v", os.Args[1], err)
	}
	var res map[string]any
	switch sp.Mode {
	case "scaling": // scaling.go: prints its own record
		runScaling(os.Args[1])
		return
	case "grid":
		runGrid(os.Args[1])
		return
	case "workload":
		res = runWorkload(&sp)
	case "nelems":
		res = runNelems(&sp)
	case "bench":
		res = runBench(&sp)
	default:
		fail("unknown mode %q", sp.Mode)
	}
	res["go_version"] = runtime.Version()
	res["goarch"] = runtime.GOARCH
	res["goos"] = runtime.GOOS
	res["gomaxprocs"] = runtime.GOMAXPROCS(0)
	res["num_cpu"] = runtime.NumCPU()
	res["gogc"] = os.Getenv("GOGC")
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(res); err != nil {
		fail("encoding output: %v", err)
	}
}
