"""gosim: a discrete-event simulator of Go's tcmalloc-style memory allocator."""

from gosim._native import BUILD, NATIVE

__version__ = "0.1.0"

__all__ = ["BUILD", "NATIVE", "__version__"]
