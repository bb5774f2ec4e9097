"""The SimPy layer: Ps, goroutines, runtime locks and the cost model."""

from gosim.sim.engine import Simulation, simulate

__all__ = ["Simulation", "simulate"]
