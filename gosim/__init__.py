"""gosim: a discrete-event simulator of Go's tcmalloc-style memory allocator."""

__version__ = "0.1.0"
