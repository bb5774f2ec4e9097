"""``gosim trace``: Chrome trace-event JSON of one run (gosim/sim/trace.py).

The trace's intervals are checked against the run's own tables (P time per
category, lock statistics) to the nanosecond, the window and the event cap
against the unbounded trace, and tracing against an untraced run (no result
may change)."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from gosim.cli import main
from gosim.commands.trace import parse_time_ns, parse_window
from gosim.errors import ConfigError
from gosim.scenario import Scenario
from gosim.sim import simulate
from gosim.sim.result import RunResult
from gosim.sim.trace import Tracer

DESIGNS = ["go1.12", "go1.14", "go1.27", "global-lock", "tcmalloc"]


#: lock-free cells (span sets, the pacer's heapLive word, the kernel's fault path)
ATOMIC_KINDS = ("spanset", "heaplive", "pagefault")


def _scenario(design: str, mode: str = "batched", duration_ns: int | None = None,
              **kw: Any) -> Scenario:
    base: dict[str, Any] = {
        "design": design, "gomaxprocs": 4, "mode": mode, "time_slice_ns": 100_000,
        "workload": {"groups": [
            {"name": "small", "count": 4, "allocations": 3000, "size": 48,
             "work_ns": {"dist": "exponential", "mean": 30}},
            {"name": "mixed", "count": 2, "allocations": 1500,
             "size": {"dist": "choice", "values": [16, 1024, 40000], "weights": [5, 3, 0.1]},
             "pointer_free_fraction": 0.5, "work_ns": 20},
        ]},
    }
    if duration_ns is not None:
        base["duration_ns"] = duration_ns
    base.update(kw)
    return Scenario.model_validate(base)


def _traced(sc: Scenario, **kw: Any) -> tuple[RunResult, dict[str, Any]]:
    tr = Tracer(**kw)
    res = simulate(sc, tracer=tr)
    buf = io.StringIO()
    tr.write(buf, {"sim_time_ns": res.metrics["sim_time_ns"]})
    return res, json.loads(buf.getvalue())


def _ns(us: float) -> int:
    """JSON microseconds back to integer ns (exact: they were written as ns / 1000)."""
    ns = round(us * 1000)
    assert abs(us * 1000 - ns) < 1e-3
    return ns


def _slices(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in doc["traceEvents"] if e["ph"] == "X"]


def check_schema(doc: dict[str, Any], nprocs: int) -> None:
    """The Chrome trace-event format as Perfetto reads it."""
    assert doc["displayTimeUnit"] == "ns"
    evs = doc["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in evs
             if e["ph"] == "M" and e["name"] == "thread_name"}
    assert names == {p: f"P{p}" for p in range(nprocs)}
    for e in evs:
        assert e["ph"] in ("M", "X", "C"), e
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int), e
        assert isinstance(e["name"], str) and e["name"], e
        if e["ph"] == "M":
            continue
        assert isinstance(e["ts"], float) and e["ts"] >= 0, e
        _ns(e["ts"])
        if e["ph"] == "X":
            assert e["dur"] > 0, e
            _ns(e["dur"])
            assert 0 <= e["tid"] < nprocs
        else:  # a counter: numeric series in args
            assert e["args"] and all(isinstance(v, int) for v in e["args"].values()), e


def _sum_by(doc: dict[str, Any], key: str) -> dict[Any, int]:
    out: dict[Any, int] = defaultdict(int)
    for e in _slices(doc):
        out[(e["tid"], e[key])] += _ns(e["dur"])
    return out


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("mode,duration_ns", [("batched", None), ("step", None),
                                               ("batched", 300_000)])
def test_trace_schema_and_p_time_to_the_ns(design: str, mode: str,
                                            duration_ns: int | None) -> None:
    res, doc = _traced(_scenario(design, mode, duration_ns))
    check_schema(doc, 4)
    by_cat = _sum_by(doc, "cat")
    pt = {(r["p"], r["category"]): r["ns"] for r in res.p_time}
    for p in range(4):
        # fast-path slices hold the cache hits and the work between them
        assert by_cat.get((p, "fast_path"), 0) == pt[(p, "fast_path")] + pt[(p, "work")]
        assert by_cat.get((p, "slow_path"), 0) == pt[(p, "slow_path")]
        assert by_cat.get((p, "sched"), 0) == pt.get((p, "sched"), 0)
        # the goroutine slices cover everything but idle time and switches
        busy = sum(v for (q, c), v in pt.items() if q == p and c not in ("idle", "sched"))
        assert by_cat[(p, "goroutine")] >= busy
    n_fast = sum(e["args"]["allocs"] for e in _slices(doc) if e["cat"] == "fast_path")
    # every completed allocation ends with a fast-path charge except large objects'
    assert n_fast <= res.metrics["mallocs"]
    assert n_fast >= res.metrics["allocs_completed"] - res.metrics["slow_path_allocs"]


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("duration_ns", [None, 400_000])
def test_slices_nest_on_each_p_within_their_goroutine(design: str,
                                                     duration_ns: int | None) -> None:
    """A P's slices are disjoint or nested (as a trace viewer stacks them), and
    all but switches lie within the goroutine the P runs."""
    _, doc = _traced(_scenario(design, duration_ns=duration_ns))
    gs: dict[int, list[tuple[int, int]]] = defaultdict(list)
    per_p: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for e in _slices(doc):
        a, b = _ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"])
        per_p[e["tid"]].append((a, -b, e["name"]))
        if e["cat"] == "goroutine":
            gs[e["tid"]].append((a, b))
    for e in _slices(doc):
        if e["cat"] not in ("goroutine", "sched"):
            a, b = _ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"])
            assert any(s <= a and b <= t for s, t in gs[e["tid"]]), e
    for ivs in per_p.values():
        stack: list[tuple[int, int, str]] = []
        for a, nb, name in sorted(ivs):
            while stack and stack[-1][1] <= a:
                stack.pop()
            assert not stack or -nb <= stack[-1][1], (stack[-1], (a, -nb, name))
            stack.append((a, -nb, name))


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("duration_ns", [None, 300_000])
def test_lock_intervals_sum_to_the_lock_rows(design: str, duration_ns: int | None) -> None:
    res, doc = _traced(_scenario(design, duration_ns=duration_ns))
    end = res.metrics["sim_time_ns"]
    wait: dict[str, int] = defaultdict(int)
    hold: dict[str, int] = defaultdict(int)
    for e in _slices(doc):
        if e["cat"] in ("wait", "hold"):
            (wait if e["cat"] == "wait" else hold)[e["args"]["lock"]] += _ns(e["dur"])
    assert res.locks
    for r in res.locks:
        assert wait[r["lock"]] == r["wait_total_ns"], r["lock"]
        if r["kind"] in ATOMIC_KINDS:
            # a lock-free operation's duration is its hold; the timeline cuts an
            # operation still in flight at the end of a timed run there (at most
            # one per P: less than GOMAXPROCS x the longest)
            want = r["hold_mean_ns"] * r["acquisitions"]
            cut = want - hold[r["lock"]]
            assert -0.5 <= cut <= (0 if duration_ns is None else
                                   res.metrics["gomaxprocs"] * r["hold_max_ns"] + 0.5), r["lock"]
            continue
        want = r["utilisation"] * end  # a mutex: the time held, in progress at the end included
        assert hold[r["lock"]] == pytest.approx(want, abs=0.5), r["lock"]
    assert set(wait) | set(hold) <= {r["lock"] for r in res.locks}
    # the mutexes' waits are the P time waiting on their kind
    pt: dict[str, int] = defaultdict(int)
    for r in res.p_time:
        if r["category"].startswith("wait:"):
            pt[r["category"][5:]] += r["ns"]
    for kind in {r["kind"] for r in res.locks if r["kind"] not in ATOMIC_KINDS}:
        assert sum(wait[r["lock"]] for r in res.locks if r["kind"] == kind) == pt[kind]


@pytest.mark.parametrize("design", DESIGNS)
@pytest.mark.parametrize("mode", ["batched", "step"])
def test_tracing_changes_no_result(design: str, mode: str) -> None:
    sc = _scenario(design, mode, 350_000, timeseries_interval_ns=50_000)
    plain = simulate(sc).to_dict()
    traced, _ = _traced(sc, start_ns=10_000, end_ns=200_000, max_events=50)
    assert json.dumps(traced.to_dict(), sort_keys=True) == json.dumps(plain, sort_keys=True)


def _clip(doc: dict[str, Any], w0: int, w1: int) -> dict[tuple[int, str, str], int]:
    """Per (P, category, name): the slices' ns inside [w0, w1)."""
    out: dict[tuple[int, str, str], int] = defaultdict(int)
    for e in _slices(doc):
        a, b = _ns(e["ts"]), _ns(e["ts"]) + _ns(e["dur"])
        if min(b, w1) > max(a, w0):
            out[(e["tid"], e["cat"], e["name"])] += min(b, w1) - max(a, w0)
    return out


