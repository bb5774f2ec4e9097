"""The SimPy layer: Ps, goroutines, runtime locks and the cost model."""
