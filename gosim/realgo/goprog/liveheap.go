package main

import "unsafe"

// The workload's live heap (scenario workload.live_heap): objects built
// before the baseline and reachable to the end, as gosim's model builds its
// ballast before time 0 (gosim/sim/gc.py build_live_heap).
//
//   - pointerful: a linked list of object_size-byte nodes made as every
//     pointerful object of the harness is, make([]unsafe.Pointer,
//     ceil(object_size/8)) (main.go), whose first word points to the
//     previous node. Every word is a pointer slot, so the runtime counts the
//     whole node as scan work (the pacer's heapScan), as the model's pacer
//     does (gosim/runtime/mgcmark.py heap_scan_bytes);
//   - pointer-free: make([]byte, object_size) each, held by one pointer
//     slice (8 bytes per object more than the model has; workload.py accepts
//     only objects of 1 KiB or more, where that is at most 1/128).
//
// With grow_to_bytes (the model's live_heap.grown: the heap of a program that
// has run a few cycles with this live heap) garbage is then allocated, one
// byte of each 4 KiB written, until that many bytes of the heap are touched
// (not released), and collected: the pages are touched and free, as the
// model's.

type liveHeapSpec struct {
	Bytes      int64  `json:"bytes"`
	ObjectSize uint32 `json:"object_size"`
	Ptr        bool   `json:"pointerful"`
	GrowTo     uint64 `json:"grow_to_bytes"`
}

var (
	liveHead   unsafe.Pointer   // the pointerful list's last node
	liveHolder []unsafe.Pointer // the pointer-free objects
)

// buildLiveHeap allocates ceil(bytes / object_size) objects and keeps them
// reachable (package variables); returns how many.
func buildLiveHeap(l liveHeapSpec) int {
	if l.Bytes <= 0 {
		return 0
	}
	if l.ObjectSize == 0 {
		fail("live_heap: object_size must be positive")
	}
	n := int((l.Bytes + int64(l.ObjectSize) - 1) / int64(l.ObjectSize))
	if !l.Ptr {
		liveHolder = make([]unsafe.Pointer, n)
		for i := range liveHolder {
			liveHolder[i] = allocNoscan(l.ObjectSize)
		}
	} else {
		for i := 0; i < n; i++ {
			p := allocPtr(l.ObjectSize)
			*(*unsafe.Pointer)(p) = liveHead
			liveHead = p
		}
	}
	if l.GrowTo > 0 {
		growHeap(l.GrowTo)
	}
	return n
}

// growHeap allocates 64 KiB garbage objects, writing one byte of each 4 KiB
// page (fresh memory is not zeroed, so nothing else touches it), until the
// heap holds at least goal bytes not released to the OS (fresh pages count as
// released until used, so the start-up heap's untouched pages do not count);
// prepare's forced cycle then frees them.
func growHeap(goal uint64) {
	const size = 64 << 10
	for readUint(touchedSamples) < goal {
		p := allocNoscan(size)
		for off := uintptr(0); off < size; off += 4096 {
			*(*byte)(unsafe.Add(p, off)) = 1
		}
		sinkSlot[0] = p
	}
	sinkSlot[0] = nil
}
