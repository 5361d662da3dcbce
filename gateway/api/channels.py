"""Mounting the HTTP routes channels offer (``Channel.web_routes()``) under the API.

Each channel instance's routes live under ``/api/v1/channels/<name>/`` and
go through the same token check as the rest: reading (GET, HEAD) needs the
``read`` scope, anything else ``operate``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from gateway.api.auth import OPERATE, READ
from gateway.api.operations import Answer, Operation, Param, ref
from gateway.api.problems import PROBLEM_TYPE
from gateway.channels import Channel

log = logging.getLogger(__name__)

PREFIX = "/api/v1/channels"
READING = frozenset({"GET", "HEAD"})
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}")


def _summary(handler: object, name: str) -> str:
    doc = (getattr(handler, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else f"A route of channel {name}"


def _answer(status: int, text: str, schema: Mapping[str, Any] | None = None) -> Answer:
    # Refusals go through the API's problem middleware: the same body as every other error.
    if status >= 400:
        return Answer(status, text, ref("Problem"), media_type=PROBLEM_TYPE)
    return Answer(status, text, schema)


def channel_operations(channels: Mapping[str, Channel]) -> list[Operation]:
    """An operation for every route of every running channel."""
    operations: list[Operation] = []
    for name, channel in sorted(channels.items()):
        for route in channel.web_routes():
            if not isinstance(route, web.RouteDef) or route.method == "*":
                # Static folders and class-based views carry no single method to guard.
                log.warning("channel %s offers a route the API cannot mount: %r", name, route)
                continue
            method = route.method.upper()
            path = f"{PREFIX}/{name}/{route.path.lstrip('/')}"
            slug = re.sub(r"[^A-Za-z0-9]+", "_", route.path).strip("_") or "root"
            declared = getattr(route.handler, "openapi_answers", None)
            answers = (tuple(_answer(*answer) for answer in declared) if declared
                       else (Answer(200, f"As channel {name} answers."),))
            body = getattr(route.handler, "openapi_body", None)
            query = tuple(Param(name, "query", text, schema) for name, text, schema in
                          getattr(route.handler, "openapi_query", ()))
            operations.append(Operation(
                method, path, route.handler, f"channel_{name}_{method.lower()}_{slug}",
                _summary(route.handler, name), f"channel {name}",
                frozenset({READ if method in READING else OPERATE}),
                params=(*(Param(p, "path", f"Path parameter of channel {name}.")
                              for p in _PLACEHOLDER.findall(path)), *query),
                body=body, answers=answers,
            ))
    return operations
