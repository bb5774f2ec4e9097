package main

import (
	"reflect"
	"unsafe"
)

// The workload's live heap (scenario workload.live_heap): objects built
// before the baseline and reachable to the end, as gosim's model builds its
// ballast before time 0 (gosim/sim/gc.py build_live_heap).
//
//   - pointerful: a linked list of nodes of object_size bytes (rounded up to
//     8), each a struct whose first word points to the previous node and whose
//     rest is pointer-free padding, as the ground-truth probe's ballast
//     (scaling.go ballastNode) for any size: mallocgc sees the node's type,
//     so the collector scans one word per node;
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

// nodeType is a struct of size bytes (a multiple of 8, >= 8): a pointer,
// then padding.
func nodeType(size uint32) reflect.Type {
	fields := []reflect.StructField{{Name: "Next", Type: reflect.TypeFor[unsafe.Pointer]()}}
	if size > 8 {
		fields = append(fields, reflect.StructField{
			Name: "Pad", Type: reflect.ArrayOf(int(size-8), reflect.TypeFor[byte]())})
	}
	return reflect.StructOf(fields)
}

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
	t := nodeType((l.ObjectSize + 7) / 8 * 8)
	for i := 0; i < n; i++ {
		p := reflect.New(t).UnsafePointer() // mallocgc(size, t, true)
		*(*unsafe.Pointer)(p) = liveHead
		liveHead = p
	}
	return n
}
