"""Tidy tables from run outcomes, and the files of ``results/<name>/``.

Every table carries the run's key columns (``run_id``, ``setting_id``,
``replication``, ``seed``, ``config_hash``, ``design``, ``gomaxprocs``, and
one column per swept dotted key), so any table can be grouped by setting
without a join. Rows are in ``run_id`` order whatever order runs finished in.
"""

from __future__ import annotations

import json
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gosim.atomic_write import write_text_atomic, write_with
from gosim.config import Experiment, RunSpec, canonical_json

#: key columns present in every table, before the swept-key columns
KEY_COLUMNS = ("run_id", "setting_id", "replication", "seed", "config_hash", "design",
               "gomaxprocs")
#: the table files (timeseries only when some run sampled one)
TABLES = ("runs", "locks", "p_time", "latency", "by_size", "timeseries", "flow", "lock_sites",
          "gc_cycles")
#: per run, its allocation flow as GraphML: ``flow/<run_id>.graphml``
FLOW_DIR = "flow"


def design_label(spec: RunSpec) -> str:
    """The design's name with its overrides, e.g. ``go1.12+page_cache=True``."""
    from gosim.runtime.design import get_design

    d = spec.scenario.design
    try:
        return get_design(d.preset).with_overrides(dict(d.overrides)).name
    except Exception:  # validated already; be safe
        return d.preset


def key_columns(spec: RunSpec, setting_columns: list[str]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "run_id": spec.run_id, "setting_id": spec.setting_id, "replication": spec.replication,
        "seed": spec.seed, "config_hash": spec.config_hash, "design": design_label(spec),
        "gomaxprocs": spec.scenario.gomaxprocs,
    }
    for k in setting_columns:
        row[k] = spec.setting.get(k)
    return row


def setting_columns(exp: Experiment) -> list[str]:
    """Swept keys as columns (``design``/``gomaxprocs`` are key columns already)."""
    return [k for k in exp.swept_keys if k not in KEY_COLUMNS]


def _sanitise(df: pd.DataFrame) -> pd.DataFrame:
    """Make object columns Parquet-friendly: nested values as JSON, mixed types as str."""
    for c in df.columns:
        if df[c].dtype != object:
            continue
        vals = [v for v in df[c] if v is not None and not (isinstance(v, float) and pd.isna(v))]
        if any(isinstance(v, dict | list) for v in vals):
            df[c] = [None if v is None else canonical_json(v) if isinstance(v, dict | list)
                     else str(v) for v in df[c]]
        elif len({type(v) for v in vals}) > 1 and not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            df[c] = [None if v is None else str(v) for v in df[c]]
    return df


def _numeric_array(values: list[Any]) -> Any:
    """``values`` as the array pandas would make of them, made faster for the
    common columns: Python ints alone (int64, unless one is beyond int64) or
    floats alone (float64) are converted by numpy directly, the dtype pandas
    infers for them (pandas goes through an object array: 0.15 s for one of
    the 1.3M-row latency columns of configs/scaling.yaml, numpy 0.03 s).
    Anything else (strings, None, mixed types) is left to pandas."""
    types = set(map(type, values))
    if types == {int}:
        try:
            return np.array(values, dtype=np.int64)
        except OverflowError:  # pandas makes uint64 or object of it
            return values
    if types == {float}:
        return np.array(values, dtype=np.float64)
    return values


