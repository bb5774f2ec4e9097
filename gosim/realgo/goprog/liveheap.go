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

type liveHeapSpec struct {
	Bytes      int64  `json:"bytes"`
	ObjectSize uint32 `json:"object_size"`
	Ptr        bool   `json:"pointerful"`
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
		return n
	}
	for i := 0; i < n; i++ {
		p := allocPtr(l.ObjectSize)
		*(*unsafe.Pointer)(p) = liveHead
		liveHead = p
	}
	return n
}
