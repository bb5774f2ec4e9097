package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// scaling mode: one multi-P allocation run with the GC on or off, printed as
// one ground-truth record (the format of gosim's
// experiments/groundtruth/go1.27-16core.jsonl; its README documents every
// field). grid mode: a list of such runs, each in a fresh process of this
// binary, one record per line on stdout.
//
// The workload: G goroutines, each in a tight loop allocating objects of one
// size (or a round-robin mix of sizes) and keeping only the last one reachable
// in its own cache-line-padded slot; optionally one byte written per 4 KiB of
// each object (touch) and work_iters xorshift steps after each allocation.
// mode gc runs GOGC=gogc with a warm-up and a measured window; mode nogc turns
// the collector off and times count_per_g allocations per goroutine whole. A
// ballast (ballast_mib MiB of pointerful 1 KiB nodes in a linked list) is built
// first and stays live to the end.

// scalingWorkload is one record's workload: the record carries these fields.
type scalingWorkload struct {
	Size       int     `json:"size"`
	Mix        []int   `json:"mix"`
	Kind       string  `json:"kind"`
	G          int     `json:"g"`
	Mode       string  `json:"mode"`
	GOGC       int     `json:"gogc"`
	BallastMiB int     `json:"ballast_mib"`
	Touch      bool    `json:"touch"`
	WarmS      float64 `json:"warm_s"`
	DurS       float64 `json:"dur_s"`
	CountPerG  int     `json:"count_per_g"`
	WorkIters  int     `json:"work_iters"`
	Repeat     int     `json:"repeat"` // 1-based, only in the tag
	Tag        string  `json:"tag"`
}

type scalingSpec struct {
	Mode   string          `json:"mode"`
	Record scalingWorkload `json:"record"`
}

// gridBlock expands to sizes (or the one mix) x procs x repeats records.
type gridBlock struct {
	Mode       string  `json:"mode"`
	Sizes      []int   `json:"sizes"`
	Mix        []int   `json:"mix"`
	Kind       string  `json:"kind"`
	Procs      []int   `json:"procs"`
	GPerP      int     `json:"g_per_p"`
	GOGC       int     `json:"gogc"`
	BallastMiB int     `json:"ballast_mib"`
	Touch      bool    `json:"touch"`
	WarmS      float64 `json:"warm_s"`
	DurS       float64 `json:"dur_s"`
	CountPerG  int     `json:"count_per_g"`
	WorkIters  int     `json:"work_iters"`
	Repeats    int     `json:"repeats"`
}

type gridSpec struct {
	Mode               string      `json:"mode"`
	AllowOversubscribe bool        `json:"allow_oversubscribe"`
	Blocks             []gridBlock `json:"blocks"`
	// ChildGODEBUG, when set, is the GODEBUG of every record's process (e.g.
	// gctrace=1,scavtrace=1: the runtime's per-cycle lines on stderr, before
	// that record's progress line); this process keeps its own.
	ChildGODEBUG string `json:"child_godebug"`
}

const (
	// batch: each goroutine publishes its allocation count every batch
	// allocations and checks for the end of the window as often.
	batch = 64
	// nogcBytesPerG: mode nogc's default allocation volume per goroutine
	// (count_per_g = nogcBytesPerG / size), as in the shared records.
	nogcBytesPerG = 128 << 20
	// the mutex profile fraction during the window: every contention event
	mutexFraction = 1
	// ballastNodeSize: the ballast's node, a pointer then padding
	ballastNodeSize = 1024
)

// The metrics a record carries (deltas over the window, except gauges: their
// value at the window's end).
var recordMetrics = []string{
	"/cpu/classes/gc/mark/assist:cpu-seconds",
	"/cpu/classes/gc/mark/dedicated:cpu-seconds",
	"/cpu/classes/gc/mark/idle:cpu-seconds",
	"/cpu/classes/gc/pause:cpu-seconds",
	"/cpu/classes/gc/total:cpu-seconds",
	"/cpu/classes/idle:cpu-seconds",
	"/cpu/classes/scavenge/assist:cpu-seconds",
	"/cpu/classes/scavenge/background:cpu-seconds",
	"/cpu/classes/scavenge/total:cpu-seconds",
	"/cpu/classes/total:cpu-seconds",
	"/cpu/classes/user:cpu-seconds",
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/allocs:bytes",
	"/gc/heap/allocs:objects",
	"/gc/heap/goal:bytes",
	"/memory/classes/heap/released:bytes",
	"/memory/classes/total:bytes",
	"/sync/mutex/wait/total:seconds",
}

