"""``gosim run --dry-run``: the runs, how many are cached, and a time estimate
for the rest (gosim/runner/estimate.py states the method)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gosim.cli import main
from gosim.config import parse_experiment
from gosim.runner.cache import model_fingerprint
from gosim.runner.estimate import features, plan, work

CONFIG = """\
name: est
scenario:
  seed: 4
  workload:
    groups:
      - count: 2
        size: 48
        allocations: 1000
sweep:
  grid:
    workload.groups.0.allocations: [1000, 2000, 4000]
outputs:
  plots: false
"""


def cache_entry(d: Path, spec, wall_s: float) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{spec.config_hash}.json").write_text(json.dumps({
        "config_hash": spec.config_hash, "model_fingerprint": model_fingerprint(),
        "scenario": spec.scenario.model_dump(mode="json"), "wall_s": wall_s,
        "result": {"metrics": {}}}))


def test_estimate_from_cached_runs_is_work_times_rate(tmp_path: Path) -> None:
    exp = parse_experiment(CONFIG)
    small, mid, big = exp.runs
    assert work(small.scenario) == ("allocs", 2000.0)  # 2 goroutines x 1000
    # 0.5 s for 2000 allocations: 2000 -> 1 s, 4000 -> 2 s (4000 and 8000 allocations)
    cache_entry(tmp_path / "est" / ".runs", small, 0.5)
    p = plan(exp, tmp_path / "est", jobs=1)
    assert (p.n_runs, p.n_cached) == (3, 1)
    assert [s.run_id for s in p.pending] == [1, 2]
    assert p.estimate_s == pytest.approx(1.0 + 2.0)
    assert p.method.startswith("rates of the nearest of 1 cached runs")
    # two jobs: the longest run bounds it from below
    assert plan(exp, tmp_path / "est", jobs=2).estimate_s == pytest.approx(2.0)
    # a cached run of another model is not a sample (nor a cache hit)
    other = json.loads((tmp_path / "est" / ".runs" / f"{small.config_hash}.json").read_text())
    other["model_fingerprint"] = "0" * 16
    (tmp_path / "est" / ".runs" / f"{small.config_hash}.json").write_text(json.dumps(other))
    p = plan(exp, tmp_path / "est", jobs=1, probe_budget_s=0)
    assert p.n_cached == 0 and math.isnan(p.estimate_s) and p.method == "no rate available"


def test_nearest_sample_matches_design_then_size() -> None:
    exp = parse_experiment(CONFIG.replace(
        "workload.groups.0.allocations: [1000, 2000, 4000]",
        "design.preset: [go1.12, go1.27]\n    workload.groups.0.size: [48, 1024]"))
    f = {s.label(): features(s.scenario) for s in exp.runs}
    assert f["preset=go1.12, size=1024"] == ("allocs", "go1.12", 0.0, 10.0)
    assert f["preset=go1.27, size=48"][1:3] == ("go1.27", 0.0)


def test_estimate_measured_when_nothing_is_cached(tmp_path: Path) -> None:
    exp = parse_experiment(CONFIG)
    p = plan(exp, tmp_path / "est", jobs=1)
    assert p.n_cached == 0 and len(p.pending) == 3
    assert "timed now" in p.method and "of 1 pending runs" in p.method  # one kind of run
    assert math.isfinite(p.estimate_s) and p.estimate_s > 0
    assert not (tmp_path / "est").exists()  # a dry run writes nothing


def test_dry_run_reports_cached_and_estimate(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "est.yaml"
    cfg.write_text(CONFIG)
    out = tmp_path / "res"
    assert main(["run", str(cfg), "--out", str(out), "--dry-run", "--jobs", "2"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "est: 3 runs = 3 settings x 1 replication " in text
    assert f"cached in {out / 'est'}: 0 of 3 runs; to run: 3 runs" in text
    assert "estimated time with 2 jobs: about " in text
    assert not out.exists()
    exp = parse_experiment(CONFIG)
    for spec in exp.runs:
        cache_entry(out / "est" / ".runs", spec, 0.1)
    assert main(["run", str(cfg), "--out", str(out), "--dry-run"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert f"cached in {out / 'est'}: 3 of 3 runs; to run: 0 runs" in text
    assert "estimated time" not in text


def test_a_stale_compiled_core_is_announced(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A core source edited since the compile makes gosim run the slower
    pure-Python build (gosim/_native.py): `gosim run` says so on stderr, and
    nothing when the compiled core runs or the user chose pure Python."""
    import gosim._native as native

    cfg = tmp_path / "est.yaml"
    cfg.write_text(CONFIG)
    args = ["run", str(cfg), "--out", str(tmp_path / "res"), "--dry-run"]
    stale = ("pure Python (gosim/runtime/mheap.py changed since it was compiled; "
             "`pip install -e .` compiles it again)")
    for is_native, build, says in (
            (False, stale, True),
            (True, "compiled with mypyc (27 modules)", False),
            (False, "pure Python (GOSIM_PURE_PYTHON=1)", False)):
        monkeypatch.setattr(native, "NATIVE", is_native)
        monkeypatch.setattr(native, "BUILD", build)
        assert main(args) == 0
        err = capsys.readouterr().err
        assert (("gosim: note: the simulation core runs as " + stale) in err) is says, err
    monkeypatch.setattr(native, "NATIVE", False)
    monkeypatch.setattr(native, "BUILD", stale)
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""


