"""The experiment schema as a reference: markdown for people, JSON Schema for tools.

Both are generated from the models themselves (``gosim.config.schema``,
``gosim.scenario``, ``gosim.workload.spec``) and from the model's own lists of
design presets, design options and cost parameters, so they cannot drift from
what ``load_experiment`` accepts. ``gosim schema`` prints them; docs/schema.md
is its output.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from gosim.config.schema import PLOT_NAMES, ExperimentFile, Outputs, Sweep
from gosim.runtime.design import PRESETS, option_docs
from gosim.scenario import DesignSpec, GCSpec, Scenario, Warmup, design_options
from gosim.workload.spec import (
    DISTRIBUTIONS,
    Dist,
    GoroutineGroup,
    Lifetime,
    LiveHeap,
    Workload,
)

#: a complete experiment that uses every form the schema offers (the tests load it)
EXAMPLE = """\
name: example                 # results/example/
description: go1.14 with and without the page cache, two object sizes
scenario:
  design: go1.14              # short for {preset: go1.14}
  gomaxprocs: 1
  seed: 2024
  lock_policy: barging
  costs:
    pagealloc_ns: {dist: lognormal, mean: 700, sigma: 0.4}
  gc: {gogc: 100}             # or {enabled: false}; memory_limit_bytes: GOMEMLIMIT
  workload:
    live_heap: {bytes: 1048576, object_size: 1024}   # a 1 MiB ballast, kept
    groups:
      - name: alloc
        count: 1
        size: 48              # short for {dist: const, value: 48}
        pointer_free_fraction: 1.0
        work_ns: {dist: exponential, mean: 50}
        lifetime: {allocations: 64}   # or drop, keep, {time: 5000}, {kind: time, value: 5000}
        touch: false          # true: write every 4 KiB page of each object
        allocations: 20000
      - name: background
        count: 1
        size: {dist: choice, values: [16, 1024], weights: [3, 1]}
        lifetime: keep
        allocations: 2000
sweep:
  grid:                       # every combination, first key outermost
    design.overrides.page_cache: [true, false]
    workload.groups.0.size: [48, 1024]
  zip:                        # varied in lockstep
    gomaxprocs:              [1, 2, 4]
    workload.groups.0.count: [1, 2, 4]
  replications: 3
outputs:
  plots: [scaling, p_time]
  timeseries: false
"""


class _ExperimentDoc(ExperimentFile):
    """A gosim experiment file."""

    # the file's scenario is validated after the sweep fills it in; documented as what
    # it must become
    scenario: Scenario = Field(  # type: ignore[assignment]
        default_factory=Scenario,
        description="the base scenario; validated with each setting of the sweep, so a sweep "
        "may fill in what the base leaves out")


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an experiment file."""
    out = _ExperimentDoc.model_json_schema()
    out["title"] = "gosim experiment"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **out}


# ---------------------------------------------------------------- markdown

#: section of each model in the markdown reference
SECTIONS: dict[type[BaseModel], str] = {
    ExperimentFile: "top level",
    Sweep: "sweep",
    Outputs: "outputs",
    Scenario: "scenario",
    DesignSpec: "scenario.design",
    Workload: "scenario.workload",
    LiveHeap: "scenario.workload.live_heap",
    GCSpec: "scenario.gc",
    GoroutineGroup: "scenario.workload.groups[i]",
    Dist: "distributions",
    Lifetime: "lifetimes",
    Warmup: "scenario.warmup",
}

#: the short forms of models that have one
_SHORT: dict[type[BaseModel], str] = {
    Dist: "a number (a constant)",
    DesignSpec: "a preset name",
    Lifetime: "`drop`, `keep`, `{allocations: N}`, `{time: N}`",
}


