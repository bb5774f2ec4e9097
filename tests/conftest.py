"""Test-suite settings.

On CI (``CI`` set, as `.ci/run` runs) hypothesis draws a fixed sequence of
examples, so a submission's result does not depend on luck; locally it explores
new examples on every run (and keeps failures in .hypothesis/).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


# -- tests that patch the simulation core ---------------------------------------------
# Some tests replace a method or module function of the core (a deliberately
# broken sweep, a checker wrapping the heap's entry points) to show that a
# check fails when the mechanism it guards is broken. Compiled classes and
# functions (gosim/_native.py) cannot be patched, so with the compiled build
# such tests (marked ``pure_python``) run in a child pytest under
# GOSIM_PURE_PYTHON=1, all of one file's in one child, and each reports the
# child's verdict on it. With the pure-Python build they run here as usual.

import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

import gosim  # noqa: E402

_ROOT = Path(__file__).resolve().parent.parent
#: test file -> node id -> (outcome, message) from its child run
_PURE: dict[str, dict[str, tuple[str, str]]] = {}


def _node_id(case: ET.Element) -> str:
    cls = case.get("classname", "")
    mod, _, klass = cls.partition(".Test")
    path = mod.replace(".", "/") + ".py"
    return f"{path}::{'Test' + klass + '::' if klass else ''}{case.get('name')}"


def _run_pure(path: str, ids: list[str]) -> dict[str, tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        env = dict(os.environ, GOSIM_PURE_PYTHON="1")
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
             f"--junitxml={junit}", *ids],
            cwd=_ROOT, env=env, capture_output=True, text=True)
        out: dict[str, tuple[str, str]] = {}
        if junit.exists():
            for case in ET.parse(junit).getroot().iter("testcase"):
                verdict, msg = "passed", ""
                for child in case:
                    if child.tag in ("failure", "error"):
                        verdict, msg = "failed", (child.text or child.get("message", ""))
                    elif child.tag == "skipped":
                        verdict, msg = "skipped", child.get("message", "")
                out[_node_id(case)] = (verdict, msg)
        for nid in ids:
            out.setdefault(nid, ("failed", f"no verdict from the pure-Python child "
                                           f"(exit {proc.returncode}):\n{proc.stdout[-4000:]}"
                                           f"{proc.stderr[-4000:]}"))
        return out


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not gosim.NATIVE:
        return
    marked = [it for it in items if it.get_closest_marker("pure_python")]
    by_file: dict[str, list[str]] = {}
    for it in marked:
        by_file.setdefault(it.nodeid.split("::")[0], []).append(it.nodeid)

    for it in marked:
        nid = it.nodeid
        path = nid.split("::")[0]
        # one worker runs a file's marked tests (``make test`` uses --dist loadgroup)
        it.add_marker(pytest.mark.xdist_group(name="pure_python:" + path))

        def runtest(nid: str = nid, path: str = path) -> None:
            if path not in _PURE:
                _PURE[path] = _run_pure(path, by_file[path])
            verdict, msg = _PURE[path][nid]
            if verdict == "failed":
                pytest.fail(f"failed under GOSIM_PURE_PYTHON=1:\n{msg}", pytrace=False)
            if verdict == "skipped":
                pytest.skip(msg)

        it.runtest = runtest  # type: ignore[method-assign]


def build_go_script(name: str, directory: Path) -> Path:
    """Build scripts/<name> (a Go program, no cgo) into ``directory`` with the
    project's Go toolchain; skip the test without one or with
    GOSIM_SKIP_REALGO set. Returns the binary."""
    from gosim.errors import ToolchainMissingError
    from gosim.realgo.toolchain import find_go, go_env

    if os.environ.get("GOSIM_SKIP_REALGO"):
        pytest.skip("GOSIM_SKIP_REALGO is set")
    try:
        go = find_go()
    except ToolchainMissingError as e:
        pytest.skip(f"no Go toolchain: {e}")
    exe = directory / name
    subprocess.run([str(go.go), "build", "-o", str(exe), "."],
                   cwd=Path(__file__).resolve().parents[1] / "scripts" / name,
                   env=go_env({"CGO_ENABLED": "0"}), check=True, capture_output=True,
                   timeout=300)
    return exe
