"""Claim files: an experiment (the ``configs/*.yaml`` schema) plus a ``check:``.

A claim file is an ordinary experiment YAML with two extra top-level keys that
``gosim validate`` takes off before the experiment is validated:

- ``check:`` what to compute from the results and the threshold it must meet
  (:class:`Check`; vocabulary in docs/validate.md);
- ``quick:`` dotted overrides of the experiment applied under ``--quick``
  (fewer Ps, replications, shorter runs), e.g. ``sweep.replications: 2``.

The ablation is the same experiment with ``check.ablation.set`` applied to the
base scenario (dotted scenario keys, e.g. ``design.overrides.global_lock``):
the same check must fail on it. A ``waste`` check may name a size ``mix``
(``check.mix``): a third experiment, the base scenario with ``mix.set``
applied and no sweep, whose waste the report gives beside the verdict.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gosim.config import Experiment, build_experiment, set_key_path
from gosim.errors import ConfigError

_Strict = ConfigDict(extra="forbid")

#: figures a check may compute (docs/validate.md)
FigureName = Literal["value", "ratio", "efficiency", "locks_per_span", "mva", "waste",
                     "bottleneck_removed"]


class Threshold(BaseModel):
    model_config = _Strict
    op: Literal["<=", ">=", "within"]
    value: float | list[float]
    reason: str = Field(min_length=1)

    def holds(self, x: float) -> bool:
        if x != x:  # NaN: nothing measured
            return False
        if self.op == "<=":
            return x <= self.value  # type: ignore[operator]
        if self.op == ">=":
            return x >= self.value  # type: ignore[operator]
        lo, hi = self.value  # type: ignore[misc]
        return lo <= x <= hi

    def text(self) -> str:
        if self.op == "within":
            lo, hi = self.value  # type: ignore[misc]
            return f"within [{lo:g}, {hi:g}]"
        return f"{self.op} {self.value:g}"


class Ablation(BaseModel):
    model_config = _Strict
    #: what the ablation removes, in words
    name: str = Field(min_length=1)
    #: dotted scenario key -> value, applied to the base scenario
    set: dict[str, Any] = Field(min_length=1)


class Mix(BaseModel):
    """A size mix whose waste the ``waste`` figure reports beside the check:
    the claim's base scenario with ``set`` applied, run ``replications`` times
    (no sweep). Reported, never part of the verdict."""

    model_config = _Strict
    #: the mix, in words
    name: str = Field(min_length=1)
    #: why this mix
    reason: str = Field(min_length=1)
    #: dotted scenario key -> value, applied to the base scenario
    set: dict[str, Any] = Field(min_length=1)
    replications: int = Field(default=3, ge=1)


class Check(BaseModel):
    """What a claim computes from its experiment's tables."""

    model_config = _Strict
    #: position in the verdict table (the issue's claim number)
    number: int = Field(ge=1)
    #: the claim in one sentence
    statement: str = Field(min_length=1)
    figure: FigureName
    #: what the figure measures, in words (printed in the table and report)
    measures: str = Field(min_length=1)
    #: a runs.parquet column (or ``p_time_share_wait_any``); see docs/validate.md
    metric: str = "allocs_per_sim_second"
    #: run selection: column -> value (``design`` matches the preset before '+')
    where: dict[str, Any] = Field(default_factory=dict)
    #: the denominator's selection for ``ratio``
    over: dict[str, Any] = Field(default_factory=dict)
    #: ``bottleneck_removed``: a lock is a bottleneck only above this share of P time
    min_share: float = Field(default=0.1, gt=0, lt=1)
    #: report where each curve bends: the first P whose efficiency is below this
    knee_fraction: float | None = Field(default=None, gt=0, lt=1)
    threshold: Threshold
    ablation: Ablation
    #: ``waste`` only: a realistic size mix whose waste is reported alongside
    mix: Mix | None = None


@dataclass
class Claim:
    """One claim file, loaded: the check and its two experiments."""

    name: str
    path: Path
    check: Check
    experiment: Experiment
    ablation_experiment: Experiment
    #: the check's ``mix`` as an experiment (None: the check has none)
    mix_experiment: Experiment | None = None


