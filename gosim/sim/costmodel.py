"""Resolved costs for one run (defaults < design < profile < scenario overrides),
and the one place every charge of the run is recorded.

Every time the simulation charges is ``units x value`` of one cost parameter
(``gosim/sim/costs.py``). Whoever charges a cost calls :meth:`CostModel.charge`
with the parameter's name and the units charged; when a ``record`` dict is
attached (``simulate(..., cost_record=...)``) it accumulates parameter ->
total units, which is the seam calibration fits against: for constant costs,
the busy time of a run is the sum over parameters of units x value (up to the
rounding of each charge to whole ns), plus the time Ms sleep on a runtime
lock waiting for its holder, which is no parameter's. Spinning is charged as
the fraction of ``lock_spin_ns`` spun, a span-set operation as ``1 + factor x
k`` units of its cost. In a timed run a charge that straddles the end counts
whole (P time is cut there).
"""

from __future__ import annotations

from typing import Any

from gosim.errors import ConfigError
from gosim.scenario import Dist
from gosim.sim.costs import COST_PARAMETERS


class CostModel:
    def __init__(self, design_costs: dict[str, Any], overrides: dict[str, Dist],
                 profile: dict[str, Any] | None = None,
                 record: dict[str, float] | None = None) -> None:
        self.values: dict[str, Dist] = {}
        for name, p in COST_PARAMETERS.items():
            self.values[name] = Dist(dist="const", value=p.default)
        for layer, src in (("design", design_costs), ("profile", profile or {}),
                           ("costs", overrides)):
            for name, v in src.items():
                if name not in COST_PARAMETERS:
                    raise ConfigError(
                        f"unknown cost parameter {name!r}; expected one of "
                        f"{sorted(COST_PARAMETERS)}", key=f"{layer}.{name}")
                self.values[name] = v if isinstance(v, Dist) else Dist.model_validate(v)
        #: constant costs as floats (per unit); distribution-valued ones are None
        self.constants: dict[str, float | None] = {
            n: (float(d.value) if d.dist == "const" and d.value is not None else None)
            for n, d in self.values.items()}
        #: one unit of each constant cost, rounded to ns as a charge rounds it
        #: (``int(c * 1.0 + 0.5)``); distribution-valued ones are None
        self.unit_ns: dict[str, int | None] = {
            n: (int(c + 0.5) if c is not None else None) for n, c in self.constants.items()}
        #: parameter -> units charged so far, when the caller asked for it
        self.record = record

    def charge(self, name: str, units: float) -> None:
        """Record ``units`` of cost parameter ``name`` as charged."""
        rec = self.record
        if rec is not None and units:
            rec[name] = rec.get(name, 0.0) + units

    def scale_const(self, name: str, factor: float) -> None:
        """Make constant cost ``name`` ``factor`` times what it is (before any
        charge: the engine's P-dependent costs)."""
        c = self.constants[name]
        if c is None:
            raise ValueError(f"{name} is not a constant")
        v = c * factor
        self.values[name] = Dist(dist="const", value=v)
        self.constants[name] = v
        self.unit_ns[name] = int(v + 0.5)

    def const(self, name: str) -> int:
        """A cost that is used as a constant (lock spin window, wake-up latency)."""
        return int(self.values[name].mean_value() + 0.5)

    def const_float(self, name: str) -> float:
        return float(self.values[name].mean_value())
