// Command wakeup measures this machine's futex wake-to-run latency: how long
// a thread asleep in the kernel takes to run after another thread wakes it.
// The model prices that hand-off twice: a runtime lock's sleeper woken by an
// unlock (lock_futex.go / lock_spinbit.go futexwakeup: lock_wakeup_ns) and an
// idle M woken for a P (proc.go wakep -> notewakeup: m_wakeup_ns). Both are
// futexwakeup on Linux, so one measurement answers for both.
//
// For each load (busy threads spinning on their own CPUs, standing for the
// other Ps' work) and each pause (how long the sleeper has slept before the
// wake: a CPU idle longer may be halted deeper, and a virtual CPU descheduled
// by its host), -pairs pairs of OS threads take turns: the waiter sleeps in
// FUTEX_WAIT on its word; the waker pauses, stamps the time, stores the word
// and calls FUTEX_WAKE; the waiter stamps the time when it runs. Each
// (load, pause) prints one JSON line: the latencies' count, mean, p50, p90,
// p99 and max in ns.
//
//	wakeup [-loads 0,4] [-pauses 0,20us,200us,2ms] [-pairs 1] [-rounds 2000]
//
// Linux only (futex). Exit status 2 with one line for bad arguments.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

const (
	futexWait    = 0
	futexWake    = 1
	futexPrivate = 128
)

var epoch = time.Now()

func now() int64 { return int64(time.Since(epoch)) }

func futex(addr *uint32, op, val uintptr) {
	syscall.Syscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), op|futexPrivate, val, 0, 0, 0)
}

// spinUntil busy-waits (no sleep) until the clock reaches t.
func spinUntil(t int64) {
	for now() < t {
	}
}

type result struct {
	Load    int     `json:"load"`
	PauseNs int64   `json:"pause_ns"`
	Pairs   int     `json:"pairs"`
	N       int     `json:"n"`
	MeanNs  float64 `json:"mean_ns"`
	P50Ns   int64   `json:"p50_ns"`
	P90Ns   int64   `json:"p90_ns"`
	P99Ns   int64   `json:"p99_ns"`
	MaxNs   int64   `json:"max_ns"`
}

// pair runs rounds wake-ups of one waiter thread by one waker thread and
// returns the latencies (waiter's run stamp - waker's wake stamp).
func pair(rounds int, pause int64) []int64 {
	var word uint32
	var wakeAt int64
	lat := make([]int64, 0, rounds)
	done := make(chan struct{})
	ready := make(chan struct{})
	go func() { // the waiter
		runtime.LockOSThread()
		defer close(done)
		for i := 0; i < rounds; i++ {
			ready <- struct{}{}
			for atomic.LoadUint32(&word) == uint32(2*i) {
				futex(&word, futexWait, uintptr(2*i))
			}
			t := now()
			lat = append(lat, t-atomic.LoadInt64(&wakeAt))
			atomic.StoreUint32(&word, uint32(2*i+2))
		}
	}()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < rounds; i++ {
		<-ready
		// the waiter is about to sleep: give it time to get there, then pause
		spinUntil(now() + 5000 + pause)
		atomic.StoreInt64(&wakeAt, now())
		atomic.StoreUint32(&word, uint32(2*i+1))
		futex(&word, futexWake, 1)
		for atomic.LoadUint32(&word) != uint32(2*i+2) {
			runtime.Gosched()
		}
	}
	<-done
	return lat
}

func measure(load, pairs, rounds int, pause int64) result {
	var stop atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < load; i++ {
		wg.Add(1)
		go func() {
			runtime.LockOSThread()
			defer wg.Done()
			for !stop.Load() {
			}
		}()
	}
	var mu sync.Mutex
	var all []int64
	var pw sync.WaitGroup
	for i := 0; i < pairs; i++ {
		pw.Add(1)
		go func() {
			defer pw.Done()
			l := pair(rounds, pause)
			mu.Lock()
			all = append(all, l...)
			mu.Unlock()
		}()
	}
	pw.Wait()
	stop.Store(true)
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	q := func(f float64) int64 { return all[int(f*float64(len(all)-1))] }
	var sum float64
	for _, v := range all {
		sum += float64(v)
	}
	return result{Load: load, PauseNs: pause, Pairs: pairs, N: len(all),
		MeanNs: sum / float64(len(all)), P50Ns: q(0.5), P90Ns: q(0.9), P99Ns: q(0.99),
		MaxNs: all[len(all)-1]}
}

func bad(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "wakeup: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	loadsArg := flag.String("loads", "0", "busy threads beside the pairs, comma-separated")
	pausesArg := flag.String("pauses", "0,20us,200us,2ms", "the sleeper's time asleep before each wake, comma-separated durations")
	pairs := flag.Int("pairs", 1, "waiter/waker pairs at once")
	rounds := flag.Int("rounds", 2000, "wake-ups per pair and setting")
	flag.Parse()
	if flag.NArg() > 0 {
		bad("unexpected argument %q", flag.Arg(0))
	}
	if *pairs < 1 || *rounds < 1 {
		bad("-pairs and -rounds must be positive (got %d, %d)", *pairs, *rounds)
	}
	var loads []int
	for _, s := range strings.Split(*loadsArg, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 0 {
			bad("-loads: %q is not a count of threads", s)
		}
		if n+2*(*pairs) > runtime.NumCPU() {
			bad("-loads %d with %d pairs needs %d CPUs, this machine has %d", n, *pairs, n+2**pairs, runtime.NumCPU())
		}
		loads = append(loads, n)
	}
	var pauses []int64
	for _, s := range strings.Split(*pausesArg, ",") {
		s = strings.TrimSpace(s)
		if s == "0" {
			pauses = append(pauses, 0)
			continue
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 {
			bad("-pauses: %q is not a duration (e.g. 20us)", s)
		}
		pauses = append(pauses, int64(d))
	}
	runtime.GOMAXPROCS(runtime.NumCPU())
	enc := json.NewEncoder(os.Stdout)
	for _, l := range loads {
		for _, p := range pauses {
			if err := enc.Encode(measure(l, *pairs, *rounds, p)); err != nil {
				bad("%v", err)
			}
		}
	}
}
