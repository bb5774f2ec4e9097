"""Queueing theory the simulator is checked against.

A single lock shared by N threads that each think for Z (exponential) and
then hold the lock for S (exponential) is the closed machine-repairman
network: an infinite-server (delay) station and one FCFS queueing station.
Exact Mean Value Analysis (Reiser & Lavenberg 1980) gives throughput and the
mean wait at the lock.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MVAResult:
    n: int
    throughput_per_ns: float
    #: mean time in the lock station (queueing + service), ns
    response_ns: float
    #: mean time waiting for the lock, ns
    wait_ns: float
    utilisation: float


def mva_machine_repairman(n: int, think_ns: float, service_ns: float) -> MVAResult:
    """Exact MVA for N customers, think time Z and one FCFS server of mean service S."""
    if n < 1:
        raise ValueError("n must be >= 1")
    q = 0.0
    x = r = 0.0
    for k in range(1, n + 1):
        r = service_ns * (1 + q)
        x = k / (think_ns + r)
        q = x * r
    return MVAResult(n=n, throughput_per_ns=x, response_ns=r, wait_ns=r - service_ns,
                     utilisation=x * service_ns)

