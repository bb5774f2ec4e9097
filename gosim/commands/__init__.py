"""CLI sub-commands. Each module defines ``register(app: typer.Typer) -> None``."""

COMMAND_MODULES = ("sizeclasses", "layout", "run", "plot", "realgo", "calibrate")