def _anchor(section: str) -> str:
    # GitHub's heading anchors: lower case, punctuation other than '-' and '_' dropped
    return "".join(c for c in section.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def _link(model: type[BaseModel]) -> str:
    section = SECTIONS[model]
    return f"[{section}](#{_anchor(section)})"


def _constraints(metadata: list[Any]) -> str:
    lo = hi = None
    parts = []
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            lo = m.ge
        elif isinstance(m, annotated_types.Le):
            hi = m.le
        elif isinstance(m, annotated_types.MinLen):
            parts.append(f"at least {m.min_length} item(s)")
    if lo is not None and hi is not None:
        parts.insert(0, f"{lo}..{hi}")
    elif lo is not None:
        parts.insert(0, f">= {lo}")
    elif hi is not None:
        parts.insert(0, f"<= {hi}")
    return ", ".join(parts)


def type_text(tp: Any) -> str:
    """A type annotation in words (markdown)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is int:
        return "integer"
    if tp is float:
        return "number"
    if tp is bool:
        return "boolean"
    if tp is str:
        return "string"
    if tp is Any:
        return "any value"
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (Union, types.UnionType):
        members = [a for a in args if a is not type(None)]
        text = " or ".join(type_text(a) for a in members)
        return text + (", or null" if len(members) < len(args) else "")
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is dict:
        return f"mapping of name to {type_text(args[1])}"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        short = _SHORT.get(tp)
        return (f"{short}, or a mapping: " if short else "mapping: ") + _link(tp)
    return str(tp)


def _value_text(v: Any) -> str:
    if isinstance(v, Dist) and v.dist == "const":
        return f"`{v.value:g}`"
    if isinstance(v, BaseModel):
        return "the defaults below" if v == type(v)() else \
            f"`{json.dumps(v.model_dump(mode='json', exclude_defaults=True))}`"
    if isinstance(v, list) and v and all(isinstance(x, BaseModel) for x in v):
        return f"{len(v)} item(s) with the defaults below"
    return f"`{json.dumps(v)}`"


def _field_row(name: str, f: FieldInfo, annotation: Any | None = None) -> str:
    tp = type_text(annotation if annotation is not None else f.annotation)
    extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
    if "enum" in extra:
        tp = "one of " + ", ".join(f"`{a}`" for a in typing.cast(list[Any], extra["enum"]))
    cons = _constraints(list(f.metadata))
    if cons:
        tp = f"{tp} ({cons})"
    default = "required" if f.is_required() else _value_text(f.get_default(call_default_factory=True))
    return f"| `{name}` | {tp} | {default} | {f.description or ''} |"


def _model_table(model: type[BaseModel], *, overrides: dict[str, Any] | None = None) -> list[str]:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, f in model.model_fields.items():
        rows.append(_field_row(name, f, (overrides or {}).get(name)))
    return rows


def _section(model: type[BaseModel], intro: str, **kw: Any) -> list[str]:
    return [f"## {SECTIONS[model]}", "", intro, "", *_model_table(model, **kw), ""]


def _design_option_rows() -> list[str]:
    hints = design_options()
    docs = option_docs()
    presets = sorted(PRESETS)
    rows = ["| option | type | meaning | " + " | ".join(f"`{p}`" for p in presets) + " |",
            "|---|---|---|" + "---|" * len(presets)]
    for name, tp in hints.items():
        if name == "sizeclasses":
            from gosim.runtime.sizeclasses import PRESETS as TABLES

            text = "one of " + ", ".join(f"`{t}`" for t in TABLES)
        else:
            text = type_text(tp)
        vals = " | ".join(f"`{json.dumps(getattr(PRESETS[p], name))}`" for p in presets)
        meaning = docs[name].replace("|", "\\|")
        rows.append(f"| `{name}` | {text} | {meaning} | {vals} |")
    return rows


def _cost_rows() -> list[str]:
    from gosim.sim.costs import COST_PARAMETERS

    rows = ["| parameter | default | unit | what it charges |", "|---|---|---|---|"]
    for name in sorted(COST_PARAMETERS):
        p = COST_PARAMETERS[name]
        rows.append(f"| `{name}` | {p.default:g} | {p.unit} | {p.help} |")
    return rows


def markdown() -> str:
    """The full reference of the experiment file, as markdown."""
    out = [
        "# Experiment file reference",
        "",
        "<!-- Generated by `gosim schema > docs/schema.md`; do not edit by hand: a test fails",
        "     when this file differs from the command's output. -->",
        "",
        "Generated by `gosim schema > docs/schema.md` from the models in",
        "`gosim/config/schema.py`, `gosim/scenario.py` and `gosim/workload/spec.py`;",
        "`gosim schema --format json` prints the same schema as JSON Schema. How to",
        "write, run and read experiments: [experiments/README.md](../experiments/README.md).",
        "",
        "Every key is checked before anything runs. Types are strict: a number is",
        "never a string (`\"2\"`) or a boolean (`true`), an integer is never a float",
        "(`2.0`), a number is finite (not `.inf` or `.nan`), and unknown keys are",
        "errors. A bad file exits with status 2 and one line naming the file, the",
        "line, the dotted key path and what was expected.",
        "",
        "## Example",
        "",
        "```yaml",
        EXAMPLE.rstrip("\n"),
        "```",
        "",
        *_section(ExperimentFile, "An experiment file is a mapping with these keys.",
                  overrides={"scenario": Scenario}),
        *_section(Sweep, "A sweep key is a dotted path into the scenario: `gomaxprocs`, "
                  "`design.preset`, `design.overrides.page_cache`, `costs.pagealloc_ns`, "
                  "`workload.groups.0.size`, `workload.groups.0.size.mean`... A list index "
                  "must exist in the base scenario; a key inside a short form (`size: 48` "
                  "with `workload.groups.0.size.value` swept) is allowed. A swept value may "
                  "be a mapping. The base value of a swept key must be valid too. Settings "
                  "are the grid crossed with each zip group; replications are innermost."),
        *_section(Outputs, "Plot names: " + ", ".join(f"`{p}`" for p in PLOT_NAMES) + "."),
        *_section(Scenario, "One simulation run, fully specified. A run stops when every "
                  "goroutine has made its `allocations`, or at `duration_ns`: one of the two "
                  "must be set."),
        *_section(DesignSpec, "Short form: `design: go1.27` is `design: {preset: go1.27}`."),
        "### scenario.design.overrides",
        "",
        "Each key is an option of `gosim.runtime.design.Design` (`gosim designs` says",
        "what each means); a value replaces the preset's. The presets' values:",
        "",
        *_design_option_rows(),
        "",
        *_section(GCSpec, "The garbage collector (GOGC, GOMEMLIMIT): on by default, as in "
                  "a Go program; `enabled: false` is GOGC=off. A design with a thread "
                  "cache (`transfer_batch_objects` > 0) has no collector."),
        *_section(Workload, "The goroutines: a list of groups."),
        *_section(LiveHeap, "A live heap built before the goroutines start (on P 0) and "
                  "reachable to the end: every cycle marks it."),
        *_section(GoroutineGroup, "A group of identical goroutines; each draws from its "
                  "own random streams."),
        *_section(Dist, "A non-negative quantity drawn per use: object sizes, work between "
                  "allocations, cost parameters. Short form: a number is "
                  "`{dist: const, value: N}`."),
        "The keys each distribution needs:",
        "",
        "| `dist` | needs | a draw is |",
        "|---|---|---|",
        *(f"| `{name}` | {', '.join(f'`{k}`' for k in need)} | {what} |"
          for name, (need, what) in DISTRIBUTIONS.items()),
        "",
        *_section(Lifetime, "How long an allocated object stays reachable. Forms: `drop`, "
                  "`keep`, `{allocations: N}`, `{time: N}` (ns), or the mapping "
                  "`{kind: K, value: N}` below."),
        *_section(Warmup, "Warm-up dropped from the time-based metrics (`warmup_ns` in "
                  "runs.parquet says how much)."),
        "## scenario.costs",
        "",
        "Cost-model parameters (`gosim costs` gives each one's source): a name below",
        "and a number or a [distribution](#distributions). Precedence: default <",
        "design preset < `costs_profile` < `costs`.",
        "",
        *_cost_rows(),
        "",
    ]
    return "\n".join(out)
