// Command mmaplock measures what the model's mmap_write_ns stands for: how
// long growing a mapping the way the Go heap grows (mheap.go grow ->
// mem_linux.go sysMap: an mmap with MAP_FIXED over a PROT_NONE reservation,
// next to the part already mapped read-write) takes while other threads
// fault pages into that mapping, and how long those faults take around it.
//
// For each setting (-faulters N): one region of -grows x -chunk bytes is
// reserved PROT_NONE; its first chunk is mapped read-write. N faulter threads
// take the next 4 KiB page of the mapped part (an atomic counter) and write one
// byte to it, timing each write (a first write is a page fault). A grower
// thread maps the next chunk whenever the faulters have used half of the
// last one, timing each mmap. Every thread is locked to its own OS thread.
// One JSON line per setting goes to stdout: the mmap's duration (p50, p90,
// p99, mean), the faults' (p50, p99, mean), the faults slower than -slow
// (count, per growth, mean), and getrusage's voluntary context switches and
// minor faults over the setting. Two controls follow each setting: the
// faulters write into another mapping that the growth does not touch
// ("separate"), and the whole region is mapped read-write up front so the
// grower only paces the faulters and never calls mmap ("grow": false): what
// the faulters sleep without any growth at all; and, with the region mapped
// up front too, the grower maps a new 64 KiB mapping elsewhere at each step
// and writes its first byte, as sysAlloc gives the GC bits arenas their
// memory ("new_maps": true): whether an mmap that does not touch the
// faulters' mapping makes them sleep; it then zeroes the rest of the new
// mapping, page by page, as newArenaMayUnlock zeroes a spare arena under
// gcBitsArenas.lock (timed apart: "zero_*", the lock's hold).
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

const pageSize = 4096

// newMapBytes: one GC bits arena (mheap.go gcBitsChunkBytes), what the
// new-mappings control maps at each step
const newMapBytes = 64 << 10

func mmap(addr, length uintptr, prot, flags int) (uintptr, error) {
	r, _, errno := syscall.Syscall6(syscall.SYS_MMAP, addr, length, uintptr(prot),
		uintptr(flags), ^uintptr(0), 0)
	if errno != 0 {
		return 0, errno
	}
	return r, nil
}

// ptr is the address of mapped memory outside the Go heap.
func ptr(a uintptr) unsafe.Pointer { return unsafe.Pointer(a) } //nolint:govet

func munmap(addr, length uintptr) {
	syscall.Syscall(syscall.SYS_MUNMAP, addr, length, 0)
}

// spin waits a little without leaving the CPU: a goroutine locked to its thread
// that yields makes its M sleep until it is scheduled again, a context switch
// the measure would count
func spin() {
	for i := 0; i < 64; i++ {
		spinSink++
	}
}

var spinSink int

type stats struct {
	P50, P90, P99, Mean float64
	N                   int
}

func summarize(ns []int64) stats {
	if len(ns) == 0 {
		return stats{}
	}
	s := append([]int64(nil), ns...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum float64
	for _, v := range s {
		sum += float64(v)
	}
	q := func(f float64) float64 { return float64(s[int(f*float64(len(s)-1))]) }
	return stats{P50: q(0.5), P90: q(0.9), P99: q(0.99), Mean: sum / float64(len(s)), N: len(s)}
}

type result struct {
	Faulters       int     `json:"faulters"`
	Separate       bool    `json:"separate"`
	Grow           bool    `json:"grow"`
	NewMaps        bool    `json:"new_maps"`
	Grows          int     `json:"grows"`
	ChunkBytes     int     `json:"chunk_bytes"`
	MmapP50Ns      float64 `json:"mmap_p50_ns"`
	MmapP90Ns      float64 `json:"mmap_p90_ns"`
	MmapP99Ns      float64 `json:"mmap_p99_ns"`
	MmapMeanNs     float64 `json:"mmap_mean_ns"`
	ZeroP50Ns      float64 `json:"zero_p50_ns"`
	ZeroMeanNs     float64 `json:"zero_mean_ns"`
	Faults         int     `json:"faults"`
	FaultP50Ns     float64 `json:"fault_p50_ns"`
	FaultP99Ns     float64 `json:"fault_p99_ns"`
	FaultMeanNs    float64 `json:"fault_mean_ns"`
	SlowNs         int64   `json:"slow_threshold_ns"`
	SlowFaults     int     `json:"slow_faults"`
	SlowPerGrow    float64 `json:"slow_faults_per_grow"`
	SlowMeanNs     float64 `json:"slow_fault_mean_ns"`
	Nvcsw          int64   `json:"nvcsw"`
	NvcswPerGrow   float64 `json:"nvcsw_per_grow"`
	Minflt         int64   `json:"minflt"`
	WallS          float64 `json:"wall_s"`
	GOOSARCH       string  `json:"goosarch"`
	GoVersion      string  `json:"go"`
	NumCPU         int     `json:"ncpu"`
}

func rusage() (nvcsw, minflt int64) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Nvcsw, ru.Minflt
}

