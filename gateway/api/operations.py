"""One description per endpoint: the route, the scope it needs, and its OpenAPI entry.

Handlers sit next to their :class:`Operation` in each module; the app mounts
the operations and :mod:`gateway.api.openapi` writes the document from the
same objects, so what is served and what is documented cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import attrs

from gateway.api.problems import Handler


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


@attrs.frozen
class Param:
    name: str
    location: Literal["path", "query"]
    description: str
    schema: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "string"})
    required: bool = False

    def to_openapi(self) -> dict[str, Any]:
        return {"name": self.name, "in": self.location, "description": self.description,
                "required": self.required or self.location == "path",
                "schema": dict(self.schema)}


@attrs.frozen
class Answer:
    """One documented response: a status with its description and JSON body schema."""

    status: int
    description: str
    schema: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    media_type: str = "application/json"


@attrs.frozen
class Operation:
    """An endpoint. ``scopes``: any one of them suffices; empty means no authentication."""

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    scopes: frozenset[str] = frozenset()
    description: str = ""
    params: tuple[Param, ...] = ()
    body: Mapping[str, Any] | None = None
    body_description: str = ""
    answers: tuple[Answer, ...] = ()
    # Statuses answered with problem details beyond 401/403 (added for every scoped route).
    problems: tuple[int, ...] = ()
    # What a problem status means here, where the general text does not fit.
    problem_texts: Mapping[int, str] = attrs.field(factory=dict)
