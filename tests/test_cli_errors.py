"""Usage errors, ``--version`` and ``--help`` of the ``gosim`` command line:
one line naming the problem, one with the usage, exit status 2, no traceback."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

import gosim
from gosim.cli import COMMAND_NAMES, main

GOSIM = Path(sys.executable).with_name("gosim")

#: argv -> (text the problem line must contain, the command named in the usage line)
USAGE_ERRORS = {
    "bare": ([], "Missing command. Commands: ", "gosim"),
    "unknown_option": (["run", "--bogus"], "No such option: --bogus", "gosim run"),
    "unknown_command": (["runn"], "No such command 'runn'. Did you mean 'run'?", "gosim"),
    "not_an_int": (["run", "--jobs", "two"], "Invalid value for '--jobs'", "gosim run"),
    "missing_value": (["sizeclasses", "--preset"], "Option '--preset' requires an argument",
                      "gosim sizeclasses"),
    "extra_argument": (["layout", "extra"], "unexpected extra argument(s) (extra)",
                       "gosim layout"),
    "missing_argument": (["plot"], "Missing argument", "gosim plot"),
}


def check_usage_error(err: str, problem: str, command: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert lines[0].startswith("gosim: error: ") and problem in lines[0], lines[0]
    assert lines[1].startswith(f"Usage: {command} "), lines[1]
    assert lines[1].endswith(f"(see '{command} --help')"), lines[1]
    assert "Traceback" not in err


@pytest.mark.parametrize("case", sorted(USAGE_ERRORS))
def test_usage_error_is_two_lines_exit_2(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv, problem, command = USAGE_ERRORS[case]
    assert main(argv) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    check_usage_error(cap.err, problem, command)


def test_bare_gosim_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    listed = first.split("Commands: ")[1].rstrip(".").split(", ")
    assert sorted(listed) == sorted(COMMAND_NAMES)
    assert {"run", "plot", "sizeclasses", "designs"} <= set(listed)


def test_console_entry_point_usage_error_and_version() -> None:
    # the installed console script, as a user runs it
    assert GOSIM.is_file(), GOSIM
    p = subprocess.run([str(GOSIM), "run", "--bogus"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    check_usage_error(p.stderr, "No such option: --bogus", "gosim run")
    p = subprocess.run([str(GOSIM), "--version"], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stderr == ""
    assert p.stdout == (f"gosim {importlib.metadata.version('gosim')}: "
                        f"simulation core {gosim.BUILD}\n")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == (f"gosim {importlib.metadata.version('gosim')}: "
                                       f"simulation core {gosim.BUILD}\n")


@pytest.mark.parametrize("command", sorted(COMMAND_NAMES))
def test_help_renders_plain_text(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: gosim {command} ")
    assert "``" not in out  # no RST markup shown literally
    assert "\x1b[" not in out  # no terminal escapes when piped


def test_help_keeps_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    # rich markup used to eat "[go]" in pip install 'gosim[go]'
    if "realgo" not in COMMAND_NAMES:
        pytest.skip("realgo command not registered")
    assert main(["realgo", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "pip install 'gosim[go]'" in out
    assert main(["run", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "OUT/<experiment name>/" in out and "[default: results]" in out
