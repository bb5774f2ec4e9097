"""The ``gosim`` command line.

User mistakes never end in a traceback:

- a bad experiment or value (:class:`gosim.errors.GosimError`): one line
  ``gosim: error: ...`` on stderr, exit status 2;
- a usage error (unknown command or option, a bad or missing option value,
  an extra argument, no command at all): one line naming the problem and one
  with the usage, exit status 2 (as click's own standalone mode, minus the
  rich panel);
- Ctrl-C: exit status 130 (``gosim run`` says what it kept).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from typing import Annotated

import typer

from gosim.commands import COMMAND_MODULES
from gosim.errors import GosimError

app = typer.Typer(
    name="gosim",
    help="A discrete-event simulator of Go's multi-level memory allocator.",
    no_args_is_help=False,  # bare `gosim` is a usage error ("Missing command."), exit 2
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: `gosim[go]` keeps its brackets
)


def version() -> str:
    """The installed gosim distribution's version."""
    try:
        return importlib.metadata.version("gosim")
    except importlib.metadata.PackageNotFoundError:  # running from a tree without install
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        import gosim

        typer.echo(f"gosim {version()}: simulation core {gosim.BUILD}")
        raise typer.Exit()


@app.callback()
def _root(
    show_version: Annotated[bool, typer.Option(
        "--version", help="print gosim's version and exit", is_eager=True,
        callback=_print_version)] = False,
) -> None:
    """A discrete-event simulator of Go's multi-level memory allocator."""


for _name in COMMAND_MODULES:
    try:
        _mod = importlib.import_module(f"gosim.commands.{_name}")
    except ModuleNotFoundError as _e:  # a command slot whose module is not written yet
        if _e.name != f"gosim.commands.{_name}":
            raise
        continue
    _mod.register(app)


#: every registered command's name
COMMAND_NAMES = frozenset(c.name for c in app.registered_commands if c.name)


def _usage_error(e: typer.TyperException, argv: list[str]) -> int:
    """Print a click usage error as two lines (problem, usage); return status 2."""
    ctx = getattr(e, "ctx", None)
    message = e.format_message()
    if ctx is not None and ctx.parent is None and hasattr(ctx.command, "list_commands"):
        message += f" Commands: {', '.join(ctx.command.list_commands(ctx))}."
    print(f"gosim: error: {message}", file=sys.stderr)
    if ctx is not None:
        print(f"{ctx.get_usage().strip()}  (see '{ctx.command_path} --help')", file=sys.stderr)
    else:  # some parser errors carry no context: name the command from argv
        cmd = next((a for a in argv if not a.startswith("-")), None)
        path = f"gosim {cmd}" if cmd in COMMAND_NAMES else "gosim"
        print(f"Usage: {path} [OPTIONS] ...  (see '{path} --help')", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the app; returns the exit status."""
    try:
        rc = app(args=argv, prog_name="gosim", standalone_mode=False)
    except GosimError as e:
        print(f"gosim: {getattr(e, 'label', 'error')}: {e}", file=sys.stderr)
        return e.exit_code
    except typer.Exit as e:  # raised by commands that exit early (and --version)
        return e.exit_code
    except typer.TyperException as e:  # typer's bundled click: usage and parameter errors
        return _usage_error(e, sys.argv[1:] if argv is None else argv)
    except typer.Abort:  # click turns EOF on a prompt into Abort; gosim has no prompts
        print("gosim: aborted", file=sys.stderr)
        return 1
    except OSError as e:  # the file system refused a write or read the checks did not foresee
        print(f"gosim: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outside a command body (typer maps it to 130 inside one)
        print("gosim: interrupted", file=sys.stderr)
        return 130
    # with standalone_mode=False typer returns a typer.Exit's code instead of exiting
    return rc if isinstance(rc, int) else 0


def console() -> None:
    """Console-script wrapper (``gosim``)."""
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    console()
