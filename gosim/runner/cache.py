"""The per-run cache: ``results/<name>/.runs/<config_hash>.json``.

A run is skipped on a rerun when its file exists and was made by the same
model code (the *model fingerprint*: a hash of the simulator's source, so a
change to the model invalidates old results instead of silently reusing
them). Failed runs are not cached: a rerun tries them again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from gosim.atomic_write import write_text_atomic

#: gosim source that cannot change a run's result: everything else (the
#: simulator, the allocator model, workloads, the scenario schema, the
#: statistics the simulator uses, and any module added later) is hashed
_NOT_MODEL = ("cli.py", "config", "commands", "runner", "realgo", "validate",
              "atomic_write.py", "analysis/compare.py", "analysis/flow.py", "analysis/plotjobs.py",
              "analysis/plots.py", "analysis/summary.py", "analysis/tables.py")


def model_fingerprint(simulate_fn: Any = None) -> str:
    """Hash of the simulator's source files (and of an injected simulate function)."""
    import gosim

    root = Path(gosim.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        if any(rel == x or rel.startswith(x + "/") for x in _NOT_MODEL):
            continue
        h.update(rel.encode())
        h.update(f.read_bytes())
    if simulate_fn is not None:
        h.update(f"{getattr(simulate_fn, '__module__', '')}."
                 f"{getattr(simulate_fn, '__qualname__', repr(simulate_fn))}".encode())
    return h.hexdigest()[:16]


class RunCache:
    def __init__(self, results_dir: Path, fingerprint: str) -> None:
        self.dir = results_dir / ".runs"
        self.fingerprint = fingerprint

    def path(self, config_hash: str) -> Path:
        return self.dir / f"{config_hash}.json"

    def get(self, config_hash: str) -> dict[str, Any] | None:
        """The cached outcome (as :func:`execute_run` returns it), or None."""
        p = self.path(config_hash)
        try:
            entry = json.loads(p.read_text())
        except (OSError, ValueError):
            return None
        if (entry.get("model_fingerprint") != self.fingerprint
                or entry.get("config_hash") != config_hash):
            return None
        return {"ok": True, "result": entry["result"], "error": None,
                "wall_s": entry.get("wall_s", 0.0)}

    def put(self, config_hash: str, scenario: dict[str, Any], outcome: dict[str, Any]) -> None:
        if not outcome.get("ok"):
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        entry = {"config_hash": config_hash, "model_fingerprint": self.fingerprint,
                 "scenario": scenario, "wall_s": outcome.get("wall_s", 0.0),
                 "result": outcome["result"]}
        write_text_atomic(self.path(config_hash), json.dumps(entry))