// Histograms a record summarises over its window (optional: a release that
// lacks one leaves it out): how long goroutines waited runnable before they
// ran (every runnable -> running transition, proc.go), and the collector's
// stop-the-world pauses, whole and the part spent stopping the world
// (Go 1.22+). Keyed in the record's "sched" object by the short names.
var histMetrics = []struct{ name, key string }{
	{"/sched/latencies:seconds", "latencies"},
	{"/sched/pauses/total/gc:seconds", "gc_pauses"},
	{"/sched/pauses/stopping/gc:seconds", "gc_stopping"},
}

var gaugeMetrics = map[string]bool{
	"/gc/heap/goal:bytes":                 true,
	"/memory/classes/heap/released:bytes": true,
	"/memory/classes/total:bytes":         true,
}

// mallocgc is the runtime's allocator entry (malloc.go; linkname-accessible,
// go.dev/issue/67401). mallocgc(t.Size_, t, true) is exactly what new(T)
// compiles to (malloc.go newobject), so a type built with reflect at run time
// gives new([N]byte) for any N.
//
//go:linkname mallocgc runtime.mallocgc
func mallocgc(size uintptr, typ unsafe.Pointer, needzero bool) unsafe.Pointer

// abiType is the runtime type descriptor (*abi.Type) behind a reflect.Type:
// the interface's data word points at reflect.rtype, whose only field is
// abi.Type (reflect/type.go).
func abiType(t reflect.Type) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&t))[1]
}

// objectType: noscan is [n]byte; scan is two pointers then n-16 bytes of padding.
func objectType(n int, kind string) reflect.Type {
	byteT := reflect.TypeOf(byte(0))
	if kind == "noscan" {
		return reflect.ArrayOf(n, byteT)
	}
	ptrT := reflect.TypeOf((*byte)(nil))
	return reflect.StructOf([]reflect.StructField{
		{Name: "P0", Type: ptrT},
		{Name: "P1", Type: ptrT},
		{Name: "Pad", Type: reflect.ArrayOf(n-16, byteT)},
	})
}

// slot is one goroutine's sink and counters, two cache lines long so that
// neighbouring goroutines share no line (nor an adjacent-line prefetch pair).
type slot struct {
	sink   unsafe.Pointer
	allocs atomic.Int64
	_      [128 - 16]byte
}

type ballastNode struct {
	next *ballastNode
	_    [ballastNodeSize - 8]byte
}

var (
	ballast   *ballastNode
	stopAlloc atomic.Bool
	workSink  atomic.Uint64
)

func buildBallast(mib int) {
	for i := 0; i < mib*(1<<20)/ballastNodeSize; i++ {
		ballast = &ballastNode{next: ballast}
	}
}

func xorshift(x uint64, iters int) uint64 {
	for j := 0; j < iters; j++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	return x
}

// estimateWork times work_iters xorshift steps on this thread: ns per call.
func estimateWork(iters int) float64 {
	if iters <= 0 {
		return 0
	}
	calls := 20_000_000/iters + 1
	x := uint64(88172645463325252)
	t := time.Now()
	for i := 0; i < calls; i++ {
		x = xorshift(x, iters)
	}
	d := time.Since(t)
	workSink.Store(x)
	return float64(d.Nanoseconds()) / float64(calls)
}

type allocPlan struct {
	sizes []uintptr
	types []unsafe.Pointer
	touch bool
	work  int
}