class _Columns:
    """A table built column by column: the same DataFrame as ``pd.DataFrame``
    of its row dicts (columns in the order first seen, NaN where a row lacks a
    key), without a dictionary per row. Rows come in blocks that share the run's
    key columns; a block's own column of the same name wins, as in
    ``{**keys, **row}``. A column is kept as chunks: ``(value, n)`` for a value
    repeated n times (a key column, or NaN where the rows lack the column), or
    ``(values, -1)``."""

    def __init__(self) -> None:
        self.n = 0
        self.cols: dict[str, list[tuple[Any, int]]] = {}

    def add(self, keys: dict[str, Any], block: dict[str, list[Any]], n: int) -> None:
        if n <= 0:
            return
        merged: dict[str, tuple[Any, int]] = {k: (v, n) for k, v in keys.items()}
        merged.update((k, (v, -1)) for k, v in block.items())
        cols = self.cols
        for k, chunk in merged.items():
            col = cols.get(k)
            if col is None:
                col = cols[k] = [(np.nan, self.n)] if self.n else []
            col.append(chunk)
        self.n += n
        for k, col in cols.items():
            if k not in merged:
                col.append((np.nan, n))

    def add_rows(self, keys: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        """Rows as dicts (each may lack some of the others' keys)."""
        if not rows:
            return
        first = rows[0].keys()
        if all(map(first.__eq__, map(dict.keys, rows))):
            # every row has the same keys (the usual case): the first row's
            # order is the order first seen, and a column is one itemgetter map
            self.add(keys, {k: list(map(itemgetter(k), rows)) for k in first}, len(rows))
            return
        names = dict.fromkeys(k for r in rows for k in r)
        self.add(keys, {k: [r.get(k, d) for r in rows]
                        for k, d in ((k, keys.get(k, np.nan)) for k in names)}, len(rows))

    @staticmethod
    def _column(chunks: list[tuple[Any, int]]) -> Any:
        if all(n >= 0 for _, n in chunks):
            # repeated values only: pandas infers the dtype from the distinct
            # values as it would from the whole column (the types present, not
            # how often), so infer once and repeat
            s = pd.Series([v for v, _ in chunks])
            return s.repeat([n for _, n in chunks]).reset_index(drop=True)
        out: list[Any] = []
        for v, n in chunks:
            if n < 0:
                out.extend(v)
            else:
                out.extend([v] * n)
        return _numeric_array(out)

    def frame(self, base_cols: list[str]) -> pd.DataFrame:
        if not self.n:
            return pd.DataFrame(columns=base_cols)
        return pd.DataFrame({k: self._column(c) for k, c in self.cols.items()})


def build_tables(exp: Experiment, records: list[tuple[RunSpec, dict[str, Any]]]
                 ) -> dict[str, pd.DataFrame]:
    """Per-run outcomes -> the tidy tables (``runs`` has a row for every run)."""
    scols = setting_columns(exp)
    tables: dict[str, _Columns] = {t: _Columns() for t in TABLES}
    for spec, out in sorted(records, key=lambda r: r[0].run_id):
        keys = key_columns(spec, scols)
        res = out.get("result") or {}
        metrics = {k: v for k, v in (res.get("metrics") or {}).items()
                   if v is None or isinstance(v, bool | int | float | str)}
        run_row = dict(keys)
        run_row["error"] = out.get("error")
        run_row["run_wall_s"] = out.get("wall_s")
        for k, v in metrics.items():
            if k in run_row:
                if v == run_row[k]:
                    continue  # the simulator repeats a key column (e.g. gomaxprocs)
                k = f"metric_{k}"
            run_row[k] = v
        tables["runs"].add_rows({}, [run_row])
        if not out.get("ok"):
            continue
        for table in ("locks", "p_time", "by_size", "timeseries", "flow", "lock_sites",
                      "gc_cycles"):
            tables[table].add_rows(keys, res.get(table) or [])
        hist = res.get("latency_hist") or {}
        lo, hi, count = hist.get("lo_ns", []), hist.get("hi_ns", []), hist.get("count", [])
        n = min(len(lo), len(hi), len(count))
        tables["latency"].add(keys, {"lo_ns": list(lo[:n]), "hi_ns": list(hi[:n]),
                                     "count": list(count[:n])}, n)
    base_cols = list(KEY_COLUMNS) + scols
    return {t: _sanitise(c.frame(base_cols)) for t, c in tables.items()}


def write_tables(results_dir: Path, tables: dict[str, pd.DataFrame],
                 timeseries: bool = True, graphs: bool = True) -> list[str]:
    """Write each table as ``<name>.parquet`` atomically, and (unless not
    ``graphs``: the caller writes them with :func:`write_flow_graphs`) each
    run's allocation flow as ``flow/<run_id>.graphml`` (the directory replaced
    atomically); returns the file names (``flow/`` for the directory)."""
    written = []
    for name, df in tables.items():
        path = results_dir / f"{name}.parquet"
        if name == "timeseries" and (df.empty or not timeseries):
            if path.exists():
                path.unlink()
            continue
        write_with(path, lambda tmp, df=df: df.to_parquet(tmp, index=False))
        written.append(path.name)
    if graphs and write_flow_graphs(results_dir / FLOW_DIR, tables.get("flow", pd.DataFrame()),
                                    tables.get("runs")):
        written.append(FLOW_DIR + "/")
    return written


def write_flow_graphs(flow_dir: Path, flow: pd.DataFrame, runs: pd.DataFrame | None) -> bool:
    """One GraphML file per run of the ``flow`` table (gosim.analysis.flow);
    an old directory is replaced, or removed when no run recorded a flow."""
    from gosim.analysis.flow import run_graphs, write_graphml
    from gosim.atomic_write import atomic_dir

    graphs = run_graphs(flow, runs)
    if not graphs:
        if flow_dir.exists():
            import shutil

            shutil.rmtree(flow_dir)
        return False
    with atomic_dir(flow_dir) as tmp:
        for rid, G in graphs.items():
            write_graphml(G, tmp / f"{rid}.graphml")
    return True


def write_json(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")


def read_tables(results_dir: Path) -> dict[str, pd.DataFrame]:
    """Read back the tables that exist (missing ones as empty frames)."""
    out = {}
    for name in TABLES:
        p = results_dir / f"{name}.parquet"
        out[name] = pd.read_parquet(p) if p.exists() else pd.DataFrame()
    return out
