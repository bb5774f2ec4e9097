"""CLI sub-commands. Each module defines ``register(app: typer.Typer) -> None``."""

COMMAND_MODULES = ("sizeclasses", "layout", "designs_costs", "run", "plot", "realgo", "calibrate")