def _set_dotted(data: dict[str, Any], path: str, value: Any, *, file: str, key: str) -> None:
    """Replace the value at a dotted path of the experiment mapping. A mapping
    key may itself contain dots (``sweep.zip.gomaxprocs``, or a swept key such
    as ``sweep.grid.workload.groups.0.size``): the longest key that exists is
    taken at each level. The value must already exist (quick mode shrinks an
    experiment; it does not add to it)."""
    parts = path.split(".")
    cur: Any = data
    i = 0
    while True:
        if isinstance(cur, list) and parts[i].isdigit() and int(parts[i]) < len(cur):
            j = i + 1
            name: Any = int(parts[i])
        elif isinstance(cur, dict):
            j = next((j for j in range(len(parts), i, -1) if ".".join(parts[i:j]) in cur), 0)
            name = ".".join(parts[i:j])
        else:
            j = 0
        if not j:
            raise ConfigError(f"no '{'.'.join(parts[:i + 1])}' in the experiment to override; "
                              "expected a dotted path to an existing key", file=file, key=key)
        if j == len(parts):
            cur[name] = value
            return
        cur, i = cur[name], j



def _variant(data: dict[str, Any], what: str, sets: dict[str, Any], *, file: str
             ) -> dict[str, Any]:
    """A copy of the claim's experiment named ``<name>-<what>`` with the dotted
    scenario keys of ``check.<what>.set`` applied."""
    out = copy.deepcopy(data)
    out["name"] = f"{data['name']}-{what}"
    scenario = out.setdefault("scenario", {})
    for k, v in sets.items():
        try:
            set_key_path(scenario, k, copy.deepcopy(v))
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise ConfigError(f"cannot apply to the scenario: {e}", file=file,
                              key=f"check.{what}.set.{k}") from None
    return out


def load_claim(path: Path, *, quick: bool = False) -> Claim:
    """Read a claim file and build its experiment and ablation (raises ConfigError)."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as e:
        raise ConfigError(f"cannot read the file: {e}", file=file) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"malformed YAML: {getattr(e, 'problem', None) or e}", file=file,
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping with 'scenario', 'sweep' and 'check'", file=file)
    if "check" not in data:
        raise ConfigError("missing; expected a check mapping (docs/validate.md)", file=file,
                          key="check")
    raw_check = data.pop("check")
    quick_over = data.pop("quick", None) or {}
    if not isinstance(quick_over, dict):
        raise ConfigError("expected a mapping of dotted keys to values", file=file, key="quick")
    try:
        check = Check.model_validate(raw_check)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in ("check", *err["loc"]))
        raise ConfigError(f"{err['msg']} (got {err.get('input')!r})", file=file,
                          key=loc) from None
    data.setdefault("name", f"claim-{path.stem}")
    if quick:
        for k, v in quick_over.items():
            _set_dotted(data, k, copy.deepcopy(v), file=file, key=f"quick.{k}")
    exp = build_experiment(copy.deepcopy(data), file=file, default_name=path.stem)
    for k in check.ablation.set:
        clash = [s for s in exp.swept_keys if s == k or s.startswith(k + ".")
                 or k.startswith(s + ".")]
        if clash:
            raise ConfigError(f"the sweep sets '{clash[0]}' in every run, which would undo "
                              "the ablation; expected a key the sweep leaves alone", file=file,
                              key=f"check.ablation.set.{k}")
    abl_exp = build_experiment(
        _variant(data, "ablation", check.ablation.set, file=file),
        file=file, default_name=path.stem)
    mix_exp = None
    if check.mix is not None:
        if check.figure != "waste":
            raise ConfigError(f"a mix is reported by the 'waste' figure only, not by "
                              f"{check.figure!r}", file=file, key="check.mix")
        mix = _variant(data, "mix", check.mix.set, file=file)
        mix["sweep"] = {"replications": check.mix.replications}
        mix_exp = build_experiment(mix, file=file, default_name=path.stem)
    claim = Claim(path.stem, path, check, exp, abl_exp, mix_exp)
    from gosim.validate.figures import check_selections

    check_selections(claim)
    return claim


def claim_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def load_claims(directory: Path, names: list[str] | None = None, *,
                quick: bool = False) -> list[Claim]:
    """Every claim in ``directory`` (or the named ones), in claim-number order."""
    files = {p.stem: p for p in claim_files(directory)}
    if not files:
        raise ConfigError(f"no claim files (*.yaml) in {directory}")
    if names:
        unknown = [n for n in names if n not in files]
        if unknown:
            raise ConfigError(f"--claim: unknown claim {unknown[0]!r}; expected one of "
                              f"{sorted(files)}")
        files = {n: files[n] for n in dict.fromkeys(names)}
    claims = [load_claim(p, quick=quick) for p in files.values()]
    return sorted(claims, key=lambda c: (c.check.number, c.name))
