"""``gosim sizeclasses`` and ``gosim layout``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gosim.cli import main


@pytest.mark.parametrize(("preset", "rows"), [("go1.12", 66), ("go1.27", 67)])
def test_sizeclasses_table(preset: str, rows: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sizeclasses", "--preset", preset]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("class  bytes/obj  bytes/span  objects  tail waste  max waste")
    assert lines[1] == "    1          8        8192     1024           0     87.50%" + (
        "          8" if preset == "go1.27" else "")
    last = f"{rows:5d}      32768       32768        1           0     12.50%"
    assert any(line.startswith(last) for line in lines)


def test_sizeclasses_csv_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sizeclasses", "--preset", "go1.12", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("size_class,size_bytes,span_bytes")
    assert len(out) == 67
    assert main(["sizeclasses", "--preset", "go1.27", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["num_size_classes"] == 68 and doc["classes"][2]["size_bytes"] == 24


def test_sizeclasses_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sizeclasses", "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nope'" in err and "go1.12, go1.27" in err
    assert main(["sizeclasses", "--format", "xml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'xml'" in err


def test_layout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["layout", "--preset", "go1.12"]) == 0
    out = capsys.readouterr().out
    assert "512 GiB" in out and "16 GiB" in out and "512 MiB" in out
    assert main(["layout", "--preset", "go1.27"]) == 0
    assert "64 MiB" in capsys.readouterr().out
    assert main(["layout", "--preset", "go1.10"]) == 0
    assert "512 GiB" in capsys.readouterr().out
    assert main(["layout", "--preset", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'nope'" in err


def test_console_script_unknown_preset_exits_2() -> None:
    exe = Path(sys.executable).with_name("gosim")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "gosim.cli"]
    proc = subprocess.run([*cmd, "sizeclasses", "--preset", "nope"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "unknown size-class preset 'nope'" in proc.stderr
