"""``report.md`` (gosim/analysis/report.py): its findings against values
computed here, independently, from the tables of a small real run."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest

from gosim.analysis.report import (
    KNEE_EFFICIENCY,
    efficiency,
    knee,
    render_report,
    scaling_knees,
    setting_findings,
)
from gosim.config import load_experiment
from gosim.runner import run_experiment
from gosim.runner.writer import read_tables

CONFIG = """\
name: rep
description: go1.12 against go1.27, 1 to 4 Ps, two sizes
scenario:
  design: go1.12
  gomaxprocs: 1
  workload:
    groups:
      - {name: a, count: 1, size: 48, allocations: 2500,
         work_ns: {dist: exponential, mean: 30}}
sweep:
  grid:
    design.preset: [go1.12, go1.27]
  zip:
    - gomaxprocs: [1, 2, 4]
      workload.groups.0.count: [1, 2, 4]
    - workload.groups.0.size: [48, 1024]
      workload.groups.0.allocations: [2500, 700]
  replications: 2
"""
SIZE = "workload.groups.0.size"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report")
    cfg = d / "rep.yaml"
    cfg.write_text(CONFIG)
    o = run_experiment(load_experiment(cfg), out_dir=d / "results", jobs=1, progress=False,
                       plots=True)
    assert o.n_failed == 0
    return o.results_dir


def _meta(results: Path) -> dict:
    return json.loads((results / "manifest.json").read_text())


def test_knee_hand_computed() -> None:
    assert efficiency([1, 2, 4, 8], [10.0, 19.0, 30.0, 40.0]) == [1.0, 0.95, 0.75, 0.5]
    assert knee([1, 2, 4, 8], [10.0, 19.0, 30.0, 40.0]) == 4
    assert knee([8, 1, 4, 2], [40.0, 10.0, 30.0, 19.0]) == 4  # any order
    assert knee([1, 2, 4, 8], [10.0, 19.0, 30.0, 40.0], fraction=0.7) == 8
    assert knee([1, 2, 4], [10.0, 20.0, 40.0]) is None
    assert knee([2, 4], [10.0, 15.0]) == 4  # 75% of linear from 2 Ps


def _per_run_shares(t: dict[str, pd.DataFrame]) -> tuple[dict[int, float], dict[int, dict]]:
    """Per run: share of P time the mutexes were waited on (p_time.parquet);
    per run and lock: its wait over all P time (locks.parquet)."""
    total: dict[int, int] = defaultdict(int)
    waits: dict[int, int] = defaultdict(int)
    for r in t["p_time"].itertuples():
        total[r.run_id] += int(r.ns)
        if str(r.category).startswith("wait:"):
            waits[r.run_id] += int(r.ns)
    runs = t["runs"].set_index("run_id")
    lock_share: dict[int, dict[str, float]] = defaultdict(dict)
    for r in t["locks"].itertuples():
        span = int(runs.loc[r.run_id, "sim_time_ns"]) * int(runs.loc[r.run_id, "gomaxprocs"])
        lock_share[r.run_id][r.lock] = int(r.wait_total_ns) / span
    return {k: waits[k] / total[k] for k in total}, lock_share


def test_setting_findings_match_the_tables(results: Path) -> None:
    t = read_tables(results)
    sf = setting_findings(t, _meta(results)).set_index("setting_id")
    mutex_wait, lock_share = _per_run_shares(t)
    runs = t["runs"]
    kinds = t["locks"].drop_duplicates("lock").set_index("lock")["kind"]
    assert len(sf) == runs["setting_id"].nunique() == 12
    for sid, g in runs.groupby("setting_id"):
        ids = list(g["run_id"])
        row = sf.loc[sid]
        assert row["wait_share"] == pytest.approx(
            sum(sum(lock_share[i].values()) for i in ids) / len(ids), rel=1e-12, abs=1e-15)
        # the mutexes' part is the P time waiting in p_time.parquet (the lock-free
        # cells' contention is inside their operations' time)
        mutexes = sum(v for i in ids for lk, v in lock_share[i].items()
                      if kinds[lk] not in ("spanset", "heaplive", "pagefault")) / len(ids)
        assert mutexes == pytest.approx(sum(mutex_wait[i] for i in ids) / len(ids),
                                        rel=1e-12, abs=1e-15)
        locks = {lk for i in ids for lk in lock_share[i]}
        mean = {lk: sum(lock_share[i].get(lk, 0.0) for i in ids) / len(ids) for lk in locks}
        assert row["wait_share"] >= max(mean.values()) - 1e-15
        best = max(mean.values())
        assert row["lock_wait_share"] == pytest.approx(best, rel=1e-12, abs=1e-15)
        if best > 0:
            assert mean[row["lock"]] == best
        else:  # one P: nothing waits
            assert int(g["gomaxprocs"].iloc[0]) == 1
    # go1.12 with 4 Ps and 1 KiB objects waits on mheap.lock for most of its time
    big = runs[(runs["design"] == "go1.12") & (runs["gomaxprocs"] == 4) & (runs[SIZE] == 1024)]
    r = sf.loc[int(big["setting_id"].iloc[0])]
    assert r["lock"] == "mheap" and r["wait_share"] > 0.3


def test_knees_match_the_tables(results: Path) -> None:
    t = read_tables(results)
    runs = t["runs"]
    got = scaling_knees(t, _meta(results))
    assert len(got) == 4  # 2 designs x 2 sizes
    for (design, size), g in runs.groupby(["design", SIZE]):
        ps = sorted(set(g["gomaxprocs"]))
        x = [g[g["gomaxprocs"] == p]["allocs_per_sim_second"].mean() for p in ps]
        eff = [x[i] / (x[0] * ps[i]) for i in range(len(ps))]
        want = next((p for p, e in zip(ps, eff, strict=True) if e < KNEE_EFFICIENCY), None)
        row = got[(got["design"] == design) & (got["facet"] == f"size={size}")]
        assert len(row) == 1
        row = row.iloc[0]
        assert row["knee"] == want or (want is None and pd.isna(row["knee"]))
        assert row["efficiency_at_max"] == pytest.approx(eff[-1], rel=1e-12)
        at = want if want is not None else ps[-1]
        assert row["setting_id"] == int(g[g["gomaxprocs"] == at]["setting_id"].iloc[0])
    # go1.12 with 1 KiB objects stops scaling by 2 Ps: the mheap lock
    k = got[(got["design"] == "go1.12") & (got["facet"] == "size=1024")].iloc[0]
    assert k["knee"] == 2


def test_report_md_states_the_findings(results: Path) -> None:
    text = (results / "report.md").read_text()
    t = read_tables(results)
    meta = _meta(results)
    assert text.startswith("# rep: report\n")
    assert "- designs: `go1.12`, `go1.27`\n" in text
    assert "- in lockstep: `gomaxprocs`: 1, 2, 4; `workload.groups.0.count`: 1, 2, 4\n" in text
    assert "- 24 runs = 12 settings x 2 replications\n" in text
    sf = setting_findings(t, meta)
    for _, r in sf.iterrows():
        lock = f"`{r['lock']}`" if r["lock_wait_share"] > 0 else "none (no waits)"
        assert (f"| `{r['design']}` | {r['gomaxprocs']} | {r['facet']} | {lock} | "
                f"{r['lock_wait_share']:.1%} |") in text
    for _, k in scaling_knees(t, meta).iterrows():
        kt = str(int(k["knee"])) if not pd.isna(k["knee"]) else f"none up to {k['max_p']}"
        assert f"| `{k['design']}` | {k['facet']} | {kt} | {k['efficiency_at_max']:.1%} |" \
            in text
    # every plot drawn is linked, relative to the results directory
    drawn = sorted(p.name for p in (results / "plots").iterdir())
    assert drawn
    for name in drawn:
        assert f"](plots/{name})" in text
    assert "## Allocation flow" in text if "flow.png" in drawn else "## Allocation flow" \
        not in text
    assert "report.md" in _meta(results)["files"]


def test_report_links_flow_only_when_drawn_and_says_when_no_plots(results: Path,
                                                                  tmp_path: Path) -> None:
    t = read_tables(results)
    meta = _meta(results)
    cfg = tmp_path / "rep.yaml"
    cfg.write_text(CONFIG)
    sweep = load_experiment(cfg).as_dict()["sweep"]
    d = tmp_path / "rep"
    (d / "plots").mkdir(parents=True)
    text = render_report(t, meta, d, sweep)
    assert "None drawn (`gosim plot" in text and "](plots/" not in text
    shutil.copy(results / "plots" / "scaling.png", d / "plots" / "scaling.png")
    (d / "plots" / "flow.png").write_bytes(b"")
    text = render_report(t, meta, d, sweep)
    assert "](plots/scaling.png)" in text and "](plots/p_time.png)" not in text
    assert "## Allocation flow" in text and "![flow.png](plots/flow.png)" in text