// run allocates until limit allocations (limit > 0) or until stopAlloc.
func (pl *allocPlan) run(s *slot, limit int64) {
	sizes, types := pl.sizes, pl.types
	k := 0
	var n int64
	x := uint64(uintptr(unsafe.Pointer(s))) | 1
	for {
		m := int64(batch)
		if limit > 0 && limit-n < m {
			m = limit - n
		}
		for i := int64(0); i < m; i++ {
			sz := sizes[k]
			p := mallocgc(sz, types[k], true)
			if pl.touch {
				// the last byte of each 4 KiB of the object (of the object's
				// end for the last part): in a scan object that is padding,
				// never a pointer word
				for off := uintptr(4095); off < sz+4095; off += 4096 {
					*(*byte)(unsafe.Add(p, min(off, sz-1))) = 1
				}
			}
			s.sink = p
			k++
			if k == len(sizes) {
				k = 0
			}
			if pl.work > 0 {
				x = xorshift(x, pl.work)
			}
		}
		n += m
		s.allocs.Store(n)
		if (limit > 0 && n >= limit) || stopAlloc.Load() {
			break
		}
	}
	if pl.work > 0 {
		workSink.Add(x)
	}
}

// rusage: the getrusage(RUSAGE_SELF) counters a record carries
// (rusage_unix.go reads them).
type rusage struct {
	user, sys                     float64 // seconds
	minflt, majflt, nvcsw, nivcsw int64
}

// bytesAfter: the bytes of a goroutine's first n allocations, sizes taken
// round-robin from the first.
func (pl *allocPlan) bytesAfter(n int64) int64 {
	var cycle int64
	for _, sz := range pl.sizes {
		cycle += int64(sz)
	}
	k := int64(len(pl.sizes))
	b := n / k * cycle
	for _, sz := range pl.sizes[:n%k] {
		b += int64(sz)
	}
	return b
}

type sample struct {
	t       time.Time
	allocs  []int64
	metrics []metrics.Sample
	hists   []metrics.Sample
	ru      rusage
}

func takeSample(slots []*slot) *sample {
	// one metrics.Read for the counters and the histograms, so that they
	// describe (nearly) the same moment
	all := make([]metrics.Sample, len(recordMetrics)+len(histMetrics))
	for i, name := range recordMetrics {
		all[i].Name = name
	}
	for i, h := range histMetrics {
		all[len(recordMetrics)+i].Name = h.name
	}
	s := &sample{allocs: make([]int64, len(slots)),
		metrics: all[:len(recordMetrics)], hists: all[len(recordMetrics):]}
	for i, sl := range slots {
		s.allocs[i] = sl.allocs.Load()
	}
	s.t = time.Now()
	metrics.Read(all)
	s.ru = getRusage()
	return s
}

func metricValue(v metrics.Value) float64 {
	switch v.Kind() {
	case metrics.KindUint64:
		return float64(v.Uint64())
	case metrics.KindFloat64:
		return v.Float64()
	}
	fail("metric of unexpected kind %v", v.Kind())
	return 0
}

// metricDeltas: counters as deltas, gauges as their value at the end;
// uint64 metrics stay integers.
func metricDeltas(a, b *sample) map[string]any {
	out := map[string]any{}
	for i, name := range recordMetrics {
		va, vb := a.metrics[i].Value, b.metrics[i].Value
		if va.Kind() == metrics.KindBad {
			fail("this Go release has no runtime metric %s", name)
		}
		switch {
		case va.Kind() == metrics.KindUint64 && gaugeMetrics[name]:
			out[name] = vb.Uint64()
		case va.Kind() == metrics.KindUint64:
			out[name] = int64(vb.Uint64() - va.Uint64())
		case gaugeMetrics[name]:
			out[name] = metricValue(vb)
		default:
			out[name] = metricValue(vb) - metricValue(va)
		}
	}
	return out
}