func run(faulters, grows, chunk int, slow time.Duration, separate, grow, mapNew bool) (result, error) {
	total := uintptr(grows+1) * uintptr(chunk)
	base, err := mmap(0, total, syscall.PROT_NONE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return result{}, fmt.Errorf("reserve %d bytes: %w", total, err)
	}
	defer munmap(base, total)
	rw := syscall.PROT_READ | syscall.PROT_WRITE
	fixed := syscall.MAP_PRIVATE | syscall.MAP_ANON | syscall.MAP_FIXED
	first := uintptr(chunk)
	if !grow || mapNew { // the controls without growth: all of it read-write from the start
		first = total
	}
	if _, err := mmap(base, first, rw, fixed); err != nil {
		return result{}, fmt.Errorf("map the first chunk: %w", err)
	}
	// where the faulters write: the growing mapping itself, or (-separate, the
	// control) another mapping, all of it read-write from the start, that the
	// growth does not touch
	target := base
	if separate {
		other, err := mmap(0, total, rw, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err != nil {
			return result{}, fmt.Errorf("map the separate region: %w", err)
		}
		defer munmap(other, total)
		target = other
	}
	pagesPerChunk := int64(chunk / pageSize)
	lastPage := int64(grows+1) * pagesPerChunk
	var mapped atomic.Int64 // pages mapped read-write
	mapped.Store(pagesPerChunk)
	var next atomic.Int64 // the next page to fault
	var done atomic.Bool
	perFaulter := int(lastPage)/faulters + 1
	lat := make([][]int64, faulters)
	for i := range lat {
		lat[i] = make([]int64, 0, perFaulter)
	}
	mmapNs := make([]int64, 0, grows)
	grown := 0
	var maps []uintptr // the new-mappings control's
	var zeroNs []int64
	defer func() {
		for _, m := range maps {
			munmap(m, newMapBytes)
		}
	}()
	var wg sync.WaitGroup
	start := make(chan struct{})
	nv0, mf0 := rusage()
	t0 := time.Now()
	wg.Add(1)
	go func() { // the grower
		defer wg.Done()
		runtime.LockOSThread()
		<-start
		for g := 1; g <= grows; g++ {
			for next.Load() < mapped.Load()-pagesPerChunk/2 {
				if done.Load() {
					return
				}
				spin()
			}
			if mapNew {
				a := time.Now()
				m, err := mmap(0, newMapBytes, rw, syscall.MAP_PRIVATE|syscall.MAP_ANON)
				if err != nil {
					fmt.Fprintln(os.Stderr, "mmaplock: new mapping:", err)
					os.Exit(1)
				}
				*(*byte)(ptr(m)) = 1 // the arena's header
				mmapNs = append(mmapNs, int64(time.Since(a)))
				maps = append(maps, m)
				z := time.Now()
				for off := uintptr(pageSize); off < newMapBytes; off += pageSize {
					*(*byte)(ptr(m + off)) = 0 // memclr reaching each page
				}
				zeroNs = append(zeroNs, int64(time.Since(z)))
			} else if grow {
				addr := base + uintptr(g)*uintptr(chunk)
				a := time.Now()
				if _, err := mmap(addr, uintptr(chunk), rw, fixed); err != nil {
					fmt.Fprintln(os.Stderr, "mmaplock: grow:", err)
					os.Exit(1)
				}
				mmapNs = append(mmapNs, int64(time.Since(a)))
			}
			grown++
			mapped.Add(pagesPerChunk)
		}
	}()
	for f := 0; f < faulters; f++ {
		wg.Add(1)
		go func(f int) {
			defer wg.Done()
			runtime.LockOSThread()
			<-start
			for {
				p := next.Add(1) - 1
				if p >= lastPage {
					return
				}
				for p >= mapped.Load() { // ahead of the grower: wait for it
					spin()
				}
				b := (*byte)(ptr(target + uintptr(p)*pageSize))
				a := time.Now()
				*b = 1
				lat[f] = append(lat[f], int64(time.Since(a)))
			}
		}(f)
	}
	close(start)
	wg.Wait()
	done.Store(true)
	wall := time.Since(t0)
	nv1, mf1 := rusage()
	var all, slows []int64
	for _, l := range lat {
		all = append(all, l...)
		for _, v := range l {
			if v >= int64(slow) {
				slows = append(slows, v)
			}
		}
	}
	m, fl, sl, zs := summarize(mmapNs), summarize(all), summarize(slows), summarize(zeroNs)
	return result{
		Faulters: faulters, Separate: separate, Grow: grow, NewMaps: mapNew, Grows: grown, ChunkBytes: chunk,
		MmapP50Ns: m.P50, MmapP90Ns: m.P90, MmapP99Ns: m.P99, MmapMeanNs: m.Mean,
		ZeroP50Ns: zs.P50, ZeroMeanNs: zs.Mean,
		Faults: fl.N, FaultP50Ns: fl.P50, FaultP99Ns: fl.P99, FaultMeanNs: fl.Mean,
		SlowNs: int64(slow), SlowFaults: sl.N, SlowPerGrow: float64(sl.N) / float64(max(grown, 1)),
		SlowMeanNs: sl.Mean, Nvcsw: nv1 - nv0,
		NvcswPerGrow: float64(nv1-nv0) / float64(max(grown, 1)), Minflt: mf1 - mf0,
		WallS: wall.Seconds(), GOOSARCH: runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion: runtime.Version(), NumCPU: runtime.NumCPU(),
	}, nil
}

func main() {
	faulters := flag.String("faulters", "1,3,7,11,15", "comma-separated faulter thread counts")
	grows := flag.Int("grows", 64, "chunks mapped after the first, per setting")
	chunk := flag.Int("chunk", 4<<20, "bytes per growth (mheap.go grow: 4 MiB)")
	slow := flag.Duration("slow", 10*time.Microsecond, "a fault at least this long counts as slow (slept)")
	control := flag.Bool("control", true, "after each setting, its two controls: the faulters writing to another mapping, and no growth at all")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mmaplock: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	if *grows < 1 || *chunk < pageSize || *chunk%pageSize != 0 {
		fmt.Fprintln(os.Stderr, "mmaplock: -grows must be >= 1 and -chunk a positive multiple of 4096")
		os.Exit(2)
	}
	var ns []int
	for _, s := range strings.Split(*faulters, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "mmaplock: -faulters: %q is not a positive count\n", s)
			os.Exit(2)
		}
		ns = append(ns, n)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, n := range ns {
		runtime.GOMAXPROCS(n + 1)
		type mode struct{ separate, grow, newMaps bool }
		modes := []mode{{false, true, false}}
		if *control {
			modes = append(modes, mode{true, true, false}, mode{false, false, false},
				mode{false, false, true})
		}
		for _, m := range modes {
			r, err := run(n, *grows, *chunk, *slow, m.separate, m.grow, m.newMaps)
			if err != nil {
				fmt.Fprintln(os.Stderr, "mmaplock:", err)
				os.Exit(1)
			}
			if err := enc.Encode(r); err != nil {
				fmt.Fprintln(os.Stderr, "mmaplock:", err)
				os.Exit(1)
			}
		}
	}
}
