"""``gosim run`` / ``gosim plot``: exit statuses, messages, what is (not) written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

import gosim.sim
from gosim.cli import main

ROOT = Path(__file__).resolve().parent.parent

GOOD = """\
name: clitiny
scenario:
  seed: 3
  workload:
    groups:
      - count: 2
        size: 48
        allocations: 1000
sweep:
  grid:
    gomaxprocs: [1, 2]
"""

#: (config text, key path, line) for each kind of bad config the issue lists
BAD = {
    "unknown_key": (GOOD.replace("size: 48", "size: 48\n        colour: red"),
                    "scenario.workload.groups.0.colour", 8),
    "wrong_type": (GOOD.replace("count: 2", "count: [2]"), "scenario.workload.groups.0.count", 6),
    "unknown_preset": (GOOD.replace("seed: 3", "seed: 3\n  design: go0.1"),
                       "scenario.design.preset", 4),
    "unknown_swept_preset": (GOOD + "    design: [go1.27, go2]\n", "sweep.grid.design.1", 12),
    "gomaxprocs_below_1": (GOOD.replace("[1, 2]", "[1, -2]"), "sweep.grid.gomaxprocs.1", 11),
    "empty_sweep_list": (GOOD.replace("[1, 2]", "[]"), "sweep.grid.gomaxprocs", 11),
    "unknown_sweep_path": (GOOD.replace("gomaxprocs: [1, 2]", "gomaxproc: [1, 2]"),
                           "sweep.grid.gomaxproc", 11),
}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(args)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_exit_2_and_nothing_written(case: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    text, key, line = BAD[case]
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(text)
    out = tmp_path / "results"
    rc, _, err = run_cli(["run", str(cfg), "--out", str(out)], capsys)
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"gosim: error: {cfg}:{line}: key '{key}'"), err
    assert not out.exists()


def test_malformed_yaml(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\nscenario: {workload: [\n")
    rc, _, err = run_cli(["run", str(cfg), "--out", str(tmp_path / "r")], capsys)
    assert rc == 2 and f"{cfg}:" in err and "malformed YAML" in err
    assert not (tmp_path / "r").exists()


def test_missing_and_unreadable_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    rc, _, err = run_cli(["run", str(tmp_path / "nope.yaml"), "--out", str(out)], capsys)
    assert rc == 2 and "nope.yaml: file not found" in err
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\x80\x81\x82")
    rc, _, err = run_cli(["run", str(binary), "--out", str(out)], capsys)
    assert rc == 2 and "bin.yaml: cannot read" in err
    rc, _, err = run_cli(["run", str(tmp_path), "--out", str(out)], capsys)
    assert rc == 2 and "directory" in err
    assert not out.exists()


def test_default_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rc, _, err = run_cli(["run"], capsys)
    assert rc == 2 and "configs/quickstart.yaml does not exist" in err
    monkeypatch.chdir(ROOT)
    rc, out, _ = run_cli(["run", "--dry-run"], capsys)
    assert rc == 0 and "quickstart" in out and "replications" in out


def test_bad_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "ok.yaml"
    cfg.write_text(GOOD)
    out = tmp_path / "r"
    rc, _, err = run_cli(["run", str(cfg), "--out", str(out), "--executor", "slurm"], capsys)
    assert rc == 2 and "--executor" in err
    rc, _, err = run_cli(["run", str(cfg), "--out", str(out), "--executor", "local",
                          "--scheduler", "tcp://x:1"], capsys)
    assert rc == 2 and "--scheduler" in err
    assert not out.exists()


def test_run_rerun_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "ok.yaml"
    cfg.write_text(GOOD)
    out = tmp_path / "results"
    rc, stdout, _ = run_cli(["run", str(cfg), "--out", str(out), "--jobs", "1"], capsys)
    assert rc == 0
    d = out / "clitiny"
    assert "2 runs: 2 ran, 0 skipped" in stdout and "clitiny" in stdout
    assert "allocs/sim-s" in stdout  # the summary table
    assert sorted(p.name for p in (d / "plots").glob("*.png")) == [
        "flow.png", "latency_ecdf.png", "lock_heatmap.png", "p_time.png", "scaling.png"]
    rc, stdout, _ = run_cli(["run", str(cfg), "--out", str(out), "--no-plots", "-q"], capsys)
    assert rc == 0 and stdout == ""
    m = json.loads((d / "manifest.json").read_text())
    assert m["counts"]["cached"] == 2 and not (d / "plots").exists()
    rc, stdout, _ = run_cli(["run", str(cfg), "--out", str(out), "--no-plots"], capsys)
    assert "2 runs: 0 ran, 2 skipped (cached)" in stdout
    # gosim plot redraws from the tables alone, and the report then links the plot
    assert "plots/scaling.png" not in (d / "report.md").read_text()
    rc, stdout, _ = run_cli(["plot", str(d), "--only", "scaling"], capsys)
    assert rc == 0 and (d / "plots" / "scaling.png").is_file()
    assert str(d / "report.md") in stdout
    assert "plots/scaling.png" in (d / "report.md").read_text()
    rc, _, err = run_cli(["plot", str(tmp_path)], capsys)
    assert rc == 2 and "not a gosim results directory" in err
    rc, _, err = run_cli(["plot", str(d), "--only", "pie"], capsys)
    assert rc == 2 and "pie" in err


def test_failed_runs_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    real = gosim.sim.simulate

    def flaky(scenario):
        if scenario.gomaxprocs == 2:
            raise RuntimeError("injected")
        return real(scenario)

    monkeypatch.setattr(gosim.sim, "simulate", flaky)  # in-process with --jobs 1
    cfg = tmp_path / "ok.yaml"
    cfg.write_text(GOOD)
    out = tmp_path / "results"
    rc, _, err = run_cli(["run", str(cfg), "--out", str(out), "--jobs", "1", "--no-plots",
                          "-q"], capsys)
    assert rc == 1 and "1 of 2 runs failed" in err and "injected" in err
    runs = pd.read_parquet(out / "clitiny" / "runs.parquet")
    assert runs["error"].notna().sum() == 1


def test_no_arguments_runs_configs_quickstart_into_results(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # `make run` is `gosim run` in a checkout: configs/quickstart.yaml -> results/<name>/
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "quickstart.yaml").write_text(GOOD)
    monkeypatch.chdir(tmp_path)
    rc, stdout, err = run_cli(["run", "--jobs", "1", "--no-plots"], capsys)
    assert rc == 0, err
    assert "2 runs: 2 ran, 0 skipped (cached), 0 failed" in stdout
    runs = pd.read_parquet(tmp_path / "results" / "clitiny" / "runs.parquet")
    assert list(runs["gomaxprocs"]) == [1, 2]
    manifest = json.loads((tmp_path / "results" / "clitiny" / "manifest.json").read_text())
    assert manifest["config_file"].endswith("quickstart.yaml")


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("case", ["file", "under_a_file", "proc", "read_only"])
def test_unwritable_out_fails_before_running(case: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "ok.yaml"
    cfg.write_text(GOOD)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    if case == "read_only":
        if os.geteuid() == 0:
            pytest.skip("root writes to read-only directories")
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        out, why = ro / "results", f"cannot create a directory in {ro}"
    else:
        out, why = {"file": (blocker, f"{blocker} is not a directory"),
                    "under_a_file": (blocker / "sub", f"{blocker} is not a directory"),
                    "proc": (Path("/proc/gosim-results"), "cannot create a directory in /proc"),
                    }[case]
    ran = []
    monkeypatch.setattr(gosim.sim, "simulate", lambda sc: ran.append(sc))
    before = _tree(tmp_path)
    rc, stdout, err = run_cli(["run", str(cfg), "--out", str(out), "--jobs", "1", "-q"], capsys)
    assert rc == 2 and stdout == ""
    assert err.startswith(f"gosim: error: cannot write results to {out / 'clitiny'}: {why}"), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert ran == []  # checked before the first run
    assert _tree(tmp_path) == before  # nothing written, no probe left behind


def test_summary_table_prints_whole_on_an_80_column_pipe(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "ablate.yaml"
    cfg.write_text(GOOD.replace("seed: 3", "seed: 3\n  design: go1.14").replace(
        "gomaxprocs: [1, 2]", "gomaxprocs: [1, 2]\n    design.overrides.page_cache: "
        "[false, true]"))
    rc, stdout, err = run_cli(["run", str(cfg), "--out", str(tmp_path / "r"), "--jobs", "1",
                               "--no-plots"], capsys)
    assert rc == 0, err
    assert "…" not in stdout  # capsys is not a terminal: rich assumes 80 columns
    rows = [line for line in stdout.splitlines() if line.startswith("│")]
    labels = [line.strip("│").split("│")[0].strip() for line in rows]
    assert sorted(labels) == ["go1.14+page_cache=False"] * 2 + ["go1.14+page_cache=True"] * 2
    assert "clitiny (1 replication, no CI)" in stdout
    assert "4 runs: 4 ran, 0 skipped (cached), 0 failed" in stdout