// histDeltas: each histogram's events in the window (bucket counts b - a),
// summarised as count, mean and the 50th, 90th and 99th percentiles in
// seconds. A bucket stands for its midpoint in the mean; a percentile is the
// upper bound of the bucket it falls in (the lower one for the last, open
// bucket). Histograms this release lacks are left out.
func histDeltas(a, b *sample) map[string]any {
	out := map[string]any{}
	for i, h := range histMetrics {
		va, vb := a.hists[i].Value, b.hists[i].Value
		if va.Kind() != metrics.KindFloat64Histogram {
			continue
		}
		ha, hb := va.Float64Histogram(), vb.Float64Histogram()
		counts := make([]uint64, len(hb.Counts))
		var n uint64
		for j := range hb.Counts {
			counts[j] = hb.Counts[j] - ha.Counts[j]
			n += counts[j]
		}
		lo := func(j int) float64 { return hb.Buckets[j] }
		hi := func(j int) float64 { return hb.Buckets[j+1] }
		finite := func(x, other float64) float64 {
			if math.IsInf(x, 0) {
				return other
			}
			return x
		}
		sum := 0.0
		for j, c := range counts {
			if c > 0 {
				l, u := finite(lo(j), hi(j)), finite(hi(j), lo(j))
				sum += float64(c) * (l + u) / 2
			}
		}
		pct := func(q float64) float64 {
			var cum uint64
			for j, c := range counts {
				cum += c
				if c > 0 && float64(cum) >= q*float64(n) {
					return finite(hi(j), lo(j))
				}
			}
			return 0
		}
		s := map[string]any{"count": n}
		if n > 0 {
			s["mean_s"] = sum / float64(n)
			s["p50_s"], s["p90_s"], s["p99_s"] = pct(0.5), pct(0.9), pct(0.99)
		}
		out[h.key] = s
	}
	return out
}

// mutexProfile reads the whole mutex profile, keyed by stack.
func mutexProfile() map[[32]uintptr]runtime.BlockProfileRecord {
	var recs []runtime.BlockProfileRecord
	n, _ := runtime.MutexProfile(nil)
	for {
		recs = make([]runtime.BlockProfileRecord, n+64)
		var ok bool
		n, ok = runtime.MutexProfile(recs)
		if ok {
			recs = recs[:n]
			break
		}
	}
	out := make(map[[32]uintptr]runtime.BlockProfileRecord, len(recs))
	for _, r := range recs {
		out[r.Stack0] = r
	}
	return out
}

// cyclesPerSecond is the rate of the clock the mutex profile counts cycles
// in, as the runtime itself estimates it (runtime.go ticksPerSecond: cputicks
// against nanotime), read from the profile's legacy text header
// (runtime/pprof writes "cycles/second=" for debug > 0).
func cyclesPerSecond() int64 {
	var buf bytes.Buffer
	if err := pprof.Lookup("mutex").WriteTo(&buf, 1); err != nil {
		fail("reading the mutex profile: %v", err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "cycles/second="); ok {
			c, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				fail("mutex profile header %q: %v", line, err)
			}
			return c
		}
	}
	fail("the mutex profile has no cycles/second line")
	return 0
}

// isUnlockFrame: the lock's release itself (runtime.unlock, unlockWithRank,
// unlock2, sync.(*Mutex).Unlock, unlockSlow, (*RWMutex).RUnlock...), which a
// record is not attributed to.
func isUnlockFrame(fn string) bool {
	name := fn[strings.LastIndex(fn, ".")+1:]
	name = strings.ToLower(name)
	return strings.HasPrefix(name, "unlock") || strings.HasPrefix(name, "runlock")
}

type contentionEntry struct {
	Caller string  `json:"caller"`
	Count  int64   `json:"count"`
	Cycles int64   `json:"cycles"`
	Fn     string  `json:"fn"`
	Share  float64 `json:"share"`
}

// attribute: the releasing function of a contention record (the first frame
// that is not the unlock) and its caller. The profiler's bucket for
// contention it could not attribute to a stack
// (runtime._LostContendedRuntimeLock, mprof.go) is its own entry.
func attribute(stk []uintptr) (fn, caller string) {
	frames := runtime.CallersFrames(stk)
	var names []string
	for {
		f, more := frames.Next()
		if f.Function != "" {
			names = append(names, f.Function)
		}
		if !more {
			break
		}
	}
	if len(names) == 0 {
		return "(no symbol)", ""
	}
	i := 0
	for i < len(names)-1 && isUnlockFrame(names[i]) {
		i++
	}
	if i+1 < len(names) {
		caller = names[i+1]
	}
	return names[i], caller
}

