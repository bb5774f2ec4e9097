"""Every shipped experiment (configs/, experiments/) runs end to end through
``gosim run``, shrunk so that the suite stays fast: allocation counts and
simulated time divided by ``SHRINK``, each swept list other than the design
cut to its first and last values, one replication. The design lists stay
whole, so every design a shipped experiment names is simulated."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from gosim.cli import main
from gosim.config import load_experiment

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted([*ROOT.glob("configs/*.yaml"), *ROOT.glob("experiments/*.yaml")])
SHRINK = 100


def _ends(values: list[Any]) -> list[Any]:
    return values if len(values) <= 2 else [values[0], values[-1]]


def _fewer(key: str, v: Any) -> Any:
    if key.endswith("allocations") and isinstance(v, int):
        return max(5, v // SHRINK)
    if key.endswith("duration_ns") and isinstance(v, int):
        return max(20_000, v // SHRINK)
    return v


def shrink(doc: dict[str, Any]) -> dict[str, Any]:
    sc = doc["scenario"]
    if "duration_ns" in sc:
        sc["duration_ns"] = _fewer("duration_ns", sc["duration_ns"])
    for g in sc["workload"]["groups"]:
        if "allocations" in g:
            g["allocations"] = _fewer("allocations", g["allocations"])
    sweep = doc.get("sweep", {})
    for key, values in list(sweep.get("grid", {}).items()):
        sweep["grid"][key] = [_fewer(key, v) for v in (
            values if key.startswith("design") else _ends(values))]
    zips = sweep.get("zip", [])
    for group in zips if isinstance(zips, list) else [zips]:
        for key, values in list(group.items()):
            group[key] = [_fewer(key, v) for v in _ends(values)]
    sweep["replications"] = 1
    return doc


def expected_runs(doc: dict[str, Any]) -> int:
    sweep = doc.get("sweep", {})
    n = math.prod(len(v) for v in sweep.get("grid", {}).values())
    zips = sweep.get("zip", [])
    for group in zips if isinstance(zips, list) else [zips]:
        n *= len(next(iter(group.values())))
    return n


def test_every_shipped_experiment_is_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in SHIPPED}
    assert {"configs/quickstart.yaml", "configs/scaling.yaml"} <= names
    assert len([n for n in names if n.startswith("experiments/")]) >= 2


@pytest.mark.parametrize("config", SHIPPED, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_shipped_experiment_runs(config: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    original = load_experiment(config)  # validates as shipped
    doc = shrink(yaml.safe_load(config.read_text()))
    small = tmp_path / config.name
    small.write_text(yaml.safe_dump(doc, sort_keys=False))
    exp = load_experiment(small)
    n = expected_runs(doc)
    assert len(exp.runs) == n
    designs = {r.scenario.design.preset for r in original.runs}
    assert {r.scenario.design.preset for r in exp.runs} == designs

    out = tmp_path / "results"
    rc = main(["run", str(small), "--out", str(out), "--jobs", "1"])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert f"{n} runs: {n} ran, 0 skipped (cached), 0 failed" in " ".join(cap.out.split())
    d = out / exp.name
    runs = pd.read_parquet(d / "runs.parquet")
    assert len(runs) == n and runs["error"].isna().all()
    assert (runs["allocs_per_sim_second"] > 0).all()
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 0 and manifest["interrupted"] is False
    assert sorted(p.name for p in (d / "plots").glob("*.png")) == sorted(manifest["plots"])
    assert ("scaling.png" in manifest["plots"]) == ("scaling" in exp.outputs.plot_names())