def test_window_is_the_full_trace_cut_at_its_edges() -> None:
    sc = _scenario("go1.12", duration_ns=400_000)
    _, full = _traced(sc)
    w0, w1 = 120_000, 250_000
    _, part = _traced(sc, start_ns=w0, end_ns=w1)
    check_schema(part, 4)
    for e in _slices(part):
        assert w0 <= _ns(e["ts"]) and _ns(e["ts"]) + _ns(e["dur"]) <= w1
    assert _clip(part, w0, w1) == _clip(full, w0, w1)
    counters = [e for e in part["traceEvents"] if e["ph"] == "C"]
    assert counters and all(w0 <= _ns(e["ts"]) < w1 for e in counters)
    # each counter starts the window with the last value before it
    first_heap = min((e for e in counters if e["name"] == "heap"), key=lambda e: e["ts"])
    before = [e for e in full["traceEvents"]
              if e["ph"] == "C" and e["name"] == "heap" and _ns(e["ts"]) < w0]
    assert _ns(first_heap["ts"]) == w0
    assert first_heap["args"] == max(before, key=lambda e: e["ts"])["args"]
    # every counter that changed before the window has its value at the window's start
    last: dict[str, dict[str, int]] = {}
    for e in sorted((e for e in full["traceEvents"] if e["ph"] == "C" and _ns(e["ts"]) < w0),
                    key=lambda e: e["ts"]):
        last[e["name"]] = e["args"]
    at_start = {e["name"]: e["args"] for e in counters if _ns(e["ts"]) == w0}
    assert len(last) > 1 and at_start == last
    assert part["otherData"]["dropped_events"] == 0