func contention(before, after map[[32]uintptr]runtime.BlockProfileRecord) map[string]any {
	type agg struct {
		entry     contentionEntry
		topCycles int64 // the caller named is the one with most cycles
	}
	byFn := map[string]*agg{}
	var count, cycles int64
	records := 0
	for key, r := range after {
		dc, dy := r.Count, r.Cycles
		if b, ok := before[key]; ok {
			dc -= b.Count
			dy -= b.Cycles
		}
		if dc <= 0 && dy <= 0 {
			continue
		}
		records++
		count += dc
		cycles += dy
		fn, caller := attribute(r.Stack())
		a := byFn[fn]
		if a == nil {
			a = &agg{entry: contentionEntry{Fn: fn}, topCycles: -1}
			byFn[fn] = a
		}
		a.entry.Count += dc
		a.entry.Cycles += dy
		if dy > a.topCycles {
			a.topCycles = dy
			a.entry.Caller = caller
		}
	}
	top := make([]contentionEntry, 0, len(byFn))
	for _, a := range byFn {
		if cycles > 0 {
			a.entry.Share = float64(a.entry.Cycles) / float64(cycles)
		}
		top = append(top, a.entry)
	}
	sort.Slice(top, func(i, j int) bool {
		if top[i].Cycles != top[j].Cycles {
			return top[i].Cycles > top[j].Cycles
		}
		return top[i].Fn < top[j].Fn
	})
	cps := cyclesPerSecond()
	return map[string]any{
		"count_total":  count,
		"cycles_total": cycles,
		"cycles_per_s": cps,
		"records":      records,
		"seconds_est":  float64(cycles) / float64(cps),
		"top":          top,
	}
}

func checkWorkload(w *scalingWorkload) error {
	switch {
	case w.Kind != "noscan" && w.Kind != "scan":
		return fmt.Errorf("kind %q: expected noscan or scan", w.Kind)
	case w.Mode != "gc" && w.Mode != "nogc":
		return fmt.Errorf("mode %q: expected gc or nogc", w.Mode)
	case w.G < 1:
		return fmt.Errorf("g %d: expected 1 or more", w.G)
	case w.BallastMiB < 0:
		return fmt.Errorf("ballast_mib %d: expected 0 or more", w.BallastMiB)
	case w.WorkIters < 0:
		return fmt.Errorf("work_iters %d: expected 0 or more", w.WorkIters)
	case w.Mode == "gc" && (w.GOGC < 1 || w.DurS <= 0 || w.WarmS < 0):
		return fmt.Errorf("mode gc needs gogc >= 1, dur_s > 0 and warm_s >= 0")
	case w.Mode == "nogc" && w.CountPerG < 1:
		return fmt.Errorf("mode nogc needs count_per_g >= 1")
	case len(w.Mix) > 0 && w.Kind != "noscan":
		return fmt.Errorf("a mix is pointer-free: kind must be noscan")
	}
	sizes := w.Mix
	if len(sizes) == 0 {
		sizes = []int{w.Size}
	}
	for _, n := range sizes {
		if n < 1 {
			return fmt.Errorf("size %d: expected 1 or more", n)
		}
		if w.Kind == "scan" && (n < 24 || n%8 != 0) {
			return fmt.Errorf("size %d: a scan object (two pointers then padding) "+
				"is a multiple of 8 bytes, at least 24", n)
		}
	}
	return nil
}

