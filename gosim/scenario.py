"""The scenario schema: one fully specified simulation run.

``gosim.config`` loads experiment YAML (scenario + sweep + outputs) and
expands it into a list of :class:`Scenario` objects; ``gosim.sim.simulate``
runs one. Validation is strict (unknown keys are errors) so that a typo in a
config is caught before anything runs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from gosim.workload.spec import Dist, GoroutineGroup, Lifetime, Strict, Workload

__all__ = ["Dist", "GoroutineGroup", "Lifetime", "Workload", "DesignSpec", "Warmup", "Scenario"]


class DesignSpec(BaseModel):
    model_config = Strict
    preset: str = "go1.27"
    overrides: dict[str, Any] = Field(default_factory=dict)


class Warmup(BaseModel):
    """Warm-up dropped from time-based metrics: a fixed span or MSER-5."""

    model_config = Strict
    method: Literal["none", "fixed", "mser5"] = "none"
    duration_ns: int = Field(default=0, ge=0)


class Scenario(BaseModel):
    """One simulation run, fully specified."""

    model_config = Strict
    design: DesignSpec = Field(default_factory=DesignSpec)
    gomaxprocs: int = Field(default=1, ge=1, le=1024)
    workload: Workload = Field(default_factory=Workload)
    #: cost-model overrides: parameter name -> constant or distribution
    costs: dict[str, Dist] = Field(default_factory=dict)
    #: a calibration profile (``gosim calibrate``) whose values replace the defaults
    costs_profile: str | None = None
    #: stop after this much simulated time (ns) if set
    duration_ns: int | None = Field(default=None, ge=1)
    seed: int = Field(default=1, ge=0)
    #: 'batched' advances over runs of cached-span allocations in one step;
    #: 'step' steps each allocation (the reference the tests compare against)
    mode: Literal["batched", "step"] = "batched"
    #: runtime-mutex acquisition order: 'barging' (as Go's lock) or 'fifo'
    lock_policy: Literal["barging", "fifo"] = "barging"
    #: scheduler time slice (Go's forcePreemptNS = 10 ms, proc.go sysmon)
    time_slice_ns: int = Field(default=10_000_000, ge=1)
    warmup: Warmup = Field(default_factory=Warmup)
    #: sample heap/lock counters every this many ns for time series (0 = off)
    timeseries_interval_ns: int = Field(default=0, ge=0)

    @field_validator("design", mode="before")
    @classmethod
    def _design_short(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"preset": v}
        return v

    @model_validator(mode="after")
    def _check_stop(self) -> Scenario:
        if self.duration_ns is None and any(g.allocations is None for g in self.workload.groups):
            raise ValueError(
                "set 'duration_ns' or give every workload group an 'allocations' count")
        return self