def test_event_cap_keeps_the_first_events_and_counts_the_rest() -> None:
    sc = _scenario("go1.27", duration_ns=300_000)
    _, full = _traced(sc)
    body = [e for e in full["traceEvents"] if e["ph"] != "M"]
    assert len(body) > 500
    _, capped = _traced(sc, max_events=200)
    kept = [e for e in capped["traceEvents"] if e["ph"] != "M"]
    assert len(kept) == 200 == capped["otherData"]["events"]
    assert capped["otherData"]["dropped_events"] == len(body) - 200
    assert kept == body[:200]


@pytest.mark.parametrize("text,ns", [("0", 0), ("1500", 1500), ("1500ns", 1500),
                                     ("1.5us", 1500), ("2ms", 2_000_000),
                                     ("0.25 s", 250_000_000), ("3.", 3)])
def test_parse_time(text: str, ns: int) -> None:
    assert parse_time_ns(text, "x") == ns


@pytest.mark.parametrize("text", ["", "-1", "1.5", "1.2345us", "2 min", "1e3", "ms"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_time_ns(text, "x")


def test_parse_window() -> None:
    assert parse_window("1ms:2ms") == (1_000_000, 2_000_000)
    assert parse_window(":500us") == (0, 500_000)
    assert parse_window("1ms:") == (1_000_000, None)
    for bad in ("2ms:1ms", "1ms:1ms", "1ms", "1:2:3"):
        with pytest.raises(ConfigError):
            parse_window(bad)


CONFIG = """\
name: tiny
scenario:
  design: go1.12
  gomaxprocs: 2
  duration_ns: 200000
  workload:
    groups:
      - {name: a, count: 2, size: 48, work_ns: 20}
sweep:
  grid:
    gomaxprocs: [1, 2]
  replications: 2
"""


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    p = tmp_path / "tiny.yaml"
    p.write_text(CONFIG)
    return p


def test_cli_writes_the_nth_run(config: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    assert main(["trace", str(config), "--run", "3", "--out", str(out),
                 "--window", "50us:150us", "--max-events", "100000"]) == 0
    msg = capsys.readouterr().out
    assert msg.startswith(f"wrote {out}: run 3 (gomaxprocs=2, replication 1)")
    doc = json.loads(out.read_text())
    od = doc["otherData"]
    assert (od["run"], od["replication"], od["sim_time_ns"]) == (3, 1, 200_000)
    assert (od["window_start_ns"], od["window_end_ns"], od["dropped_events"]) == (
        50_000, 150_000, 0)
    check_schema(doc, 2)
    # the same run traced in-process gives the same events
    from gosim.config import load_experiment

    _, same = _traced(load_experiment(config).runs[3].scenario, start_ns=50_000,
                      end_ns=150_000, max_events=100000)
    assert same["traceEvents"] == doc["traceEvents"]


def test_cli_default_name_and_dropped_message(config: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["trace", str(config), "--max-events", "10"]) == 0
    out = capsys.readouterr().out
    assert "trace-tiny-run0.json" in out and "dropped" in out and "--max-events 10" in out
    doc = json.loads((tmp_path / "trace-tiny-run0.json").read_text())
    assert doc["otherData"]["events"] == 10 and doc["otherData"]["dropped_events"] > 0


@pytest.mark.parametrize("args,problem", [
    (["--run", "4"], "--run 4: "),
    (["--run", "-1"], "--run -1: "),
    (["--window", "2ms:1ms"], "--window: END must be after START"),
    (["--window", "1 hour:"], "--window START: expected a time"),
    (["--window", "300us:"], "after the run's end (200000 ns)"),
    (["--max-events", "0"], "--max-events: expected 1 or more"),
])
def test_cli_bad_input_one_line_exit_2_nothing_written(
        config: Path, tmp_path: Path, args: list[str], problem: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "t.json"
    assert main(["trace", str(config), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and "Traceback" not in err, err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.yaml"]


def test_cli_run_out_of_range_lists_the_runs(config: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", str(config), "--run", "9"]) == 2
    err = capsys.readouterr().err
    assert ("has 4 runs, 0 to 3: 0: gomaxprocs=1 rep 0; 1: gomaxprocs=1 rep 1; "
            "2: gomaxprocs=2 rep 0; 3: gomaxprocs=2 rep 1") in err
