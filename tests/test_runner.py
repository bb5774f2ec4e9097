"""The runner: identical results for any executor and job count, the run
cache, failed runs, and what lands in results/<name>/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gosim.config import parse_experiment
from gosim.runner import run_experiment
from gosim.runner.writer import TABLES, read_tables
from gosim.sim import simulate

#: tiny on purpose: 2 designs x GOMAXPROCS 1, 2 x 2 replications = 8 runs
TINY = """\
name: tiny
scenario:
  seed: 11
  workload:
    groups:
      - count: 2
        size: 48
        allocations: 1500
sweep:
  grid:
    design.preset: [go1.12, go1.27]
    gomaxprocs: [1, 2]
  replications: 2
outputs:
  plots: false
"""


def tiny(extra_gomaxprocs: tuple[int, ...] = ()) -> object:
    text = TINY
    if extra_gomaxprocs:
        ps = ", ".join(str(p) for p in (1, 2, *extra_gomaxprocs))
        text = text.replace("gomaxprocs: [1, 2]", f"gomaxprocs: [{ps}]")
    return parse_experiment(text, file="tiny.yaml")


def comparable(d: Path) -> dict[str, pd.DataFrame]:
    """The tables minus wall-clock columns."""
    t = read_tables(d)
    t["runs"] = t["runs"].drop(columns=["run_wall_s"])
    return t


def assert_same_tables(a: Path, b: Path) -> None:
    ta, tb = comparable(a), comparable(b)
    for name in TABLES:
        pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=name)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One in-process (jobs=1) run of TINY, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("local")
    o = run_experiment(tiny(), out_dir=out, jobs=1, progress=False)
    assert o.n_failed == 0, o.failed
    return out / "tiny"


def test_results_layout(local_run: Path) -> None:
    for f in ("runs.parquet", "locks.parquet", "p_time.parquet", "latency.parquet",
              "by_size.parquet", "manifest.json", "summary.md"):
        assert (local_run / f).is_file(), f
    assert not list(local_run.glob(".tmp-*")) and not list(local_run.glob(".old-*"))
    assert len(list((local_run / ".runs").glob("*.json"))) == 8
    runs = pd.read_parquet(local_run / "runs.parquet")
    assert list(runs["run_id"]) == list(range(8))
    for col in ("run_id", "setting_id", "replication", "seed", "config_hash", "design",
                "gomaxprocs", "design.preset", "error", "allocs_per_sim_second", "mallocs",
                "sim_time_ns", "heap_inuse_bytes"):
        assert col in runs.columns, col
    assert runs["error"].isna().all()
    assert (runs["mallocs"] >= 2 * 1500).all()
    assert set(runs["design"]) == {"go1.12", "go1.27"}
    # common random numbers: the same two seeds in every setting
    assert runs.groupby("replication")["seed"].nunique().eq(1).all()
    locks = pd.read_parquet(local_run / "locks.parquet")
    assert {"run_id", "lock", "kind", "wait_total_ns", "design", "gomaxprocs"} <= set(
        locks.columns)


def test_manifest(local_run: Path) -> None:
    m = json.loads((local_run / "manifest.json").read_text())
    assert m["name"] == "tiny" and m["config_file"] == "tiny.yaml"
    assert len(m["config_hash"]) == 16 and len(m["model_fingerprint"]) == 16
    assert m["counts"] == {"runs": 8, "settings": 4, "ran": 8, "cached": 0, "failed": 0,
                           "wall_time_s": m["wall_time_s"]}
    assert len(m["runs"]) == 8 and m["runs"][3]["scenario"]["gomaxprocs"] == 2
    assert m["wall_time_s"] > 0
    seeds = m["seeds"]["replication_seeds"]
    assert len(seeds) == 2 and seeds == sorted(set(seeds), key=seeds.index)
    assert m["versions"]["gosim"] and m["versions"]["simpy"]
    assert m["experiment"]["sweep"]["grid"]["gomaxprocs"] == [1, 2]
    assert "git" in m
    summary = (local_run / "summary.md").read_text()
    assert summary.startswith("# tiny") and "go1.12" in summary


def test_runs_match_direct_simulation(local_run: Path) -> None:
    exp = tiny()
    runs = pd.read_parquet(local_run / "runs.parquet")
    for spec in (exp.runs[0], exp.runs[5]):
        direct = simulate(spec.scenario).metrics
        row = runs[runs["run_id"] == spec.run_id].iloc[0]
        for k in ("mallocs", "sim_time_ns", "allocs_per_sim_second", "heap_inuse_bytes"):
            assert row[k] == direct[k], k


def test_jobs_2_matches_jobs_1(local_run: Path, tmp_path: Path) -> None:
    o = run_experiment(tiny(), out_dir=tmp_path, jobs=2, progress=False)
    assert o.n_ran == 8 and o.n_failed == 0
    assert_same_tables(local_run, tmp_path / "tiny")


def test_dask_matches_local(local_run: Path, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        o = run_experiment(tiny(), out_dir=tmp_path, jobs=2, executor="dask",
                           scheduler=cluster.scheduler_address, progress=False)
    assert o.n_ran == 8 and o.n_failed == 0
    assert_same_tables(local_run, tmp_path / "tiny")
    assert json.loads((tmp_path / "tiny" / "manifest.json").read_text())["executor"] == "dask"


def test_rerun_skips_cached_runs(local_run: Path, tmp_path: Path) -> None:
    shutil.copytree(local_run, tmp_path / "tiny")
    o = run_experiment(tiny(), out_dir=tmp_path, jobs=1, progress=False)
    assert (o.n_cached, o.n_ran) == (8, 0)
    assert_same_tables(local_run, tmp_path / "tiny")
    m = json.loads((tmp_path / "tiny" / "manifest.json").read_text())
    assert m["counts"]["cached"] == 8 and {r["status"] for r in m["runs"]} == {"cached"}
    # a wider sweep runs only the new settings
    o = run_experiment(tiny(extra_gomaxprocs=(3,)), out_dir=tmp_path, jobs=1, progress=False)
    assert (o.n_cached, o.n_ran) == (8, 4)
    runs = pd.read_parquet(tmp_path / "tiny" / "runs.parquet")
    assert len(runs) == 12 and sorted(runs["gomaxprocs"].unique()) == [1, 2, 3]


def test_cache_is_keyed_by_model(local_run: Path, tmp_path: Path) -> None:
    shutil.copytree(local_run, tmp_path / "tiny")
    # another simulate function is another model: nothing is reused
    o = run_experiment(tiny(), out_dir=tmp_path, jobs=1, progress=False,
                       simulate_fn=simulate_renamed)
    assert (o.n_cached, o.n_ran) == (0, 8)


def simulate_renamed(scenario):
    return simulate(scenario)


def flaky_simulate(scenario):
    if scenario.gomaxprocs == 2:
        raise RuntimeError("injected failure")
    return simulate(scenario)


def test_failed_runs_are_recorded_not_fatal(tmp_path: Path) -> None:
    o = run_experiment(tiny(), out_dir=tmp_path, jobs=1, progress=False,
                       simulate_fn=flaky_simulate)
    assert o.n_failed == 4 and o.n_ran == 8
    d = tmp_path / "tiny"
    runs = pd.read_parquet(d / "runs.parquet")
    failed = runs[runs["error"].notna()]
    assert set(failed["gomaxprocs"]) == {2} and len(failed) == 4
    assert failed["error"].str.contains("RuntimeError: injected failure").all()
    assert failed["allocs_per_sim_second"].isna().all()
    locks = pd.read_parquet(d / "locks.parquet")
    assert not set(locks["run_id"]) & set(failed["run_id"])
    assert "## Failed runs" in (d / "summary.md").read_text()
    # failures are not cached: a rerun tries them again and reuses the rest
    o = run_experiment(tiny(), out_dir=tmp_path, jobs=1, progress=False,
                       simulate_fn=flaky_simulate)
    assert (o.n_cached, o.n_ran, o.n_failed) == (4, 4, 4)


def test_duplicate_settings_run_once(tmp_path: Path) -> None:
    exp = parse_experiment(TINY.replace("design.preset: [go1.12, go1.27]\n", "")
                           .replace("gomaxprocs: [1, 2]", "gomaxprocs: [1, 1]")
                           .replace("replications: 2", "replications: 1"))
    o = run_experiment(exp, out_dir=tmp_path, jobs=1, progress=False)
    assert len(o.records) == 2 and o.records[0][1] is o.records[1][1]
    runs = pd.read_parquet(tmp_path / "tiny" / "runs.parquet")
    assert runs["sim_time_ns"].nunique() == 1


def test_timeseries_and_warmup(tmp_path: Path) -> None:
    text = """\
