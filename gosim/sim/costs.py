"""The cost model: every time the simulation charges, in one place.

Each parameter has a documented default and source. Per-call costs are in ns;
``*_per_byte_ns`` and ``*_per_page_ns`` are multiplied by bytes or 8 KiB pages.
A scenario may override any parameter with a constant or a distribution
(``costs: {pagealloc_ns: {dist: lognormal, mean: 700, sigma: 0.4}}``); a design
preset may carry its own overrides (e.g. the treap-era heap cost of go1.12);
a calibration profile measured from the real Go runtime can replace the
defaults (``gosim calibrate``). Precedence: defaults < design < profile < scenario.

Sources are abbreviated; :data:`SOURCES` says what each abbreviation stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the abbreviations used in the parameters' ``source``
SOURCES: dict[str, str] = {
    "[RG]": "ns per allocation measured with the real runtime on the 2-core development "
            "machine (Go 1.27, GOMAXPROCS=1; table in docs/realgo.md, reproduced by "
            "gosim calibrate)",
    "[DD35112]": "Go design doc 35112, Scaling the Go page allocator "
                 "(https://go.googlesource.com/proposal/+/master/design/"
                 "35112-scaling-the-page-allocator.md)",
    "[TCM]": "gperftools' tcmalloc design notes "
             "(https://gperftools.github.io/gperftools/tcmalloc.html)",
    "[GO]": "the Go source file named (src/runtime/ in https://go.googlesource.com/go)",
}


@dataclass(frozen=True)
class CostParameter:
    name: str
    default: float
    unit: str
    help: str
    source: str


def _p(name: str, default: float, unit: str, help: str, source: str) -> CostParameter:
    return CostParameter(name, default, unit, help, source)


COST_PARAMETERS: dict[str, CostParameter] = {p.name: p for p in (
    # -- the fast path -------------------------------------------------------------
    _p("malloc_fast_ns", 12, "ns", "mallocgc small-object fast path (nextFreeFast + bookkeeping)",
       "[RG] 19-21 ns per 48 B allocation with the GC on (memory reused), incl. amortised refills"),
    _p("tiny_fast_ns", 6, "ns", "mallocgc tiny path when the object fits the current block",
       "[RG] 13-15 ns per 8 B pointer-free (tiny) allocation, incl. a new block every other one"),
    _p("runtime_heap_bytes", 0, "bytes", "the runtime's and the program's own heap objects "
       "apart from the workload's, live the whole run: counted in heapLive from the start "
       "and marked every cycle (scanning them is part of gc_mark_root_ns)",
       "0 by default and in every profile; go1.27 on 16 cores measures 50791, the intercept "
       "of the real heapScanWork per cycle against GOMAXPROCS (gcpacertrace; "
       "docs/decisions.md, 'The runtime's own heap')"),
    _p("runtime_heap_per_p_bytes", 0, "bytes/P", "with runtime_heap_bytes: that heap's "
       "growth per P (allp's p structs, the mark workers' goroutines and descriptors)",
       "0 by default and in every profile; 22725, the slope of the same line"),
    _p("runtime_init_spans", 0, "0/1", "1: the heap starts with the spans the go1.27 runtime "
       "and the measuring program allocate before the workload (small-object spans, stacks, "
       "work buffers), replayed through the model's allocator before time 0, each on the P "
       "that allocated it, and with the collector on their start-up garbage freed: the "
       "layout that decides what the Ps' page caches hold (gosim/runtime/initspans.py); the "
       "heap's base is padded as the recorded process's was (random_heap_base)",
       "[RG] measured with uprobes by scripts/measure.py pagecache (the file "
       "init_spans_go1.27.yaml in gosim/runtime); 0 by default (an empty, aligned heap)"),
    _p("random_heap_base", 0, "0/1", "1: the heap's first growth marks a random 0-511 pages "
       "at the start of its first 4 MiB chunk allocated and released (go1.27's randomized heap "
       "base), so its first free page and the 64-page blocks the page caches take sit at a "
       "random offset: the count is the start-up recording's with runtime_init_spans, else "
       "drawn from the run's seed (heap_base_padding_pages sets it)",
       "[GO] mheap.go grow (firstGrow && randomizeHeapBase), mpagealloc.go "
       "markRandomPaddingPages, GOEXPERIMENT RandomizedHeapBase64 (on by default in go1.27); "
       "0 by default: an experiment (docs/decisions.md)"),
    _p("heap_base_padding_pages", 0, "pages", "with random_heap_base: the padding's page count "
       "(1-511) instead of the recorded or drawn one (to replay one real process, whose count "
       "scripts/measure.py pagecache reads with a uprobe); 0: recorded or drawn",
       "[GO] mheap.go grow: 22 random bits (nextHeapRandBits) aligned down to a page, in pages"),
    _p("gc_flush_idle_page_caches", 0, "0/1", "1: at a cycle's end, once the world runs "
       "again, the page cache of every P still idle (its goroutine waiting for the chain of "
       "woken Ms, or nothing to run) goes back to the page allocator, one P at a time under "
       "mheap.lock (each flush charged pagecache_refill_ns): the P refills at its next span",
       "[GO] mgc.go gcMarkTermination (forEachP: pcache.flush for _Pidle Ps), mpagecache.go "
       "flush; 0 by default and in every profile: an experiment (docs/decisions.md)"),
    _p("gc_write_barrier_ns", 0, "ns", "the program's store of the new object's pointer into a "
       "heap slot while the collector marks: the write barrier puts the old and the new "
       "pointer in the P's wbBuf, and its flush looks each up (findObject, mark bit)",
       "[GO] mbarrier.go, mwbbuf.go wbBufFlush1; 0 by default, fitted in the 16-core profile "
       "(docs/groundtruth.md)"),
    # -- memory out of cache (off while every cold_* cost is 0) --------------------
    _p("llc_bytes", 32 << 20, "bytes", "the last-level cache: a heap with more bytes in use "
       "is out of cache, so reused memory and span metadata are read and written from DRAM",
       "typical server LLC; the cold_* costs below apply only beyond it"),
    _p("cold_alloc_ns", 0, "ns", "an allocation from reused memory of a heap out of cache: "
       "its first line's miss", "0 by default; fitted in the 16-core profile"),
    _p("cold_per_byte_ns", 0, "ns/byte", "zeroing reused memory of a heap out of cache, per "
       "byte (streamed from DRAM)", "0 by default; fitted in the 16-core profile"),
    _p("cold_span_ns", 0, "ns", "sweeping a span of a heap out of cache: its mspan, mark "
       "and allocation bits from DRAM", "0 by default; fitted in the 16-core profile"),
    _p("remote_per_byte_ns", 0, "ns/byte", "zeroing reused memory that another P wrote last "
       "(its lines sit in that core's cache and come over by cache-to-cache transfers), per "
       "byte; not charged where the heap is out of cache (the cold_* costs apply)",
       "0 by default (one P, or a 2-core machine, cannot show it); fitted in the 16-core "
       "profile"),
    _p("remote_per_p_growth", 0, "1/P", "with remote_per_byte_ns: each P beyond two "
       "(GOMAXPROCS - 2) makes that cost this fraction of itself dearer, as if cache-to-cache "
       "transfers slowed with the cores sharing the interconnect; needs a constant "
       "remote_per_byte_ns",
       "0 by default and in every profile: an experiment against the 16-core ground truth, "
       "whose user CPU per allocation grows with the P count (docs/decisions.md)"),
    _p("zero_per_byte_ns", 0.03, "ns/byte", "memclr of an object from a span that needs zeroing",
       "~32 B/ns memclrNoHeapPointers; [RG] 64 KiB ~2.8 us with the GC on (reused, zeroed)"),
    # -- mcache / mcentral ---------------------------------------------------------------
    _p("refill_ns", 40, "ns", "mcache.refill bookkeeping outside any lock",
       "[GO] mcache.go refill; order of a few cache misses"),
    _p("mcentral_cachespan_ns", 150, "ns", "work inside the mcentral lock in cacheSpan (locked design)",
       "[GO] mcentral.go (Go <= 1.14) list scan + deductSweepCredit; [TCM] lock/unlock ~100 ns"),
    _p("mcentral_insert_ns", 40, "ns", "relock of mcentral to insert a freshly grown span",
       "[GO] mcentral.go cacheSpan after grow (Go <= 1.14)"),
    _p("mcentral_uncachespan_ns", 60, "ns", "work inside the mcentral lock in uncacheSpan",
       "[GO] mcentral.go uncacheSpan"),
    _p("transfer_per_object_ns", 3, "ns/object", "moving one object in a batched transfer",
       "[TCM] central free list batch transfers"),
    _p("spanset_op_ns", 25, "ns", "one lock-free span-set push/pop (uncontended)",
       "[GO] mspanset.go: a few atomics"),
    _p("spanset_contention_factor", 1.0, "x", "extra span-set op cost per other P inside the same set",
       "cache-line contention on the span set's head/tail; modelling assumption"),
    # -- mheap -----------------------------------------------------------------------------
    _p("pagealloc_ns", 350, "ns", "page allocator search + update inside mheap.lock",
       "[DD35112] prototype span allocation ~680 ns without the page cache (incl. init)"),
    _p("pagealloc_per_page_ns", 2, "ns/page", "page allocator work per page of the request",
       "[GO] mpagealloc.go update/allocRange over the bitmap"),
    _p("pagecache_alloc_ns", 15, "ns", "allocation from the P's page cache, no lock",
       "[DD35112] ~20 ns with the per-P page cache"),
    _p("pagecache_refill_ns", 250, "ns", "allocToCache inside mheap.lock",
       "[GO] mpagecache.go allocToCache: find + update of one 64-page block"),
    _p("mspan_alloc_ns", 30, "ns", "allocMSpanLocked: an mspan struct from fixalloc",
       "[GO] mheap.go allocMSpanLocked / fixalloc"),
    _p("span_init_ns", 120, "ns", "initSpan: span geometry, bitmaps, spans map",
       "[GO] mheap.go initSpan; [DD35112] share of the ~680 ns"),
    _p("mspan_fresh_ns", 0, "ns", "initSpan's first writes to an mspan struct never used "
       "before (fixalloc carved it from a chunk: lines no core has cached, and a fresh page "
       "every 25 or so structs), beyond span_init_ns; structs freed and handed out again do "
       "not pay it; 0: not modelled",
       "[GO] mheap.go initSpan / mfixalloc.go alloc; the GC-off records without page "
       "touches at one P (docs/groundtruth.md, 'A third 16-core machine')"),
    _p("heap_line_ns", 0, "ns", "the heap's shared words that every span allocation writes "
       "outside the heap lock (allocNeedsZero's CAS on the arena's zeroedBase, initSpan's "
       "atomic Or8 on the arena's pageInUse bits, pagesInUse, the memstats counters), as one "
       "cache line held by one core at a time: an allocation on another P than the last "
       "one's waits for the line and holds it this long; on the same P it is free; "
       "0: not modelled",
       "[GO] mheap.go allocSpan / allocNeedsZero / initSpan; perf of the real runtime with "
       "GC off on 1 and 2 Ps (docs/decisions.md, 'The heap's shared line')"),
    _p("grow_ns", 500, "ns", "mheap.grow bookkeeping (sysMap, pageAlloc.grow)",
       "[GO] mheap.go grow"),
    _p("sysalloc_ns", 5000, "ns", "sysAlloc: an mmap of new address space (a 64 MiB heap "
       "arena's reservation; a GC bits arena's 64 KiB, outside any lock; with mmap_write_ns > 0 "
       "the latter is a write queued on the memory map that heap faults pass)",
       "mmap syscall cost, a few microseconds on Linux; a new 64 KiB mapping and its first "
       "write on a 16-core machine with 7-15 threads faulting (scripts/device_mmaplock.sh, "
       "docs/decisions.md)"),
    _p("page_fault_ns", 2500, "ns/fault", "the allocator's first write to a fresh 4 KiB OS page "
       "(span metadata at initSpan; malloc headers)",
       "measured here, Go 1.27 GC off: 128 B vs 512 B pointer-free allocations differ by one "
       "fault per span, ~2.5 us (docs/realgo.md)"),
    _p("page_fault_contention_factor", 0.0, "x", "extra page-fault cost per other P faulting "
       "at the same time (the kernel's mm locks, page allocation and LRU)",
       "0 by default; 0.3 in the 16-core profile, fitted to the ground truth's GC-off 1 KiB "
       "records: faults/s grow 4x from 1 to 16 Ps"),
    _p("mmap_write_ns", 0, "ns", "heap growth's sysMap (mheap.grow: an mmap over the "
       "arena's reservation, merged into the heap's mapping) holds the process's memory map "
       "for writing this long, after the page faults in flight finish; a fault that starts "
       "meanwhile sleeps until it ends (0: not modelled; the grower holds mheap.lock throughout)",
       "[GO] mheap.go grow, mem_linux.go sysMap; the 16-core ground truth's GC-off records: "
       "voluntary context switches beyond the lock waits number about GOMAXPROCS-1 per heap "
       "growth with pages touched, none without (docs/decisions.md, 'The memory map's write lock')"),
    _p("mmap_wakeup_ns", 0, "ns", "a page fault that slept on the memory map's write lock runs "
       "this long after the lock is free (the kernel's wake-up of the sleeping thread)",
       "a wake-to-run latency, as lock_wakeup_ns; only with mmap_write_ns > 0"),
    _p("page_fault_contention_max", 0.0, "faults", "the most other Ps' faults in flight that slow "
       "a page fault (0: no limit): past it the kernel's contended state is always busy and "
       "a fault costs no more",
       "0 by default; 6 in the 16-core profile, fitted to the system CPU per fault of the "
       "ground truth's GC-off 1 KiB records, which levels off from 8 Ps at a bit over twice "
       "its one-P figure (docs/groundtruth.md)"),
    _p("free_span_ns", 300, "ns", "freeSpan inside mheap.lock", "[GO] mheap.go freeSpanLocked"),
    _p("large_alloc_ns", 80, "ns", "mallocgc large-object path outside the heap",
       "[RG] 32 KiB ~1 us with the GC off (fresh memory, no zeroing)"),
    # -- the collector (mgc.go, mgcmark.go, mgcsweep.go) ------------------------------------
    _p("heaplive_atomic_ns", 20, "ns", "the refill's atomic add to the pacer's heapLive (one "
       "word every P shares; grows with concurrent adds like a span-set op)",
       "[GO] mgcpacer.go gcControllerState.update"),
    _p("sweep_span_ns", 150, "ns", "sweeping one span: mark bits become allocation bits, "
       "counts, lists", "[GO] mgcsweep.go (*sweepLocked).sweep"),
    _p("sweep_per_object_ns", 1, "ns/object", "sweeping: per object found dead",
       "[GO] mgcsweep.go: specials and stats per freed object"),
    _p("gcbits_arena_ns", 500, "ns", "newMarkBits: taking a new 64 KiB GC bits arena under "
       "gcBitsArenas.lock (a fresh one also costs sysalloc_ns with the lock dropped, then its "
       "header's page fault under the lock, and a page fault per 4 KiB of it when bitmaps are "
       "first written there)",
       "[GO] mheap.go newMarkBits / newArenaMayUnlock"),
    _p("gcbits_line_ns", 0, "ns", "newMarkBits' atomic bump of the GC bits arena's free index, "
       "a word every P writes for every span it sets up or sweeps, as a cache line held by "
       "one core at a time: a bump on another P than the last bump's waits for the line and "
       "holds it this long (the line's move between cores); a bump on the same P is free; "
       "0: not modelled",
       "[GO] mheap.go newMarkBits / newAllocBits (gcBitsArena.tryAlloc: atomic.Xadduintptr "
       "on b.free)"),
    _p("reclaim_ns", 300, "ns", "mheap.reclaim: claiming a chunk of 512 pages of the heap's "
       "arenas to scan for spans to sweep before a large allocation, under mheap.lock (per chunk)",
       "[GO] mheap.go reclaim / reclaimChunk"),
    _p("gc_stw_ns", 5000, "ns", "a stop-the-world phase once the world is stopped (sweep "
       "termination or mark termination)", "[GO] mgc.go gcStart / gcMarkTermination"),
    _p("gc_stw_per_p_ns", 1500, "ns/P", "stop-the-world work per P (stopping it, flushing its "
       "caches, restarting it)", "[GO] proc.go stopTheWorldWithSema / startTheWorldWithSema"),
    _p("assist_ready_ns", 0, "ns", "gcFlushBgCredit readying an assist it paid off: "
       "ready() puts the goroutine on the flusher's run queue and wakep() starts an M for an "
       "idle P (the scheduler lock, a futex wake), under the assist queue's lock, on the "
       "flusher's time",
       "[GO] mgcmark.go gcFlushBgCredit, proc.go ready / wakep; 0 by default and in every "
       "profile (docs/decisions.md, 'Readying parked assists'); measured as 2000: execution traces of 16 vCPUs with a 256 MiB live list (the "
       "gotrace-live256 summary in experiments/groundtruth/extra) lengthen the list's mark "
       "phase by 2.0-2.7 us per assist park at 1 KiB, 1.8 at 48 B"),
    _p("assist_resume_ns", 0, "ns", "a readied assist runs again: the M woken for an idle P "
       "steals it from the flusher's run queue (its P idles meanwhile)",
       "[GO] proc.go wakep / findRunnable stealWork; 0 by default and in every profile; "
       "measured as 15000: the same traces' allocating goroutines wait 11-17 us runnable per assist "
       "park where they park thousands of times a phase"),
    _p("gc_mark_root_ns", 50000, "ns", "a cycle's mark work besides the heap: data/bss, "
       "stacks, finalizers, span specials",
       "[GO] mgcmark.go markroot; fitted to GC CPU per cycle with no live heap"),
    _p("gc_globals_bytes", 0, "bytes", "the data and BSS globals the roots scan each cycle, "
       "as Go counts them in scan work (globalsScanWork): markroot jobs of up to 256 KiB that "
       "the first marker to take one scans whole; with gc_root_scan_bytes and "
       "gc_root_scan_per_p_bytes it converts the cycle's mark time to Go's scan work units, "
       "for gcOverAssistWork and drainCheckThreshold (0 with both of those: the roots are time "
       "any marker takes in quanta, and those two are counted at gc_mark_per_byte_ns)",
       "[GO] mgcmark.go markroot / markrootBlock (rootBlockBytes), gcDrain, gcAssistAlloc; "
       "0 by default; the ground truth's probe has 169,162 (its pacer trace)"),
    _p("gc_globals_scan_per_byte_ns", 0.0, "ns/byte", "with gc_globals_bytes: the time scanning "
       "a byte of the globals takes (scanblock skips each pointer-free 64-byte stretch with one "
       "load, so mostly pointer-free globals cost next to nothing while counting their length "
       "in scan work); 0: negligible",
       "[GO] mgcmark.go scanblock / markrootBlock; 0 by default"),
    _p("gc_root_scan_bytes", 0, "bytes", "the other roots' scan work a cycle counts, in bytes "
       "(the runtime's own heap and the goroutine stacks), with gc_globals_bytes",
       "[GO] mgcpacer.go heapScanWork / stackScanWork; 0 by default; the probe's real pacer "
       "scans 50,791 + 22,725 x P bytes of the runtime's heap (realgo.pacer.heap_scan_work)"),
    _p("gc_root_scan_per_p_bytes", 0, "bytes/P", "with gc_root_scan_bytes: that much more per P",
       "0 by default; see gc_root_scan_bytes"),
    _p("gc_mark_root_per_p_ns", 2000, "ns/P", "mark work per P (its mcache, its G stacks)",
       "[GO] mgcmark.go markroot"),
    _p("gc_mark_per_byte_ns", 0.15, "ns/byte", "marking: scanning one byte of a live "
       "pointerful object", "fitted: 256 MiB live heap marked per cycle in the ground truth"),
    _p("scavenge_ns", 800, "ns", "scavengeOne's search and bookkeeping under mheap.lock",
       "[GO] mgcscavenge.go (*pageAlloc).scavengeOne"),
    _p("scavenge_per_page_ns", 1500, "ns/page", "releasing one 8 KiB page to the OS "
       "(madvise), outside the lock", "[GO] mem_linux.go sysUnusedOS; madvise cost"),
    # -- locks and scheduling ---------------------------------------------------------------
    _p("lock_uncontended_ns", 20, "ns", "runtime.lock + unlock when free (atomic CAS pair)",
       "[GO] lock_spinbit.go fast path; [TCM] lock/unlock pair ~100 ns on a 2.8 GHz P4"),
    _p("heap_lock_migrate_ns", 0, "ns", "an mheap.lock critical section entered on another P "
       "than the last holder's: the heap's page-allocator summaries and bitmaps, span "
       "structs and stats move between cores' caches (and whatever else a contended "
       "hand-off costs that the spin/sleep model leaves out)",
       "0 by default (a 2-core machine cannot show it); 5000 in the 16-core profile, fitted "
       "to the ground truth (docs/groundtruth.md)"),
    _p("heap_lock_per_p_ns", 0, "ns/P", "with heap_lock_migrate_ns: a hand-off of mheap.lock "
       "to another P costs this much more per other P (GOMAXPROCS - 1), as if the heap's shared "
       "data had that many more sharers to invalidate",
       "0 by default and in every profile: an experiment against the lock sleep shares of the "
       "16-core ground truth (docs/groundtruth.md)"),
    _p("lock_spin_ns", 1000, "ns", "spin window before an M sleeps on the futex",
       "[GO] lock_spinbit.go: active_spin=4 x procyield(30) + osyield"),
    _p("lock_wakeup_ns", 4000, "ns", "futex wake-up hand-off latency to a sleeping M",
       "Linux futex wake-to-run latency, a few microseconds"),
    _p("m_wakeup_ns", 4000, "ns", "wakep: an M parked in stopm is woken (futex) and runs a "
       "goroutine it finds; after a stop-the-world the stopped goroutines restart one such "
       "wake-up apart",
       "[GO] proc.go startTheWorldWithSema / procresize / resetspinning; Linux futex "
       "wake-to-run latency, as lock_wakeup_ns"),
    _p("note_wakeup_ns", 0, "ns", "stopTheWorldWithSema: the M stopping the world sleeps on "
       "sched.stopnote (notetsleep) until the last running P stops, whose notewakeup it then "
       "runs this long after (a futex wake-to-run, as m_wakeup_ns); only when another P was "
       "running",
       "[GO] proc.go stopTheWorldWithSema, lock_futex.go notetsleep/notewakeup; 0 by default "
       "(docs/decisions.md, 'Stopping the world'); 5000 in the 16-core profile, fitted with "
       "gc_stw_ns and gc_stw_per_p_ns to the wall time per stop; scripts/stw measures a "
       "machine's stops"),
    _p("sched_switch_ns", 200, "ns", "goroutine switch on a P at a time-slice preemption",
       "[GO] proc.go schedule/gogo"),
)}

