"""The experiment file's schema above the scenario: top level, sweep, outputs.

The scenario itself is :class:`gosim.scenario.Scenario`. Models are strict:
unknown keys are errors and no value is coerced (``replications: "3"`` and
``plots: 1`` are refused).
"""

from __future__ import annotations

import re
import typing
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PlotName = Literal["scaling", "p_time", "lock_heatmap", "latency_ecdf", "flow", "timeseries"]
#: every plot gosim draws, in drawing order
PLOT_NAMES: tuple[str, ...] = typing.get_args(PlotName)

#: an experiment name names its results directory
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_Strict = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Sweep(BaseModel):
    """Which scenario keys vary, and how many replications each setting gets."""

    model_config = _Strict
    grid: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="dotted scenario key -> values; every combination (cartesian product, "
        "first key outermost)")
    zip: dict[str, list[Any]] | list[dict[str, list[Any]]] = Field(
        default_factory=dict,
        description="dotted scenario key -> values: lists of equal length varied in lockstep; "
        "a list of such mappings gives several lockstep groups, crossed with each other and "
        "with the grid")
    replications: int = Field(
        default=1, ge=1, description="runs per setting; replication r uses seed child r of "
        "SeedSequence(scenario.seed) in every setting (common random numbers)")

    def zip_groups(self) -> list[dict[str, list[Any]]]:
        if isinstance(self.zip, dict):
            return [self.zip] if self.zip else []
        return [g for g in self.zip if g]


class Outputs(BaseModel):
    """What is written besides the tables."""

    model_config = _Strict
    plots: bool | list[PlotName] = Field(
        default=True, description="`true`: every plot (`timeseries` when the runs sample a "
        "time series), `false`: none, or a list of plot names")
    timeseries: bool = Field(
        default=True, description="write timeseries.parquet when runs sample time series "
        "(`scenario.timeseries_interval_ns` > 0)")

    def plot_names(self) -> list[str]:
        if self.plots is True:
            return list(PLOT_NAMES)
        if self.plots is False:
            return []
        return [p for p in PLOT_NAMES if p in self.plots]


class ExperimentFile(BaseModel):
    """The top level of an experiment YAML file."""

    model_config = _Strict
    name: str | None = Field(
        default=None, description="names results/<name>/: letters, digits, '.', '_', '-' "
        "(null: the file name without .yaml)")
    description: str = Field(default="", description="what the experiment asks; shown in "
                             "summary.md")
    scenario: dict[str, Any] = Field(
        default_factory=dict,
        description="the base scenario (below); validated with each setting of the sweep, so "
        "a sweep may fill in what the base leaves out")
    sweep: Sweep = Field(default_factory=Sweep, description="which scenario keys vary")
    outputs: Outputs = Field(default_factory=Outputs, description="plots and time series")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str | None) -> str | None:
        if v is not None and not NAME_RE.match(v):
            raise ValueError("must be letters, digits, '.', '_' or '-' (it names the results directory)")
        return v