def test_measured_rate_separates_a_runs_fixed_cost(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The probes time two shrunk copies of a run; their difference gives the
    rate, and the rest of the smaller one the run's fixed cost, which is not
    multiplied by the shrink factor. A fake simulator on a fake clock: each run
    takes 0.25 s plus 10 us per allocation."""
    import gosim.runner.estimate as est
    import gosim.sim as sim_mod

    clock = [100.0]
    monkeypatch.setattr(est.time, "perf_counter", lambda: clock[0])

    def fake_simulate(sc: object) -> None:
        clock[0] += 0.25 + 1e-5 * work(sc)[1]  # type: ignore[arg-type]

    monkeypatch.setattr(sim_mod, "simulate", fake_simulate)
    exp = parse_experiment(CONFIG.replace("[1000, 2000, 4000]", "[100000, 400000]"))
    p = plan(exp, tmp_path / "est", jobs=1)
    # 2 goroutines: 200,000 and 800,000 allocations; probes of 5,000 and 10,000
    assert p.estimate_s == pytest.approx((0.25 + 2.0) + (0.25 + 8.0))
    assert "timed now" in p.method


def test_the_first_simulation_in_a_process_does_not_inflate_a_probe(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first simulation a process runs loads modules and tables once; an
    untimed warm-up run takes that cost, so the probes time the runs alone. A
    fake simulator on a fake clock: 3 s the first time it is called, then
    0.25 s plus 10 us per allocation. Without the warm-up the first probe
    would carry the 3 s and the estimate would be about 10x its own."""
    import gosim.runner.estimate as est
    import gosim.sim as sim_mod

    clock = [100.0]
    calls = []
    monkeypatch.setattr(est.time, "perf_counter", lambda: clock[0])

    def fake_simulate(sc: object) -> None:
        calls.append(work(sc)[1])  # type: ignore[arg-type]
        clock[0] += (3.0 if len(calls) == 1 else 0.0) + 0.25 + 1e-5 * calls[-1]

    monkeypatch.setattr(sim_mod, "simulate", fake_simulate)
    exp = parse_experiment(CONFIG.replace("[1000, 2000, 4000]", "[100000, 400000]"))
    p = plan(exp, tmp_path / "est", jobs=1)
    # the warm-up: the dearest run shrunk to est.WARMUP_ALLOCATIONS allocations
    assert calls[0] == est.WARMUP_ALLOCATIONS
    assert p.estimate_s == pytest.approx((0.25 + 2.0) + (0.25 + 8.0))


def test_a_run_takes_the_rate_of_its_object_size_before_its_design() -> None:
    """Per allocation, object size matters more than the design or GOMAXPROCS
    (a 64 KiB allocation costs tens of times a 1 KiB one in every design): a
    go1.27 64-P 1 KiB run takes a go1.12 64-P 1 KiB sample's rate, not a go1.27
    64-P 64 KiB one's, and a same-design sample at another GOMAXPROCS before
    another design."""
    from gosim.runner.estimate import _nearest

    samples = [(("allocs", "go1.27", 6.0, 16.0), 30e-6, 0.0),
               (("allocs", "go1.12", 6.0, 10.0), 6e-6, 0.0)]
    assert _nearest(samples, ("allocs", "go1.27", 6.0, 10.0))[1] == 6e-6
    samples.append((("allocs", "go1.27", 0.0, 10.0), 4e-6, 0.0))
    assert _nearest(samples, ("allocs", "go1.27", 6.0, 10.0))[1] == 4e-6
