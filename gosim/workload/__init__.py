"""Workloads: goroutine groups, their distributions and random streams."""

from gosim.workload.spec import Dist, GoroutineGroup, Lifetime, Workload

__all__ = ["Dist", "GoroutineGroup", "Lifetime", "Workload"]
