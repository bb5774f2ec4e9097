"""CLI sub-commands. Each module defines ``register(app: typer.Typer) -> None``."""

COMMAND_MODULES = ("sizeclasses", "layout", "designs_costs", "run", "plot", "compare", "schema",
                   "realgo", "calibrate", "validate", "locks",
                   "trace", "groundtruth")
