"""Every command that writes refuses an --out it cannot write before doing any
work: one line, exit status 2, nothing written (no traceback, no minutes of
measuring or simulating lost)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gosim.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = str(ROOT / "configs" / "quickstart.yaml")


@pytest.mark.parametrize("argv", [
    ["locks", "go1.27", "--out", "{f}/x.png"],
    ["trace", QUICKSTART, "--out", "{f}/x.json"],
    ["calibrate", "--refit", "local-2core-go1.27", "--out", "{f}/x.yaml"],
    ["realgo", QUICKSTART, "--out", "{f}"],
    ["run", QUICKSTART, "--out", "{f}", "--dry-run"],
    ["run", QUICKSTART, "--out", "{f}"],
    ["validate", "--quick", "--claim", "fast_path", "--out", "{f}"],
], ids=lambda a: " ".join(a[:1] + a[-1:]))
def test_out_under_a_file_is_refused_before_any_work(
        argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "a-file"
    f.write_text("not a directory\n")
    rc = main([a.replace("{f}", str(f)) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{f} is not a directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    assert f.read_text() == "not a directory\n"
