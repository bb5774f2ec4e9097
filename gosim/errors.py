"""Exception types users see.

Every user mistake raises a subclass of :class:`GosimError`; the CLI turns it
into a one-line message and exit status 2 (no traceback).
"""

from __future__ import annotations


class GosimError(Exception):
    """Base class for errors caused by user input (bad value, bad file)."""

    exit_code = 2


class InvalidSizeError(GosimError, ValueError):
    """An allocation size that is not a non-negative integer."""


class InvalidSpanClassError(GosimError, ValueError):
    """A span class or size class outside the preset's table."""


class UnknownPresetError(GosimError, KeyError):
    """A design or size-class preset name that does not exist."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it plain
        return str(self.args[0]) if self.args else ""


class ConfigError(GosimError):
    """A bad experiment config: names the file, the key path and what was expected."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        self.file = file
        self.key = key
        self.line = line
        self.detail = message
        where = []
        if file:
            where.append(f"{file}" + (f":{line}" if line is not None else ""))
        if key:
            where.append(f"key '{key}'")
        prefix = ": ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ToolchainMissingError(GosimError):
    """The Go toolchain is needed but not installed."""


class OutOfMemoryError(GosimError):
    """The simulated heap could not grow (address space exhausted)."""
