"""What goroutines do: distributions, lifetimes, goroutine groups.

A workload is a list of goroutine groups; each goroutine draws object sizes,
pointer-ness and the work between allocations from its own random streams
(``gosim.workload.streams``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Strict = ConfigDict(extra="forbid", frozen=True)


class Dist(BaseModel):
    """A non-negative quantity drawn per use: a constant or a distribution.

    YAML forms: a plain number (constant) or a mapping such as
    ``{dist: exponential, mean: 200}``, ``{dist: lognormal, mean: 300, sigma: 0.5}``,
    ``{dist: uniform, low: 8, high: 64}``, ``{dist: choice, values: [16, 48], weights: [3, 1]}``,
    ``{dist: empirical, values: [...]}`` (resampled uniformly),
    ``{dist: histogram, edges: [16, 64, 512], weights: [9, 1]}`` (an empirical
    histogram: a bin by weight, then uniform within it).
    """

    model_config = Strict
    dist: Literal["const", "exponential", "lognormal", "uniform", "choice", "empirical",
                  "histogram"] = "const"
    value: float | None = Field(default=None, ge=0)
    mean: float | None = Field(default=None, ge=0)
    sigma: float | None = Field(default=None, ge=0)
    low: float | None = Field(default=None, ge=0)
    high: float | None = Field(default=None, ge=0)
    values: list[float] | None = None
    weights: list[float] | None = None
    edges: list[float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _scalar(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("expected a number or a distribution mapping, got a boolean")
        if isinstance(v, int | float):
            return {"dist": "const", "value": v}
        return v

    @model_validator(mode="after")
    def _check(self) -> Dist:
        need = {
            "const": ("value",), "exponential": ("mean",), "lognormal": ("mean", "sigma"),
            "uniform": ("low", "high"), "choice": ("values",), "empirical": ("values",),
            "histogram": ("edges", "weights"),
        }[self.dist]
        for k in need:
            if getattr(self, k) is None:
                raise ValueError(f"distribution {self.dist!r} needs {k!r}")
        if self.dist == "uniform" and self.high < self.low:  # type: ignore[operator]
            raise ValueError("uniform needs low <= high")
        if self.values is not None:
            if not self.values:
                raise ValueError("'values' must not be empty")
            if any(x < 0 for x in self.values):
                raise ValueError("'values' must be non-negative")
        if self.dist == "histogram":
            e = self.edges or []
            if len(e) < 2 or any(b <= a for a, b in zip(e, e[1:], strict=False)) or e[0] < 0:
                raise ValueError("'edges' must be >= 2 increasing non-negative numbers")
            if len(self.weights or []) != len(e) - 1:
                raise ValueError("a histogram needs one weight per bin (len(edges) - 1)")
        elif self.weights is not None:
            if self.values is None or len(self.weights) != len(self.values):
                raise ValueError("'weights' must have one entry per value")
        if self.weights is not None:
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("'weights' must be non-negative with a positive sum")
        return self

    def mean_value(self) -> float:
        if self.dist == "const":
            return float(self.value)  # type: ignore[arg-type]
        if self.dist in ("exponential", "lognormal"):
            return float(self.mean)  # type: ignore[arg-type]
        if self.dist == "uniform":
            return (self.low + self.high) / 2  # type: ignore[operator]
        if self.dist == "histogram":
            e, w = self.edges or [], self.weights or []
            return sum((a + b) / 2 * x for a, b, x in zip(e, e[1:], w, strict=False)) / sum(w)
        vals = self.values or []
        if self.weights:
            return sum(v * w for v, w in zip(vals, self.weights, strict=True)) / sum(self.weights)
        return sum(vals) / len(vals)


class Lifetime(BaseModel):
    """How long an allocated object stays reachable.

    ``drop``: garbage at once; ``keep``: live to the end of the run;
    ``allocations``: dies after the goroutine's next N allocations;
    ``time``: dies after ``value`` ns of simulated time.
    """

    model_config = Strict
    kind: Literal["drop", "keep", "allocations", "time"] = "drop"
    value: int | None = Field(default=None, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"kind": v}
        return v

    @model_validator(mode="after")
    def _check(self) -> Lifetime:
        if self.kind in ("allocations", "time") and self.value is None:
            raise ValueError(f"lifetime {self.kind!r} needs 'value'")
        return self


class GoroutineGroup(BaseModel):
    """A group of identical goroutines."""

    model_config = Strict
    name: str = "g"
    count: int = Field(default=1, ge=1)
    #: object size in bytes (a Dist; sizes are rounded to integers)
    size: Dist = Field(default_factory=lambda: Dist(dist="const", value=48))
    #: fraction of objects that are pointer-free (noscan)
    pointer_free_fraction: float = Field(default=1.0, ge=0, le=1)
    #: simulated work between allocations, ns
    work_ns: Dist = Field(default_factory=lambda: Dist(dist="const", value=0))
    lifetime: Lifetime = Field(default_factory=Lifetime)
    #: allocations per goroutine (None: run until the scenario's duration)
    allocations: int | None = Field(default=None, ge=0)


class Workload(BaseModel):
    model_config = Strict
    groups: list[GoroutineGroup] = Field(default_factory=lambda: [GoroutineGroup()], min_length=1)
