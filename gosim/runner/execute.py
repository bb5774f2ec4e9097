"""The one pure function every executor runs: scenario in, result dict out.

It is a top-level function of an importable module so that it pickles by
reference for a spawned process pool and for Dask workers alike. A run that
raises is recorded (``ok=False`` with the error), never fatal to the sweep.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from typing import Any

SimulateFn = Callable[[Any], Any]


def normalise(obj: Any) -> Any:
    """A JSON round trip: the same Python values whether fresh or cached.

    Python floats survive JSON exactly (repr is shortest round-trip), so this
    loses nothing; it turns tuples into lists and numpy scalars into Python.
    """
    return json.loads(json.dumps(obj, default=_json_default))


def _json_default(o: Any) -> Any:
    item = getattr(o, "item", None)  # numpy scalars
    if callable(item):
        return item()
    tolist = getattr(o, "tolist", None)  # numpy arrays
    if callable(tolist):
        return tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def execute_run(scenario: dict[str, Any], simulate_fn: SimulateFn | None = None) -> dict[str, Any]:
    """Run one scenario; never raises.

    Returns ``{"ok": bool, "result": RunResult dict | None, "error": str | None,
    "wall_s": float}``.
    """
    t0 = time.perf_counter()
    try:
        from gosim.scenario import Scenario

        if simulate_fn is None:
            from gosim.sim import simulate as simulate_fn  # type: ignore[no-redef]
        result = simulate_fn(Scenario.model_validate(scenario))
        payload = result.to_dict() if hasattr(result, "to_dict") else dict(result)
        return {"ok": True, "result": normalise(payload), "error": None,
                "wall_s": time.perf_counter() - t0}
    except Exception as e:  # recorded per run, never fatal
        tb = traceback.format_exc(limit=8)
        return {"ok": False, "result": None, "error": f"{type(e).__name__}: {e}",
                "traceback": tb, "wall_s": time.perf_counter() - t0}