// defaultTag: go1.27_gc_48_noscan_p4_r1, live<MiB> for a gc run with a
// ballast, then whatever differs from the shared file's runs.
func defaultTag(w *scalingWorkload, procs int) string {
	release := runtime.Version()
	if parts := strings.SplitN(release, ".", 3); len(parts) == 3 {
		release = parts[0] + "." + parts[1]
	}
	regime := w.Mode
	if w.BallastMiB > 0 {
		regime = fmt.Sprintf("live%d", w.BallastMiB)
		if w.Mode == "nogc" {
			regime = "nogc_" + regime
		}
	}
	if w.Mode == "gc" && w.GOGC != 100 {
		regime += fmt.Sprintf("_gogc%d", w.GOGC)
	}
	size := strconv.Itoa(w.Size)
	if len(w.Mix) > 0 {
		ss := make([]string, len(w.Mix))
		for i, n := range w.Mix {
			ss[i] = strconv.Itoa(n)
		}
		size = "mix" + strings.Join(ss, "-")
	}
	tag := fmt.Sprintf("%s_%s_%s_%s_p%d", release, regime, size, w.Kind, procs)
	if w.G != procs {
		tag += fmt.Sprintf("_g%d", w.G)
	}
	if w.WorkIters > 0 {
		tag += fmt.Sprintf("_w%d", w.WorkIters)
	}
	if !w.Touch {
		tag += "_notouch"
	}
	return tag + fmt.Sprintf("_r%d", max(w.Repeat, 1))
}