name: ts
scenario:
  duration_ns: 200000
  timeseries_interval_ns: 5000
  warmup: {method: mser5}
  workload:
    groups: [{count: 2, size: 48, work_ns: 20}]
outputs: {plots: false}
"""
    o = run_experiment(parse_experiment(text), out_dir=tmp_path, jobs=1, progress=False)
    assert o.n_failed == 0
    ts = pd.read_parquet(tmp_path / "ts" / "timeseries.parquet")
    assert len(ts) > 10 and {"run_id", "t_ns"} <= set(ts.columns)
    # turning the output off removes the file on the next (cached) run
    o = run_experiment(parse_experiment(text.replace("plots: false", "plots: false, "
                                                     "timeseries: false")),
                       out_dir=tmp_path, jobs=1, progress=False)
    assert o.n_cached == 1 and not (tmp_path / "ts" / "timeseries.parquet").exists()


def interrupted_at_gomaxprocs_2(scenario):
    """Ctrl-C arriving during the first 2-P run (runs go longest first: 2 P, then 1 P)."""
    if scenario.gomaxprocs == 2:
        raise KeyboardInterrupt
    return simulate(scenario)


def test_interrupt_keeps_completed_runs(tmp_path: Path) -> None:
    from gosim.runner.core import RunInterrupted

    exp = tiny()
    # the 1-P runs first: cached, so the interrupted sweep has something to keep
    one_p = parse_experiment(TINY.replace("gomaxprocs: [1, 2]", "gomaxprocs: [1]"))
    run_experiment(one_p, out_dir=tmp_path, jobs=1, progress=False,
                   simulate_fn=interrupted_at_gomaxprocs_2)
    with pytest.raises(RunInterrupted) as info:
        run_experiment(exp, out_dir=tmp_path, jobs=1, progress=False,
                       simulate_fn=interrupted_at_gomaxprocs_2)
    o = info.value.outcome
    assert info.value.exit_code == 130
    assert (len(o.records), o.n_total, o.n_cached, o.n_ran) == (4, 8, 4, 0)
    assert str(info.value).startswith("4 of 8 runs completed (4 cached before, 0 this time)")
    d = tmp_path / "tiny"
    runs = pd.read_parquet(d / "runs.parquet")
    assert list(runs["gomaxprocs"]) == [1, 1, 1, 1] and runs["error"].isna().all()
    m = json.loads((d / "manifest.json").read_text())
    assert m["interrupted"] is True and m["counts"]["runs"] == 4
    assert len(list((d / ".runs").glob("*.json"))) == 4
    assert not list(d.glob(".tmp-*")) and not (d / "plots").exists()


def test_cli_executor_dask_local_cluster_matches_local(local_run: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    # --executor dask without --scheduler: run_dask starts a LocalCluster of --jobs workers
    pytest.importorskip("distributed")
    from gosim.cli import main

    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(TINY)
    out = tmp_path / "dask"
    rc = main(["run", str(cfg), "--out", str(out), "--executor", "dask", "--jobs", "2", "-q"])
    assert rc == 0, capsys.readouterr().err
    assert_same_tables(local_run, out / "tiny")
    m = json.loads((out / "tiny" / "manifest.json").read_text())
    assert (m["executor"], m["scheduler"], m["jobs"]) == ("dask", None, 2)
    assert m["counts"]["ran"] == 8 and {r["status"] for r in m["runs"]} == {"ran"}


def test_outputs_are_the_same_from_the_output_pool(tmp_path: Path) -> None:
    """jobs=2 draws the plots and writes the GraphML files in a pool of spawned
    processes (gosim/runner/outpool.py), jobs=1 in this one: the same files,
    byte for byte (the runs table differs only in its wall-clock column)."""
    exp = parse_experiment(TINY.replace("plots: false", "plots: true"), file="tiny.yaml")
    files: dict[int, dict[str, bytes]] = {}
    for jobs in (1, 2):
        o = run_experiment(exp, out_dir=tmp_path / str(jobs), jobs=jobs, progress=False)
        assert o.n_failed == 0 and not o.notes, o.notes
        d = tmp_path / str(jobs) / "tiny"
        files[jobs] = {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
                       if p.is_file() and p.suffix in (".png", ".graphml", ".parquet")
                       and p.name != "runs.parquet"}
    assert sorted(files[1]) == sorted(files[2])
    assert sum(k.startswith("plots/") for k in files[1]) == 5
    assert sum(k.startswith("flow/") for k in files[1]) == 8
    assert [k for k in files[1] if files[1][k] != files[2][k]] == []
    assert_same_tables(tmp_path / "1" / "tiny", tmp_path / "2" / "tiny")


# ints beyond int64 too: a column of Python ints is converted by numpy, unless
# one does not fit (writer._numeric_array)
row_values = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=False),
                       st.sampled_from(["a", "b", 2**63, -2**63, 2**64]))


@given(st.lists(st.tuples(
    st.fixed_dictionaries({"run_id": st.integers(0, 3)}, optional={"design": row_values}),
    st.lists(st.dictionaries(st.sampled_from(["x", "y", "run_id", "z"]), row_values,
                             max_size=4), max_size=4)), max_size=5))
@settings(max_examples=200, deadline=None)
def test_columns_build_the_frame_of_the_row_dicts(blocks: list) -> None:
    """The tables are built column by column (writer._Columns), run by run: the
    same DataFrame, dtypes included, as pandas makes of the row dicts
    ``{**keys, **row}``."""
    from gosim.runner.writer import _Columns

    cols = _Columns()
    rows = []
    for keys, block in blocks:
        cols.add_rows(keys, block)
        rows += [{**keys, **r} for r in block]
    expected = pd.DataFrame(rows) if rows else pd.DataFrame(columns=["run_id"])
    pd.testing.assert_frame_equal(cols.frame(["run_id"]), expected, check_exact=True)


def test_a_dead_plot_worker_is_a_note_not_a_lost_run(tmp_path: Path) -> None:
    """A plot whose worker died (killed, out of memory) is reported as a note;
    the other plots and the results are kept."""
    from concurrent.futures import Future
    from concurrent.futures.process import BrokenProcessPool

    from gosim.analysis.plots import draw_plots

    o = run_experiment(parse_experiment(TINY, file="tiny.yaml"), out_dir=tmp_path, jobs=1,
                       progress=False)

    class DiesOnScaling:
        def submit(self, fn, name, *args):  # type: ignore[no-untyped-def]
            f: Future[str | None] = Future()
            if name == "scaling":
                f.set_exception(BrokenProcessPool("a process terminated abruptly"))
            else:
                f.set_result(fn(name, *args))
            return f

    from gosim.runner.core import experiment_meta

    written, notes = draw_plots(o.tables, experiment_meta(o.experiment), tmp_path / "plots",
                                ["scaling", "p_time"], pool=DiesOnScaling())  # type: ignore[arg-type]
    assert [p.name for p in written] == ["p_time.png"]
    assert notes == ["scaling: plot failed (BrokenProcessPool: a process terminated abruptly)"]
