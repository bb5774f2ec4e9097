"""The allocator model, one module per Go runtime file (runtime/malloc.go,
mcache.go, mcentral.go, mheap.go, mpagecache.go, ...).

Naming: Python identifiers are snake_case throughout (PEP 8). A method that
models a Go runtime function carries that function's name converted to
snake_case (cacheSpan -> ``cache_span``, sysAlloc -> ``sys_alloc``,
allocToCache -> ``alloc_to_cache``, releaseAll -> ``release_all``) and its
docstring names the Go file and function; runtime types keep Go's names in
CapWords (mheap -> ``MHeap``, mspan -> ``MSpan``, p -> ``P``). Modules call
only each other's public methods.
"""
