"""Calibration profiles a scenario can name (``costs_profile: NAME``)."""

from __future__ import annotations

from gosim.errors import ConfigError


def load_profile(name: str) -> dict[str, float]:
    try:
        from gosim.realgo.profiles import load_profile as _load
    except ImportError as e:  # pragma: no cover
        raise ConfigError(f"cannot load calibration profile {name!r}: {e}",
                          key="costs_profile") from None
    return _load(name)
