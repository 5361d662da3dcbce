"""Preconditions shared by the builders."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.business.errors import BusinessError


def require_unique(document: str, what: str, ids: Iterable[str]) -> None:
    """Refuse repeated ids: answers and invoices refer to them by value, so one must mean one."""
    seen: set[str] = set()
    twice: list[str] = []
    for value in ids:
        if value in seen and value not in twice:
            twice.append(value)
        seen.add(value)
    if twice:
        raise BusinessError(
            f"{document} repeats {what} {', '.join(map(repr, twice))}; "
            "later documents refer to them by id, so each must be unique"
        )
