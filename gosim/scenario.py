"""The scenario schema: one fully specified simulation run.

``gosim.config`` loads experiment YAML (scenario + sweep + outputs) and
expands it into a list of :class:`Scenario` objects; ``gosim.sim.simulate``
runs one. Validation is strict (unknown keys are errors, no value is coerced)
so that a typo in a config is caught before anything runs. The allowed design
presets, design options and cost parameters come from the model itself
(``gosim.runtime.design``, ``gosim.sim.costs``).
"""

from __future__ import annotations

import functools
import typing
from dataclasses import fields
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema, InitErrorDetails, PydanticCustomError

from gosim.runtime.design import PRESETS, Design
from gosim.runtime.sizeclasses import PRESETS as SIZECLASS_PRESETS
from gosim.workload.spec import (
    Dist,
    GoroutineGroup,
    Lifetime,
    LiveHeap,
    Shorthand,
    Strict,
    Workload,
)

__all__ = ["Dist", "GCSpec", "GoroutineGroup", "Lifetime", "LiveHeap", "Workload", "DesignSpec", "Warmup", "Scenario",
           "cost_parameter_names", "design_options"]


@functools.cache
def design_options() -> dict[str, Any]:
    """``design.overrides`` keys -> their types: every field of
    :class:`gosim.runtime.design.Design` but its name and cost overrides."""
    hints = typing.get_type_hints(Design)
    return {f.name: hints[f.name] for f in fields(Design) if f.name not in ("name", "costs")}


@functools.cache
def _option_adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(design_options()[name])


@functools.cache
def cost_parameter_names() -> tuple[str, ...]:
    """``costs`` keys: the parameters of :data:`gosim.sim.costs.COST_PARAMETERS`."""
    from gosim.sim.costs import COST_PARAMETERS  # gosim.sim imports this module

    return tuple(sorted(COST_PARAMETERS))


def _custom(kind: str, message: str) -> PydanticCustomError:
    # the message goes in as context so that braces in it are not a template
    return PydanticCustomError(kind, "{message}", {"message": message})


def _keyed_errors(title: str, errors: list[InitErrorDetails]) -> ValidationError:
    return ValidationError.from_exception_data(title, errors)


class DesignSpec(Shorthand):
    """Which allocator design runs: a preset, with single options flipped."""

    model_config = Strict
    preset: str = Field(default="go1.27", description="a design preset (`gosim designs`)",
                        json_schema_extra={"enum": sorted(PRESETS)})
    overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="design option -> value, replacing the preset's (an ablation)")

    @classmethod
    def expand_short(cls, v: Any) -> Any:
        return {"preset": v} if isinstance(v, str) else v

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"anyOf": [{"type": "string", "enum": sorted(PRESETS)}, handler(core_schema)]}

    @field_validator("preset")
    @classmethod
    def _preset(cls, v: str) -> str:
        if v not in PRESETS:
            raise _custom("unknown_preset",
                          f"unknown design preset {v!r}; expected one of {sorted(PRESETS)}")
        return v

    @field_validator("overrides")
    @classmethod
    def _overrides(cls, v: dict[str, Any]) -> dict[str, Any]:
        names = design_options()
        errors: list[InitErrorDetails] = []
        for k, x in v.items():
            if k not in names:
                errors.append(InitErrorDetails(
                    type=_custom("unknown_option", f"unknown design option {k!r}; expected one "
                                 f"of {sorted(names)}"), loc=(k,), input=x))
                continue
            if k == "sizeclasses" and x not in SIZECLASS_PRESETS:
                errors.append(InitErrorDetails(
                    type=_custom("unknown_table", f"unknown size-class table {x!r}; expected one "
                                 f"of {list(SIZECLASS_PRESETS)}"), loc=(k,), input=x))
                continue
            try:
                _option_adapter(k).validate_python(x, strict=True)
            except ValidationError as e:
                for err in e.errors():
                    detail = InitErrorDetails(type=err["type"], loc=(k, *err["loc"]),
                                              input=err["input"])
                    if "ctx" in err:
                        detail["ctx"] = err["ctx"]
                    errors.append(detail)
        if errors:
            raise _keyed_errors("overrides", errors)
        return v


class Warmup(BaseModel):
    """Warm-up dropped from time-based metrics: a fixed span or MSER-5."""

    model_config = Strict
    method: Literal["none", "fixed", "mser5"] = Field(
        default="none", description="`none`; `fixed`: drop the first `duration_ns`; `mser5`: "
        "MSER-5 on the per-bin completion counts")
    duration_ns: int = Field(default=0, ge=0, description="`fixed`: the warm-up, ns")


class GCSpec(BaseModel):
    """The garbage collector (runtime/mgc.go, mgcpacer.go): GOGC and GOMEMLIMIT."""

    model_config = Strict
    enabled: bool = Field(default=True, description="run the collector (false: GOGC=off)")
    gogc: int = Field(default=100, ge=1, le=100_000,
                      description="GOGC: heap growth over the marked heap before the next "
                      "cycle, percent")
    memory_limit_bytes: int | None = Field(
        default=None, ge=1, description="GOMEMLIMIT, bytes (null: no limit)")


class Scenario(BaseModel):
    """One simulation run, fully specified."""

    model_config = Strict
    design: DesignSpec = Field(default_factory=DesignSpec,
                               description="the allocator design: a preset name, or a mapping")
    gomaxprocs: int = Field(default=1, ge=1, le=1024, description="number of Ps")
    workload: Workload = Field(default_factory=Workload, description="what the goroutines do")
    gc: GCSpec = Field(default_factory=GCSpec, description="the garbage collector")
    #: the names are checked where the scenario is used (gosim.config, gosim.sim.costmodel)
    costs: dict[str, Dist] = Field(
        default_factory=dict,
        description="cost-model overrides: parameter -> constant or distribution (`gosim costs`)",
        json_schema_extra=lambda s: s.update(propertyNames={"enum": list(cost_parameter_names())}))
    costs_profile: str | None = Field(
        default=None, description="a calibration profile (`gosim calibrate`) whose values "
        "replace the defaults: a name in `profiles/` or a path to a .yaml file")
    duration_ns: int | None = Field(
        default=None, ge=1, description="stop after this much simulated time, ns (null: when "
        "every goroutine has made its `allocations`)")
    seed: int = Field(default=1, ge=0, description="base seed of the replications")
    mode: Literal["batched", "step"] = Field(
        default="batched", description="`batched` advances over runs of cached-span "
        "allocations in one step; `step` steps each allocation (the reference; same results)")
    lock_policy: Literal["barging", "fifo"] = Field(
        default="barging", description="runtime-mutex acquisition order: `barging` (as Go's "
        "lock) or `fifo`")
    check_lock_order: bool = Field(
        default=False, description="check every runtime-lock acquisition against the "
        "design's lock ranking (`gosim locks DESIGN`) and fail the run on a violation or a "
        "lock-order cycle (slower; results are the same)")
    time_slice_ns: int = Field(
        default=10_000_000, ge=1,
        description="scheduler time slice, ns (Go's forcePreemptNS, proc.go sysmon)")
    warmup: Warmup = Field(default_factory=Warmup,
                           description="warm-up dropped from time-based metrics")
    timeseries_interval_ns: int = Field(
        default=0, ge=0, description="sample throughput and heap every this many ns (0: off)")

    @model_validator(mode="after")
    def _check_stop(self) -> Scenario:
        if self.duration_ns is None and any(g.allocations is None for g in self.workload.groups):
            raise ValueError(
                "set 'duration_ns' or give every workload group an 'allocations' count")
        return self
