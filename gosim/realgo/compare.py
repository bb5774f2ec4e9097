"""Side by side: the real runtime against the model, metric by metric.

Each compared metric is either *exact* (a structural count the model must
reproduce: the tests gate these) or *approximate* (GC counts, timings:
reported only). Relative error = (model - real) / real; ``None`` when the
real value is 0 and the model's is not (printed as "n/a").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: (metric, exact?) in display order. Exact only with GC off (nothing freed).
COMPARED: tuple[tuple[str, bool], ...] = (
    ("mallocs", True),
    ("tiny_allocs", True),
    ("heap_alloc_bytes", True),
    ("heap_inuse_bytes", True),
    ("heap_sys_bytes", True),
    ("mspan_inuse_bytes", True),
    ("mcache_inuse_bytes", True),
    ("large_allocs", True),
    ("large_pages", True),
    ("num_gc", False),
    ("sim_ns_per_alloc", False),
)


@dataclass
class Row:
    metric: str
    real: float | None
    model: float | None
    exact: bool

    @property
    def rel_error(self) -> float | None:
        if self.real is None or self.model is None:
            return None
        if self.real == 0:
            return 0.0 if self.model == 0 else None
        return (self.model - self.real) / abs(self.real)

    @property
    def agrees(self) -> bool:
        if self.real is None or self.model is None:
            return False
        return self.real == self.model

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "real": self.real, "model": self.model,
                "rel_error": self.rel_error, "exact": self.exact, "agrees": self.agrees}


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def compare(real: dict[str, Any], real_by_size: list[dict[str, Any]], model: dict[str, Any],
            model_by_size: list[dict[str, Any]], *, gc: bool = False) -> list[Row]:
    """Rows for the scalar metrics, then per-class allocation counts."""
    rows = [Row(k, _num(real.get(k)), _num(model.get(k)), exact and not gc)
            for k, exact in COMPARED]
    mb = {r["size_class"]: r for r in model_by_size}
    for r in real_by_size:
        c = r["size_class"]
        m = mb.get(c, {})
        rv, mv = r.get("mallocs", 0), m.get("mallocs", 0)
        if rv or mv:
            label = f"by_size[{c}:{r['size_bytes']}B].mallocs" if c else "by_size[large].mallocs"
            rows.append(Row(label, float(rv), float(mv), not gc))
    return rows


def fmt_value(x: float | None) -> str:
    if x is None:
        return "-"
    if float(x).is_integer():
        return f"{int(x):,}"
    return f"{x:,.2f}"


def fmt_rel(r: Row) -> str:
    e = r.rel_error
    if e is None:
        return "n/a"
    if e == 0:
        return "0"
    return f"{e:+.2%}"
