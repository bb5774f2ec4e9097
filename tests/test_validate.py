"""``gosim validate``: the claims' verdicts, their ablations, the report, bad input.

One quick run of every claim (a subprocess of the real command, ``--format
json``) is shared by the tests that read verdicts; the figure functions are
also checked on hand-made tables whose answers are computed by hand.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gosim.analysis.theory import mva_machine_repairman
from gosim.cli import main
from gosim.errors import ConfigError
from gosim.runtime.sizeclasses import get_table
from gosim.validate.claim import Check, Threshold, _set_dotted, load_claims
from gosim.validate.figures import compute, efficiency_of, expected_rounding_waste, mva_curve
from gosim.validate.report import knees

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = ROOT / "experiments" / "claims"
JSON_KEYS = {"claim", "measured", "ci_low", "ci_high", "threshold", "verdict", "ablation",
             "ablation_measured", "ablation_verdict"}
#: claims the model does not support today, with what it shows instead (docs/validate.md)
EXPECTED_FAIL = {
    # the global-lock preset pays go1.12's 2.5 us page allocation inside the lock;
    # waiters outlast the spin window and sleep, and the wake-up hand-off leaves the
    # lock idle: throughput saturates ~20% below exact MVA's 1/S
    "global_lock_mva",
}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, list[dict], Path]:
    out = tmp_path_factory.mktemp("validate")
    p = subprocess.run(
        [sys.executable, "-m", "gosim.cli", "validate", "--quick", "--format", "json",
         "--jobs", "2", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env={**os.environ, "COLUMNS": "200"})
    assert p.returncode in (0, 1), p.stderr
    return p.returncode, json.loads(p.stdout), out  # stdout is only the JSON list


def test_json_lists_every_claim_with_the_documented_keys(quick_run):
    _, rows, _ = quick_run
    assert [r["claim"] for r in rows] == [c.name for c in load_claims(CLAIMS)]
    assert {p.stem for p in CLAIMS.glob("*.yaml")} == {r["claim"] for r in rows}
    for r in rows:
        assert set(r) == JSON_KEYS
        assert r["verdict"] in ("pass", "fail") and r["ablation_verdict"] in ("pass", "fail")
        assert r["ci_low"] <= r["measured"] <= r["ci_high"]


def test_each_claim_passes_except_the_documented_ones(quick_run):
    _, rows, _ = quick_run
    verdicts = {r["claim"]: r["verdict"] for r in rows}
    assert verdicts == {c: "fail" if c in EXPECTED_FAIL else "pass" for c in verdicts}


def test_every_ablation_fails_its_check(quick_run):
    _, rows, _ = quick_run
    assert {r["claim"]: r["ablation_verdict"] for r in rows} == {r["claim"]: "fail" for r in rows}


def test_verdicts_follow_the_thresholds(quick_run):
    """The verdict is the threshold applied to the measured mean, for both runs."""
    _, rows, _ = quick_run
    checks = {c.name: c.check for c in load_claims(CLAIMS)}
    for r in rows:
        th = checks[r["claim"]].threshold
        assert r["threshold"] == th.text()
        assert r["verdict"] == ("pass" if th.holds(r["measured"]) else "fail")
        assert r["ablation_verdict"] == ("pass" if th.holds(r["ablation_measured"]) else "fail")


def test_exit_status_says_whether_every_claim_held(quick_run):
    rc, rows, _ = quick_run
    ok = all(r["verdict"] == "pass" and r["ablation_verdict"] == "fail" for r in rows)
    assert rc == (0 if ok else 1)


def test_readme_and_docs_show_this_quick_run(quick_run):
    """The verdict blocks in README.md and docs/validate.md are what ``make
    figures`` renders from this very run (``gosim validate --quick``)."""
    from scripts import figures

    rendered = figures.render_validate(quick_run[1])
    shown = {str(d.relative_to(ROOT)): figures.read_blocks(d.read_text(), d.name).get("validate")
             for d in figures.documents()}
    assert shown["README.md"] is not None and shown["docs/validate.md"] is not None
    for doc, block in shown.items():
        if block is not None:
            assert block == rendered, f"{doc}: stale validate figures; run: make figures"


def test_report_has_a_plot_per_claim_and_the_knees(quick_run):
    _, rows, out = quick_run
    report = (out / "report.md").read_text()
    for r in rows:
        assert (out / "plots" / f"{r['claim']}.png").stat().st_size > 0
        assert f"](plots/{r['claim']}.png)" in report
        assert (out / f"claim-{r['claim']}" / "runs.parquet").exists()
        assert (out / f"claim-{r['claim']}-ablation" / "runs.parquet").exists()
    # claim 7: knee and bending lock per release, recomputed here from the tables
    tables = {t: pd.read_parquet(out / "claim-go_history" / f"{t}.parquet")
              for t in ("runs", "p_time")}
    rows7 = {k["design"]: k for k in knees(tables, 0.8)}
    assert set(rows7) == {"go1.12", "go1.14", "go1.15", "go1.27"}
    assert rows7["go1.12"]["lock"] == "mheap"      # Go issue 23182 / design doc 35112
    assert rows7["go1.14"]["lock"] == "mcentral"   # Go issue 37487
    for k in rows7.values():
        knee = str(k["knee"]) if k["knee"] is not None else f"none up to {k['max_p']}"
        assert f"| {k['design']} | {knee} | `{k['lock'] or '-'}` |" in report


def test_a_rerun_reuses_the_cached_runs(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # rich wraps the table to the terminal width
    argv = ["validate", "--quick", "--claim", "waste", "--jobs", "1", "--out", str(tmp_path),
            "--format", "json"]
    assert main(argv) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert main([*argv[:-2], "--format", "table"]) == 0  # the same runs, now cached
    table = capsys.readouterr().out
    line = next(ln for ln in table.splitlines() if "9. waste" in ln)
    cells = [c.strip() for c in line.strip("│ ").split("│")]
    assert cells == ["9. waste", f"{row['measured']:.3e}", "<= 0.0005", "pass", row["ablation"],
                     f"{row['ablation_measured']:.4g}", "fail"]
    assert f"Report: {tmp_path / 'report.md'}" in table
    n = len(load_claims(CLAIMS, ["waste"], quick=True)[0].experiment.runs)
    claim = load_claims(CLAIMS, ["waste"], quick=True)[0]
    assert claim.mix_experiment is not None
    for exp, runs in (("claim-waste", n), ("claim-waste-ablation", n),
                      ("claim-waste-mix", len(claim.mix_experiment.runs))):
        counts = json.loads((tmp_path / exp / "manifest.json").read_text())["counts"]
        assert (counts["ran"], counts["cached"]) == (0, runs)


def test_default_claims_dir_outside_the_checkout(tmp_path, monkeypatch):
    """Run from another directory, the checkout's experiments/claims is used;
    a --claims-dir that is not a directory is bad input."""
    from gosim.commands.validate import default_claims_dir

    monkeypatch.chdir(tmp_path)
    assert default_claims_dir() == CLAIMS
    (tmp_path / "experiments" / "claims").mkdir(parents=True)
    assert default_claims_dir() == Path("experiments") / "claims"  # the working directory's


# ------------------------------------------------------------------ bad input

def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_unknown_claim_name(capsys, tmp_path):
    err = _one_line_error(capsys, ["validate", "--claim", "nope", "--out", str(tmp_path / "o")])
    assert "unknown claim 'nope'" in err and "fast_path" in err
    assert not (tmp_path / "o").exists()


def test_out_that_is_a_file(capsys, tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    err = _one_line_error(capsys, ["validate", "--claim", "waste", "--out", str(f)])
    assert str(f) in err
    assert f.read_text() == "x"


GOOD = (CLAIMS / "heap_growth.yaml").read_text()


@pytest.mark.parametrize(("edit", "key", "expected"), [
    (lambda s: s.replace("    reason: >\n", "    why: >\n"), "check.threshold",
     "reason"),
    (lambda s: s.replace("figure: value", "figure: median"), "check.figure", "value"),
    (lambda s: s.replace("palloc_chunk_pages: 1", "palloc_chunk_pagez: 1"),
     "palloc_chunk_pagez", "unknown design option"),
    (lambda s: s.replace("  figure: value\n", "  figure: value\n  where: {sise: 1}\n"),
     "check.where.sise", "unknown column"),
    (lambda s: s.replace("  sweep.replications: 2\n", "  sweep.repetitions: 2\n"),
     "quick.sweep.repetitions", "existing key"),
    (lambda s: s.split("check:")[0], "check", "missing"),
    (lambda s: s.replace("{design.overrides.palloc_chunk_pages: 1}", "{seed: 3}")
     .replace("sweep:\n", "sweep:\n  grid: {seed: [1, 2]}\n"),
     "check.ablation.set.seed", "undo the ablation"),
    (lambda s: s.replace("number: 5", "number: [5"), None, "malformed YAML"),
    (lambda s: s + "  mix: {name: m, reason: r, set: {workload.groups.0.size: 64}}\n",
     "check.mix", "'waste' figure only"),
])
def test_malformed_claim_file(capsys, tmp_path, edit, key, expected):
    d = tmp_path / "claims"
    d.mkdir()
    (d / "bad.yaml").write_text(edit(GOOD))
    err = _one_line_error(capsys, ["validate", "--quick", "--claims-dir", str(d),
                                   "--out", str(tmp_path / "o")])
    assert "bad.yaml" in err and expected in err
    if key:
        assert key in err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ figures, by hand

def test_threshold_ops():
    assert Threshold(op="<=", value=0.1, reason="r").holds(0.1)
    assert not Threshold(op="<=", value=0.1, reason="r").holds(0.11)
    assert Threshold(op=">=", value=2, reason="r").holds(2.5)
    assert not Threshold(op=">=", value=2, reason="r").holds(float("nan"))
    w = Threshold(op="within", value=[0.95, 1.05], reason="r")
    assert w.holds(1.05) and not w.holds(1.06) and w.text() == "within [0.95, 1.05]"


def test_quick_overrides_reach_keys_with_dots():
    data = {"sweep": {"zip": {"gomaxprocs": [1, 2, 4], "workload.groups.0.count": [1, 2, 4]}},
            "scenario": {"workload": {"groups": [{"size": 48}]}}}
    _set_dotted(data, "sweep.zip.workload.groups.0.count", [1, 8], file="f", key="k")
    _set_dotted(data, "scenario.workload.groups.0.size", 64, file="f", key="k")
    assert data["sweep"]["zip"]["workload.groups.0.count"] == [1, 8]
    assert data["scenario"]["workload"]["groups"][0]["size"] == 64
    with pytest.raises(ConfigError, match="existing key"):
        _set_dotted(data, "sweep.zap", 1, file="f", key="k")


def _check(**kw) -> Check:
    base = {"number": 1, "statement": "s", "measures": "m",
            "threshold": {"op": "<=", "value": 1, "reason": "r"},
            "ablation": {"name": "a", "set": {"seed": 1}}}
    return Check.model_validate({**base, **kw})


def _tables(runs: list[dict], locks: list[dict] | None = None) -> dict[str, pd.DataFrame]:
    return {"runs": pd.DataFrame(runs), "locks": pd.DataFrame(locks or [])}


def test_efficiency_is_throughput_over_linear_from_the_smallest_p():
    runs = [{"run_id": i, "replication": 0, "design": "go1.27", "gomaxprocs": p,
             "allocs_per_sim_second": x, "error": None}
            for i, (p, x) in enumerate([(1, 10.0), (4, 36.0), (16, 120.0)])]
    eff = efficiency_of(pd.DataFrame(runs))
    assert list(eff) == pytest.approx([1.0, 0.9, 0.75])
    fig = compute(_check(figure="efficiency"), _tables(runs))
    assert fig.mean == pytest.approx(0.75)


def test_ratio_pairs_replications():
    runs = []
    for rep, (a, b) in enumerate([(1.0, 4.0), (3.0, 4.0)]):
        runs += [{"run_id": 2 * rep, "replication": rep, "design": "go1.14", "gomaxprocs": 8,
                  "workload.groups.0.size": 1024, "m": a, "error": None},
                 {"run_id": 2 * rep + 1, "replication": rep, "design": "go1.14", "gomaxprocs": 8,
                  "workload.groups.0.size": 262144, "m": b, "error": None}]
    fig = compute(_check(figure="ratio", metric="m", where={"workload.groups.0.size": 1024},
                         over={"workload.groups.0.size": 262144}), _tables(runs))
    assert fig.values == (0.25, 0.75)
    assert fig.mean == pytest.approx(0.5)
    # t(0.975, 1) = 12.706; s = 0.3536; half width = 12.706 * 0.3536 / sqrt(2)
    assert fig.ci_high - fig.mean == pytest.approx(12.7062 * 0.25, rel=1e-4)


def test_locks_per_span_uses_the_size_class_table():
    table = get_table("go1.12")
    nobj = table.classes[table.size_to_class(48)].objects
    assert nobj == 170
    runs = [{"run_id": 0, "replication": 0, "design": "go1.12", "gomaxprocs": 2,
             "workload.groups.0.size": 48, "lock_free_fraction": 1 - 2 / 340, "error": None},
            {"run_id": 1, "replication": 0, "design": "go1.12+x=1", "gomaxprocs": 2,
             "workload.groups.0.size": 1024, "lock_free_fraction": 0.0, "error": None}]
    fig = compute(_check(figure="locks_per_span"), _tables(runs))
    assert fig.mean == pytest.approx(8.0)  # the 1 KiB run: every allocation locks, 8 per span


def test_waste_against_the_max_waste_column():
    table = get_table("go1.27")
    c = table.size_to_class(1025)  # the 1152 B class; previous class 1024 B
    row = table.classes[c]
    n = 2 * row.objects
    runs = [{"run_id": 0, "replication": 0, "design": "go1.15", "gomaxprocs": 1,
             "workload.groups.0.size": 1025, "mallocs": n, "requested_bytes": n * 1025,
             "heap_inuse_bytes": 2 * row.span_bytes, "error": None}]
    fig = compute(_check(figure="waste"), _tables(runs))
    assert fig.mean == pytest.approx(0.0, abs=1e-12)
    # by hand: (1152 - 1025) * objects + tail, over the span
    assert row.max_waste == pytest.approx(((1152 - 1025) * row.objects + row.tail_waste_bytes)
                                          / row.span_bytes)


def test_mva_curve_takes_hold_and_think_from_the_one_p_run():
    s, z = 40.0, 60.0
    xs = {1: 1e9 / (s + z), 4: 0.9 * mva_machine_repairman(4, z, s).throughput_per_ns * 1e9}
    runs = pd.DataFrame([{"run_id": i, "replication": 0, "design": "global-lock",
                          "gomaxprocs": p, "allocs_per_sim_second": x, "error": None}
                         for i, (p, x) in enumerate(xs.items())])
    locks = pd.DataFrame([{"run_id": i, "kind": "global", "hold_mean_ns": s, "utilisation": 0.5}
                          for i in range(2)])
    m = mva_curve(runs, locks)
    assert m["hold_ns"].iloc[0] == s and m["think_ns"].iloc[0] == pytest.approx(z)
    assert list(m["sim"] / m["mva"]) == pytest.approx([1.0, 0.9])
    fig = compute(_check(figure="mva"), {"runs": runs, "locks": locks})
    assert fig.mean == pytest.approx(0.1)


def test_bottleneck_removed_and_knees():
    def run(i, design, p, x, **waits):
        return {"run_id": i, "replication": 0, "design": design, "gomaxprocs": p,
                "allocs_per_sim_second": x, "error": None,
                **{f"p_time_share_wait_{k}": v for k, v in waits.items()}}
    runs = [run(0, "go1.12", 1, 10, mheap=0.0, mcentral=0.0),
            run(1, "go1.12", 8, 20, mheap=0.6, mcentral=0.01),
            run(2, "go1.14", 1, 10, mheap=0.0, mcentral=0.0),
            run(3, "go1.14", 8, 40, mheap=0.06, mcentral=0.5),
            run(4, "go1.15", 1, 10, mheap=0.0, mcentral=0.0),
            run(5, "go1.15", 8, 78, mheap=0.05, mcentral=0.0)]
    fig = compute(_check(figure="bottleneck_removed"), _tables(runs))
    assert fig.mean == pytest.approx(max(0.06 / 0.6, 0.0 / 0.5))
    # the knee's lock comes from p_time.parquet: 8 Ps x 1000 ns, waits as in the runs
    p_time = []
    for r in runs:
        waits = {k[len("p_time_share_wait_"):]: v for k, v in r.items()
                 if k.startswith("p_time_share_wait_")}
        for p in range(r["gomaxprocs"]):
            busy = 1000 - sum(round(1000 * v) for v in waits.values())
            p_time += [{"run_id": r["run_id"], "p": p, "category": f"wait:{k}",
                        "ns": round(1000 * v)} for k, v in waits.items()]
            p_time.append({"run_id": r["run_id"], "p": p, "category": "work", "ns": busy})
    k = {r["design"]: r for r in knees({**_tables(runs), "p_time": pd.DataFrame(p_time)}, 0.8)}
    assert k["go1.12"]["knee"] == 8 and k["go1.12"]["lock"] == "mheap"
    assert k["go1.14"]["knee"] == 8 and k["go1.14"]["lock"] == "mcentral"
    assert k["go1.12"]["share"] == pytest.approx(0.6)
    assert k["go1.15"]["knee"] is None and k["go1.15"]["efficiency_at_max"] == pytest.approx(
        78 / 80)
    assert k["go1.15"]["lock"] == "mheap" and k["go1.15"]["share"] == pytest.approx(0.05)


# ------------------------------------------------------------------ claim 9's size mix

def test_mix_waste_matches_the_distribution_and_the_table(tmp_path):
    """Claim 9's mix, run as the claim file says: its rounding waste (from the
    simulation's requested_bytes) agrees with the limit computed from the
    lognormal and the size-class table alone; the heap-level waste adds span
    tails and partly used spans, so it is larger."""
    from gosim.runner import run_experiment
    from gosim.runner.writer import read_tables
    from gosim.validate.figures import mix_waste
    from gosim.validate.report import write_report
    from gosim.validate.run import Verdict

    claim = load_claims(CLAIMS, ["waste"], quick=True)[0]
    exp = claim.mix_experiment
    assert exp is not None and claim.check.mix is not None
    group = exp.runs[0].scenario.workload.groups[0]
    assert group.size.dist == "lognormal" and group.pointer_free_fraction == 0.0
    outcome = run_experiment(exp, out_dir=str(tmp_path), jobs=1, progress=False, plots=False)
    tables = read_tables(outcome.results_dir)
    runs = tables["runs"]
    assert len(runs) == claim.check.mix.replications
    assert (runs["mallocs"] == group.allocations).all()  # no draw rounded to size 0 here
    rounding, heap = mix_waste(runs)
    expected = expected_rounding_waste("go1.15", group.size.model_dump(exclude_none=True),
                                       False)
    assert expected is not None and 0.03 < expected < 0.12
    assert rounding.mean == pytest.approx(expected, abs=0.002)
    assert all(h > r for h, r in zip(heap.values, rounding.values, strict=True))
    # the report gives both, beside the verdict
    empty = {"runs": pd.DataFrame(), "locks": pd.DataFrame()}
    fig = compute(claim.check, empty)
    v = Verdict(claim, fig, fig, empty, empty, 0, tables)
    report = write_report([v], tmp_path / "report", quick=True).read_text()
    assert "Waste of a realistic size mix (reported, not checked)" in report
    assert f"{rounding.mean:.2%}" in report and f"{expected:.2%} in the limit" in report


def test_expected_rounding_waste_by_hand():
    """A lognormal so narrow that every draw rounds to 100 B: the 112 B class
    of today's table charges 12 B more, 12/112 of it wasted."""
    w = expected_rounding_waste("go1.15", {"dist": "lognormal", "mean": 100, "sigma": 1e-4},
                                False)
    assert w == pytest.approx(12 / 112, rel=1e-9)
    assert expected_rounding_waste("go1.15", {"dist": "const", "value": 100}, False) is None
