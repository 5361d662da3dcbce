"""Lengths of time as an operator reads them in a setting's error or a status text."""

from __future__ import annotations


def spoken(seconds: float) -> str:
    """``seconds`` in the largest whole unit: "4 days", "90 minutes", "1.5 s"."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds:g} s"
