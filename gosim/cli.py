"""The ``gosim`` command line.

User mistakes (:class:`gosim.errors.GosimError`) become a one-line message on
stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer

from gosim.commands import COMMAND_MODULES
from gosim.errors import GosimError

app = typer.Typer(
    name="gosim",
    help="A discrete-event simulator of Go's multi-level memory allocator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"gosim.commands.{_name}")
    except ModuleNotFoundError as _e:  # pragma: no cover - only while a command is being built
        if _e.name != f"gosim.commands.{_name}":
            raise
        continue
    _mod.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app, mapping user errors to exit status 2."""
    try:
        rc = app(args=argv, prog_name="gosim", standalone_mode=False)
    except GosimError as e:
        print(f"gosim: error: {e}", file=sys.stderr)
        return e.exit_code
    except typer.Exit as e:  # raised by commands that exit early
        return e.exit_code
    except KeyboardInterrupt:
        print("gosim: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # click usage errors carry their own exit code
        import click

        if isinstance(e, click.exceptions.ClickException):
            e.show()
            return 2
        if isinstance(e, click.exceptions.Abort):
            return 1
        raise
    # with standalone_mode=False click returns a typer.Exit's code instead of exiting
    return rc if isinstance(rc, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


def console() -> None:
    """Console-script wrapper (``gosim``)."""
    sys.exit(main())