// runScaling runs one record's workload and prints the record.
func runScaling(path string) {
	var sp scalingSpec
	dec := json.NewDecoder(bytes.NewReader(mustRead(path)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		fail("parsing %s: %v", path, err)
	}
	w := &sp.Record
	if err := checkWorkload(w); err != nil {
		fail("%s: %v", path, err)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(measureScaling(w)); err != nil {
		fail("encoding output: %v", err)
	}
}

func measureScaling(w *scalingWorkload) map[string]any {
	procs := runtime.GOMAXPROCS(0)
	gogc := w.GOGC
	if w.Mode == "nogc" {
		gogc = -1
	}
	debug.SetGCPercent(gogc)
	debug.SetMemoryLimit(math.MaxInt64)
	runtime.SetMutexProfileFraction(0)

	sizes := w.Mix
	if len(sizes) == 0 {
		sizes = []int{w.Size}
	}
	plan := &allocPlan{touch: w.Touch, work: w.WorkIters}
	for _, n := range sizes {
		plan.sizes = append(plan.sizes, uintptr(n))
		plan.types = append(plan.types, abiType(objectType(n, w.Kind)))
	}
	buildBallast(w.BallastMiB)
	if w.Mode == "gc" {
		runtime.GC() // the first cycle marks the whole ballast: the goal starts at 2x it
	}
	workNs := estimateWork(w.WorkIters)

	slots := make([]*slot, w.G)
	for i := range slots {
		slots[i] = new(slot)
	}
	limit := int64(0)
	if w.Mode == "nogc" {
		limit = int64(w.CountPerG)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			plan.run(s, limit)
		}()
	}
	var before, after *sample
	var profBefore map[[32]uintptr]runtime.BlockProfileRecord
	begin := func() {
		profBefore = mutexProfile()
		runtime.SetMutexProfileFraction(mutexFraction)
		before = takeSample(slots)
	}
	if w.Mode == "gc" {
		close(start)
		time.Sleep(time.Duration(w.WarmS * float64(time.Second)))
		begin()
		time.Sleep(time.Duration(w.DurS * float64(time.Second)))
		after = takeSample(slots)
		runtime.SetMutexProfileFraction(0)
		stopAlloc.Store(true)
		wg.Wait()
	} else {
		begin()
		close(start)
		wg.Wait()
		after = takeSample(slots)
		runtime.SetMutexProfileFraction(0)
	}
	profAfter := mutexProfile()

	var allocs, nbytes int64
	gmin, gmax := int64(math.MaxInt64), int64(0)
	for i, s := range slots {
		allocs += after.allocs[i] - before.allocs[i]
		nbytes += plan.bytesAfter(after.allocs[i]) - plan.bytesAfter(before.allocs[i])
		total := s.allocs.Load()
		gmin, gmax = min(gmin, total), max(gmax, total)
	}
	elapsed := after.t.Sub(before.t).Nanoseconds()
	perS := float64(allocs) / (float64(elapsed) / 1e9)
	m := metricDeltas(before, after)
	tag := w.Tag
	if tag == "" {
		tag = defaultTag(w, procs)
	}
	warm, dur, count := w.WarmS, w.DurS, w.CountPerG
	if w.Mode == "nogc" {
		warm, dur = 0, 0
	} else {
		count = 0
	}
	rec := map[string]any{
		"alloc":               "new",
		"allocs":              allocs,
		"allocs_per_s":        perS,
		"allocs_per_s_per_p":  perS / float64(procs),
		"ballast_mib":         w.BallastMiB,
		"batch":               batch,
		"bytes":               nbytes,
		"contention":          contention(profBefore, profAfter),
		"count_per_g":         count,
		"cpu_gc_s":            m["/cpu/classes/gc/total:cpu-seconds"],
		"cpu_scavenge_s":      m["/cpu/classes/scavenge/total:cpu-seconds"],
		"cpu_total_s":         m["/cpu/classes/total:cpu-seconds"],
		"dur_s":               dur,
		"elapsed_ns":          elapsed,
		"g":                   w.G,
		"g_allocs_max":        gmax,
		"g_allocs_min":        gmin,
		"gc_cycles":           m["/gc/cycles/total:gc-cycles"],
		"go":                  runtime.Version(),
		"godebug":             os.Getenv("GODEBUG"),
		"gogc":                gogc,
		"gomaxprocs":          procs,
		"goosarch":            runtime.GOOS + "/" + runtime.GOARCH,
		"heap_allocs_objects": m["/gc/heap/allocs:objects"],
		"kind":                w.Kind,
		"majflt":              after.ru.majflt - before.ru.majflt,
		"memprofilerate":      runtime.MemProfileRate,
		"metrics":             m,
		"minflt":              after.ru.minflt - before.ru.minflt,
		"mode":                w.Mode,
		"mprof_rate":          mutexFraction,
		"mutex_wait_s":        m["/sync/mutex/wait/total:seconds"],
		"ncpu":                runtime.NumCPU(),
		"nivcsw":              after.ru.nivcsw - before.ru.nivcsw,
		"ns_per_alloc_per_g":  float64(elapsed) * float64(w.G) / float64(allocs),
		"nvcsw":               after.ru.nvcsw - before.ru.nvcsw,
		"rusage_sys_s":        after.ru.sys - before.ru.sys,
		"rusage_user_s":       after.ru.user - before.ru.user,
		"sched":               histDeltas(before, after),
		"size":                sizes[0],
		"tag":                 tag,
		"touch":               w.Touch,
		"warm_s":              warm,
		"work_iters":          w.WorkIters,
		"work_ns_est":         workNs,
	}
	if len(w.Mix) > 0 {
		total := 0
		for _, n := range w.Mix {
			total += n
		}
		rec["mix"] = w.Mix
		// the mean to a whole byte, as readers of the format take size
		rec["size"] = int(math.Round(float64(total) / float64(len(w.Mix))))
	}
	return rec
}

// expand: each block's sizes (or its one mix) x procs x repeats, in that order.
func (b *gridBlock) expand() ([]scalingWorkload, []int) {
	var ws []scalingWorkload
	var procs []int
	sizes := b.Sizes
	if len(b.Mix) > 0 {
		sizes = []int{0}
	}
	for _, size := range sizes {
		for _, p := range b.Procs {
			for r := 1; r <= b.Repeats; r++ {
				w := scalingWorkload{
					Size: size, Mix: b.Mix, Kind: b.Kind, G: p * b.GPerP, Mode: b.Mode,
					GOGC: b.GOGC, BallastMiB: b.BallastMiB, Touch: b.Touch,
					WarmS: b.WarmS, DurS: b.DurS, CountPerG: b.CountPerG,
					WorkIters: b.WorkIters, Repeat: r,
				}
				if w.Mode == "nogc" && w.CountPerG == 0 {
					mean := size
					if len(b.Mix) > 0 {
						mean = 0
						for _, n := range b.Mix {
							mean += n
						}
						mean /= len(b.Mix)
					}
					w.CountPerG = max(nogcBytesPerG/max(mean, 1), 1)
				}
				ws = append(ws, w)
				procs = append(procs, p)
			}
		}
	}
	return ws, procs
}

// runGrid runs every record of a grid spec in its own process and prints the
// records, one JSON line each, in order; progress goes to stderr.
func runGrid(path string) {
	var sp gridSpec
	dec := json.NewDecoder(bytes.NewReader(mustRead(path)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		fail("parsing %s: %v", path, err)
	}
	var ws []scalingWorkload
	var procs []int
	for i := range sp.Blocks {
		b := &sp.Blocks[i]
		if b.GPerP < 1 || b.Repeats < 1 || len(b.Procs) == 0 ||
			(len(b.Sizes) == 0 && len(b.Mix) == 0) {
			fail("%s: block %d: needs sizes (or a mix), procs, g_per_p >= 1 and repeats >= 1",
				path, i)
		}
		bw, bp := b.expand()
		for j := range bw {
			if err := checkWorkload(&bw[j]); err != nil {
				fail("%s: block %d: %v", path, i, err)
			}
			if bp[j] < 1 || (bp[j] > runtime.NumCPU() && !sp.AllowOversubscribe) {
				fail("%s: block %d: GOMAXPROCS %d: this machine has %d CPUs "+
					"(allow_oversubscribe runs it anyway)", path, i, bp[j], runtime.NumCPU())
			}
		}
		ws = append(ws, bw...)
		procs = append(procs, bp...)
	}
	self, err := os.Executable()
	if err != nil {
		fail("finding this program: %v", err)
	}
	dir, err := os.MkdirTemp("", "gosimprobe-grid-")
	if err != nil {
		fail("temporary directory: %v", err)
	}
	defer os.RemoveAll(dir)
	out := bufio.NewWriter(os.Stdout)
	t0 := time.Now()
	for i := range ws {
		specPath := filepath.Join(dir, fmt.Sprintf("record-%d.json", i))
		js, err := json.Marshal(scalingSpec{Mode: "scaling", Record: ws[i]})
		if err != nil {
			fail("encoding a record spec: %v", err)
		}
		if err := os.WriteFile(specPath, js, 0o644); err != nil {
			fail("writing %s: %v", specPath, err)
		}
		rec := runChild(self, specPath, ws[i], procs[i], sp.ChildGODEBUG)
		if _, err := out.Write(append(rec, '\n')); err != nil {
			fail("writing a record: %v", err)
		}
		if err := out.Flush(); err != nil {
			fail("writing a record: %v", err)
		}
		var r struct {
			Tag       string  `json:"tag"`
			PerS      float64 `json:"allocs_per_s"`
			GCCycles  int64   `json:"gc_cycles"`
			ElapsedNs int64   `json:"elapsed_ns"`
		}
		if err := json.Unmarshal(rec, &r); err != nil {
			fail("record %d: %v", i+1, err)
		}
		fmt.Fprintf(os.Stderr, "gosim probe: [%d/%d] %s: %.3g M allocs/s, %d GC cycles "+
			"(%.1f s in all)\n", i+1, len(ws), r.Tag, r.PerS/1e6, r.GCCycles,
			time.Since(t0).Seconds())
	}
}

// runChild runs one record in a fresh process: GOMAXPROCS and GOGC set from
// its start, no memory limit, GODEBUG as this process has it unless godebug
// names another.
func runChild(self, specPath string, w scalingWorkload, procs int, godebug string) []byte {
	gogc := strconv.Itoa(w.GOGC)
	if w.Mode == "nogc" {
		gogc = "off"
	}
	cmd := exec.Command(self, specPath)
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOMAXPROCS=") && !strings.HasPrefix(kv, "GOGC=") &&
			!strings.HasPrefix(kv, "GOMEMLIMIT=") &&
			!(godebug != "" && strings.HasPrefix(kv, "GODEBUG=")) {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "GOMAXPROCS="+strconv.Itoa(procs), "GOGC="+gogc)
	if godebug != "" {
		cmd.Env = append(cmd.Env, "GODEBUG="+godebug)
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		fail("record %s (GOMAXPROCS=%d): %v", specPath, procs, err)
	}
	rec := bytes.TrimSpace(stdout)
	if !json.Valid(rec) || bytes.Count(rec, []byte("\n")) != 0 {
		fail("record %s printed something other than one JSON line: %.300s", specPath, rec)
	}
	return rec
}
