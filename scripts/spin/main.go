// Command spin measures how long a runtime lock's waiter spins on this
// machine before it goes to sleep: the window the model prices as
// lock_spin_ns.
//
// lock_spinbit.go lock2 (Go 1.24+), for the M holding the spin bit (or woken
// from the tail of the sleepers' stack): mutexActiveSpinCount (4) rounds of
// procyield(mutexActiveSpinSize = 30), then mutexPassiveSpinCount (1)
// osyield, each followed by one load of the lock word; then it sleeps.
// lock_futex.go (Go <= 1.23) spins the same way (active_spin 4 x
// procyield(active_spin_cnt 30), passive_spin 1 osyield). procyield is the
// CPU's PAUSE instruction in a loop, and PAUSE takes from about 10 to about
// 140 cycles depending on the microarchitecture, so the window differs
// several-fold between machines; osyield is sched_yield(2).
//
// procyield(30) is timed through sync.runtime_doSpin, which the runtime
// defines as procyield(active_spin_cnt) (proc.go sync_runtime_doSpin);
// osyield as the sched_yield system call the runtime makes. Three lines of
// JSON, one per measure, each over -rounds timed repetitions: "procyield30"
// (one procyield(30)), "osyield" (one sched_yield), and "window" (the whole
// sequence as lock2 runs it: 4 x (procyield(30) + a load), then sched_yield
// and a load), with the count, mean, p50, p90, p99 and max in ns. Each
// repetition of procyield30 and osyield is timed over -batch calls and
// divided, so the clock's own cost stays out of it.
//
//	spin [-rounds 2000] [-batch 64]
//
// Linux only (sched_yield). Exit status 2 with one line for bad arguments.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"syscall"
	"time"
	_ "unsafe" // go:linkname
)

//go:linkname doSpin sync.runtime_doSpin
func doSpin()

// lock2's spin: mutexActiveSpinCount rounds of procyield, mutexPassiveSpinCount of osyield
const (
	activeSpinCount  = 4
	passiveSpinCount = 1
)

var word atomic.Uintptr

func osyield() { syscall.RawSyscall(syscall.SYS_SCHED_YIELD, 0, 0, 0) }

// window runs the waiter's side of lock2 against a lock word that stays locked.
func window() uintptr {
	var v uintptr
	for i := 0; i < activeSpinCount; i++ {
		doSpin()
		v |= word.Load()
	}
	for i := 0; i < passiveSpinCount; i++ {
		osyield()
		v |= word.Load()
	}
	return v
}

type stats struct {
	What  string  `json:"what"`
	N     int     `json:"n"`
	Batch int     `json:"batch"`
	Mean  float64 `json:"mean_ns"`
	P50   float64 `json:"p50_ns"`
	P90   float64 `json:"p90_ns"`
	P99   float64 `json:"p99_ns"`
	Max   float64 `json:"max_ns"`
	CPUs  int     `json:"cpus"`
}

func summarize(what string, batch int, xs []float64) stats {
	sort.Float64s(xs)
	q := func(p float64) float64 { return xs[int(p*float64(len(xs)-1)+0.5)] }
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return stats{What: what, N: len(xs), Batch: batch, Mean: sum / float64(len(xs)),
		P50: q(0.5), P90: q(0.9), P99: q(0.99), Max: xs[len(xs)-1], CPUs: runtime.NumCPU()}
}

// timed returns, for each of rounds repetitions, the ns per call of f over batch calls.
func timed(rounds, batch int, f func() uintptr) []float64 {
	xs := make([]float64, rounds)
	var sink uintptr
	for i := range xs {
		t := time.Now()
		for j := 0; j < batch; j++ {
			sink |= f()
		}
		xs[i] = float64(time.Since(t).Nanoseconds()) / float64(batch)
	}
	word.Store(sink) // keeps the loads
	return xs
}

func main() {
	fs := flag.NewFlagSet("spin", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // one line of our own instead of the usage text
	rounds := fs.Int("rounds", 2000, "timed repetitions of each measure")
	batch := fs.Int("batch", 64, "calls per timed repetition of procyield30 and osyield")
	if err := fs.Parse(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "spin:", err, "(usage: spin [-rounds N] [-batch N])")
		os.Exit(2)
	}
	if fs.NArg() != 0 || *rounds < 1 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "spin: -rounds and -batch must be positive integers, and no other arguments")
		os.Exit(2)
	}
	runtime.LockOSThread()
	word.Store(1) // "locked": the waiter never sees it free
	out := json.NewEncoder(os.Stdout)
	rows := []stats{
		summarize("procyield30", *batch, timed(*rounds, *batch, func() uintptr { doSpin(); return 0 })),
		summarize("osyield", *batch, timed(*rounds, *batch, func() uintptr { osyield(); return 0 })),
		summarize("window", 1, timed(*rounds, 1, window)),
	}
	for _, r := range rows {
		if err := out.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "spin:", err)
			os.Exit(1)
		}
	}
}
