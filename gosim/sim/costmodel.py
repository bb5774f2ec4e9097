"""Resolved costs for one run: defaults < design < profile < scenario overrides."""

from __future__ import annotations

from typing import Any

from gosim.errors import ConfigError
from gosim.scenario import Dist
from gosim.sim.costs import COST_PARAMETERS


class CostModel:
    def __init__(self, design_costs: dict[str, Any], overrides: dict[str, Dist],
                 profile: dict[str, float] | None = None) -> None:
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
            n: (float(d.value) if d.dist == "const" else None) for n, d in self.values.items()}

    def const(self, name: str) -> int:
        """A cost that is used as a constant (lock spin window, wake-up latency)."""
        return int(self.values[name].mean_value() + 0.5)

    def const_float(self, name: str) -> float:
        return float(self.values[name].mean_value())

    def as_dict(self) -> dict[str, Any]:
        return {n: d.model_dump(exclude_none=True) for n, d in sorted(self.values.items())}
