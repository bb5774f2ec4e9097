"""``gosim schema``: the experiment file reference (markdown) or its JSON Schema."""

from __future__ import annotations

import json
from typing import Literal

import typer


def schema(
    fmt: Literal["markdown", "json"] = typer.Option(
        "markdown", "--format", help="markdown: the reference (docs/schema.md); "
        "json: the JSON Schema (draft 2020-12)"),
) -> None:
    """Print every key of an experiment file: type, default, allowed values, meaning."""
    from gosim.config.reference import json_schema, markdown

    if fmt == "json":
        typer.echo(json.dumps(json_schema(), indent=2))
    else:
        typer.echo(markdown(), nl=False)


def register(app: typer.Typer) -> None:
    app.command("schema")(schema)
