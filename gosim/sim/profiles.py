"""Calibration profiles: cost-model parameters measured on the real runtime.

A profile is a YAML file written by ``gosim calibrate``::

    name: ci-2core
    go_version: go1.27.3
    design: go1.27
    measured: 2026-01-31          # date of measurement (passed in)
    machine: {cpu: ..., cpus: 2, platform: ...}
    gomaxprocs: 1
    gc: false
    holdout_sizes: [16, 128, 4096, 65536]                     # not fitted, evaluated
    parameters: {malloc_fast_ns: 11.7, refill_ns: 35.2, ...}   # what configs use
                                     # (a number, or a distribution mapping as in a
                                     # scenario's costs: {dist: lognormal, mean: 250,
                                     # sigma: 1.5}, drawn per use)
    defaulted: [mcentral_cachespan_ns, ...]                    # not identifiable here
    fit: [{size: 48, pointerful: false, measured_ns: ..., model_ns: ..., rel_error: ...,
           default_model_ns: ..., default_rel_error: ...}, ...]   # the fitted points
    holdout: [{size: 16, ...}, ...]  # the held-out points, same fields
    fit_rms_rel_error: 0.04          # RMS relative error on the fit set
    holdout_rms_rel_error: 0.089     # ... and on the held-out points
    default_rms_rel_error: 0.225     # the defaults on all points (also per set:
                                     # default_fit_/default_holdout_rms_rel_error)

A scenario names it with ``costs_profile: NAME``; precedence is defaults <
design < profile < scenario ``costs``. :func:`load_profile` finds ``NAME``:
a path to a ``.yaml`` file; else ``NAME.yaml`` in each directory of
``GOSIM_PROFILE_PATH`` (colon-separated), ``./profiles`` and the gosim
checkout's ``profiles/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from gosim.errors import ConfigError


def search_dirs() -> list[Path]:
    dirs: list[Path] = []
    for d in os.environ.get("GOSIM_PROFILE_PATH", "").split(os.pathsep):
        if d:
            dirs.append(Path(d).expanduser())
    dirs.append(Path.cwd() / "profiles")
    dirs.append(Path(__file__).resolve().parent.parent.parent / "profiles")
    out: list[Path] = []
    for d in dirs:
        if d not in out:
            out.append(d)
    return out


def find_profile(name: str) -> Path:
    p = Path(name).expanduser()
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    for d in search_dirs():
        for ext in (".yaml", ".yml"):
            f = d / f"{name}{ext}"
            if f.is_file():
                return f
    have = sorted({f.stem for d in search_dirs() if d.is_dir() for f in d.glob("*.y*ml")})
    raise ConfigError(
        f"unknown calibration profile {name!r}; available: {', '.join(have) or 'none'} "
        f"(searched {', '.join(str(d) for d in search_dirs())}; create one with "
        "gosim calibrate --out profiles/NAME.yaml)", key="costs_profile")


def read_profile(name: str) -> dict[str, Any]:
    """The whole profile document."""
    path = find_profile(name)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read calibration profile: {e}", file=str(path)) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("parameters"), dict):
        raise ConfigError("a calibration profile needs a 'parameters' mapping",
                          file=str(path), key="parameters")
    return doc


def load_profile(name: str) -> dict[str, float | dict[str, Any]]:
    """Cost parameter name -> value of profile ``name`` (see the module docstring):
    a number, or a distribution mapping as a scenario's ``costs`` takes one
    (``{dist: lognormal, mean: 250, sigma: 1.5}``: a value drawn per use,
    gosim.workload.spec.Dist), returned as written."""
    path = find_profile(name)
    doc = read_profile(str(path))
    from gosim.sim.costs import COST_PARAMETERS
    from gosim.workload.spec import dist_error

    out: dict[str, float | dict[str, Any]] = {}
    for k, v in doc["parameters"].items():
        if k not in COST_PARAMETERS:
            raise ConfigError(f"unknown cost parameter {k!r}; expected one of "
                              f"{sorted(COST_PARAMETERS)}", file=str(path), key=f"parameters.{k}")
        if isinstance(v, dict):
            bad = dist_error(v)
            if bad is not None:
                where, msg = bad
                raise ConfigError(f"expected a non-negative number or a distribution mapping "
                                  f"such as {{dist: exponential, mean: 500}}: {msg}",
                                  file=str(path),
                                  key=f"parameters.{k}" + (f".{where}" if where else ""))
            out[k] = dict(v)
            continue
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ConfigError(f"expected a non-negative number or a distribution mapping such "
                              f"as {{dist: exponential, mean: 500}}, got {v!r}", file=str(path),
                              key=f"parameters.{k}")
        out[k] = float(v)
    return out
