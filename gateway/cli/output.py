"""Small helpers for printing tables and JSON from CLI commands."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def echo_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print rows as aligned columns under ``headers``."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())
        if index == 0:
            click.echo("  ".join("-" * width for width in widths))
