"""What goroutines do: distributions, lifetimes, goroutine groups.

A workload is a list of goroutine groups; each goroutine draws object sizes,
pointer-ness and the work between allocations from its own random streams
(``gosim.workload.streams``). Every model is strict: unknown keys are errors and
no value is coerced (``"2"`` is not a number, ``true`` is not 1).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema

Strict = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

DistName = Literal["const", "exponential", "lognormal", "uniform", "choice", "empirical",
                   "histogram"]

#: distribution name -> (the keys it needs, what a draw is); optional keys: ``weights``
#: of ``choice``
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "const": (("value",), "always `value`"),
    "exponential": (("mean",), "exponential with mean `mean`"),
    "lognormal": (("mean", "sigma"),
                  "lognormal with mean `mean` and log-space standard deviation `sigma`"),
    "uniform": (("low", "high"), "uniform on [`low`, `high`] (integers: each of low..high)"),
    "choice": (("values",), "one of `values`, by `weights` (default: equally likely)"),
    "empirical": (("values",), "one of `values` resampled uniformly (an empirical sample)"),
    "histogram": (("edges", "weights"),
                  "a bin [edges[i], edges[i+1]) chosen by `weights`, then uniform within it"),
}

#: lifetime kinds written as a one-key mapping ``{kind: value}``
_VALUED_LIFETIMES = ("allocations", "time")


class Shorthand(BaseModel):
    """A model that YAML may also write in a short form (``size: 48``)."""

    @classmethod
    def expand_short(cls, v: Any) -> Any:
        """The mapping a short form stands for; any other input unchanged."""
        return v

    @model_validator(mode="before")
    @classmethod
    def _short(cls, v: Any) -> Any:
        return cls.expand_short(v)


class Dist(Shorthand):
    """A non-negative quantity drawn per use: a constant or a distribution.

    YAML forms: a plain number (constant) or a mapping such as
    ``{dist: exponential, mean: 200}``, ``{dist: lognormal, mean: 300, sigma: 0.5}``,
    ``{dist: uniform, low: 8, high: 64}``, ``{dist: choice, values: [16, 48], weights: [3, 1]}``,
    ``{dist: empirical, values: [...]}`` (resampled uniformly),
    ``{dist: histogram, edges: [16, 64, 512], weights: [9, 1]}`` (an empirical
    histogram: a bin by weight, then uniform within it).
    """

    model_config = Strict
    dist: DistName = Field(default="const", description="the distribution (table below)")
    value: float | None = Field(default=None, ge=0, description="`const`: the value")
    mean: float | None = Field(default=None, ge=0,
                               description="`exponential`, `lognormal`: the mean")
    sigma: float | None = Field(default=None, ge=0,
                                description="`lognormal`: standard deviation of the log")
    low: float | None = Field(default=None, ge=0, description="`uniform`: lower bound")
    high: float | None = Field(default=None, ge=0, description="`uniform`: upper bound")
    values: list[float] | None = Field(default=None,
                                       description="`choice`, `empirical`: the values (>= 0)")
    weights: list[float] | None = Field(
        default=None, description="`choice`: one weight per value; `histogram`: one per bin")
    edges: list[float] | None = Field(
        default=None, description="`histogram`: increasing bin edges (>= 2, >= 0)")

    @classmethod
    def expand_short(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError("expected a number or a distribution mapping, got a boolean")
        if isinstance(v, int | float):
            return {"dist": "const", "value": v}
        return v

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        mapping = handler.resolve_ref_schema(handler(core_schema))
        # the keys each distribution needs (`dist` left out is `const`)
        mapping["allOf"] = [
            {"if": {"properties": {"dist": {"const": name}}, "required": ["dist"]},
             "then": {"required": list(need)}} for name, (need, _) in DISTRIBUTIONS.items()
            if name != "const"] + [
            {"if": {"not": {"required": ["dist"]}}, "then": {"required": ["value"]}},
            {"if": {"properties": {"dist": {"const": "const"}}, "required": ["dist"]},
             "then": {"required": ["value"]}}]
        return {"anyOf": [{"type": "number", "minimum": 0}, mapping]}

    @model_validator(mode="after")
    def _check(self) -> Dist:
        for k in DISTRIBUTIONS[self.dist][0]:
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


def dist_error(value: Any) -> tuple[str, str] | None:
    """Why ``value`` (a number or a mapping, as YAML gives it) is not a
    :class:`Dist`: the first error's (key, message), or None when it is one.
    For the places that check a distribution outside a scenario (a profile's
    parameters, ``--set``)."""
    from pydantic import ValidationError

    from gosim.config.translate import first_error

    try:
        Dist.model_validate(value)
    except ValidationError as e:
        return first_error(e)
    return None


class Lifetime(Shorthand):
    """How long an allocated object stays reachable.

    ``drop``: garbage at once; ``keep``: live to the end of the run;
    ``allocations``: dies after the goroutine's next N allocations;
    ``time``: dies after ``value`` ns of simulated time. YAML forms: ``drop``,
    ``keep``, ``{allocations: N}``, ``{time: N}``, or ``{kind: K, value: N}``.
    """

    model_config = Strict
    kind: Literal["drop", "keep", "allocations", "time"] = Field(
        default="drop", description="`drop`: garbage at once; `keep`: live to the end of the "
        "run; `allocations`: dies after the goroutine's next `value` allocations; `time`: "
        "dies `value` ns after it is allocated")
    value: int | None = Field(default=None, ge=1,
                              description="allocations or ns (needed by `allocations`, `time`)")

    @classmethod
    def expand_short(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"kind": v}
        if isinstance(v, dict) and len(v) == 1:
            ((k, x),) = v.items()
            if k in _VALUED_LIFETIMES:
                return {"kind": k, "value": x}
        return v

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        short: list[JsonSchemaValue] = [{"enum": ["drop", "keep"]}]
        short += [{"type": "object", "properties": {k: {"type": "integer", "minimum": 1}},
                   "required": [k], "additionalProperties": False} for k in _VALUED_LIFETIMES]
        mapping = handler.resolve_ref_schema(handler(core_schema))
        mapping["allOf"] = [{"if": {"properties": {"kind": {"enum": list(_VALUED_LIFETIMES)}},
                                    "required": ["kind"]}, "then": {"required": ["value"]}}]
        return {"anyOf": [*short, mapping]}

    @model_validator(mode="after")
    def _check(self) -> Lifetime:
        if self.kind in _VALUED_LIFETIMES and self.value is None:
            raise ValueError(f"lifetime {self.kind!r} needs 'value'")
        return self


class GoroutineGroup(BaseModel):
    """A group of identical goroutines."""

    model_config = Strict
    name: str = Field(default="g", description="label of the group")
    count: int = Field(default=1, ge=1, description="goroutines in the group")
    size: Dist = Field(default_factory=lambda: Dist(dist="const", value=48),
                       description="object size in bytes (drawn values are rounded to integers)")
    pointer_free_fraction: float = Field(
        default=1.0, ge=0, le=1, description="fraction of objects that are pointer-free (noscan)")
    work_ns: Dist = Field(default_factory=lambda: Dist(dist="const", value=0),
                          description="simulated work between allocations, ns")
    lifetime: Lifetime = Field(default_factory=Lifetime,
                               description="how long each object stays reachable")
    allocations: int | None = Field(
        default=None, ge=0,
        description="allocations per goroutine (null: run until the scenario's `duration_ns`)")
    touch: bool = Field(
        default=False, description="write one byte per 4 KiB page of each object, as a program "
        "using its memory does: the first write to a fresh OS page faults it in")


class LiveHeap(BaseModel):
    """A live heap built before the goroutines start and kept to the end (a
    ballast: e.g. a linked list of pointerful 1 KiB nodes). The collector marks
    it every cycle, so it sets the heap goal and the mark work."""

    model_config = Strict
    bytes: int = Field(default=0, ge=0, description="total bytes of live objects (0: none)")
    object_size: int = Field(default=1024, ge=1, le=32768,
                             description="size of each live object, bytes (a small object)")
    pointer_free: bool = Field(default=False,
                               description="the objects hold no pointers (not scanned)")
    linked: bool = Field(
        default=True, description="the objects form one linked list (each points to the next), "
        "so marking it is a pointer chase: one marker at a time makes progress on it, however "
        "many workers and assists there are; false: each object is reachable on its own (e.g. "
        "from one slice) and marking it divides among every marker")
    grown: bool = Field(
        default=True, description="start with the heap a program running with this live heap "
        "has: mapped and touched up to the heap goal (the live heap x (1 + GOGC/100)), so the "
        "first cycles are not spent growing and faulting in fresh memory")
    cons_mark: float | None = Field(
        default=None, ge=0, description="the pacer's cons/mark history (mgcpacer.go "
        "lastConsMark) left by the GC cycles of the program that built the heap, which the "
        "model builds before time 0 without cycles; it places the first cycles' trigger. "
        "null: what one goroutine building a linked list of pointerful 1 KiB nodes leaves the "
        "real Go 1.27 pacer at the scenario's GOMAXPROCS (measured: gosim/sim/gc.py "
        "BUILT_CONS_MARK)")


class Workload(BaseModel):
    """What the goroutines do."""

    model_config = Strict
    live_heap: LiveHeap = Field(default_factory=LiveHeap,
                                description="live heap kept for the whole run (a ballast)")
    groups: list[GoroutineGroup] = Field(default_factory=lambda: [GoroutineGroup()], min_length=1,
                                         description="goroutine groups (at least one)")
