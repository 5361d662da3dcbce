"""Errors as RFC 9457 problem details (``application/problem+json``).

Every refusal names what is wrong; where one field of a request is at fault,
``errors`` points at it (a JSON path into the body, or a parameter name), so
an ERP can show its user exactly what to fix.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)

PROBLEM_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:wissel:problem:"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """Raised by a handler to answer with problem details instead of its normal body."""

    def __init__(
        self, status: int, slug: str, title: str, detail: str, *,
        errors: Sequence[Mapping[str, Any]] = (), extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = [dict(e) for e in errors]
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": TYPE_PREFIX + self.slug, "title": self.title, "status": self.status,
            "detail": self.detail,
        }
        if instance:
            body["instance"] = instance
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return body

    def response(self, instance: str | None = None) -> web.Response:
        return web.Response(
            status=self.status, headers=self.headers, content_type=PROBLEM_TYPE,
            text=json.dumps(self.body(instance), ensure_ascii=False),
        )


def bad_request(detail: str, field: str | None = None, slug: str = "bad-request") -> Problem:
    errors = [] if field is None else [{"field": field, "message": detail}]
    return Problem(400, slug, "The request is not valid", detail, errors=errors)


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def conflict(detail: str) -> Problem:
    return Problem(409, "conflict", "The message is not in a state that allows this", detail)


STARTING_RETRY_AFTER = 5
"""Seconds to tell a caller that finds the gateway starting: its start takes about that."""


def unavailable(detail: str, retry_after: int | None = None) -> Problem:
    """503; ``retry_after`` seconds (sent as Retry-After) where the gateway can tell when
    it will be able to, and None where it cannot: where an operator must act first."""
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return Problem(503, "unavailable", "The gateway cannot do this now", detail,
                   headers=headers)


# aiohttp's own refusals (unknown path, wrong method, body over client_max_size)
# get the same shape as ours, so a client needs one error reader.
_HTTP_SLUGS = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}


NotFoundHint = Callable[[web.Request], str | None]
NOT_FOUND_HINT: web.AppKey[NotFoundHint] = web.AppKey("not_found_hint")
"""Why a path is not found here, when the app can say more than that (or None)."""


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return problem.response(request.path)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        slug = _HTTP_SLUGS.get(exc.status, "http-error")
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        detail = f"{request.method} {request.path}: {exc.reason}"
        # Asked only once a request has failed: no cost on the way of one that did not.
        if exc.status == 404 and (hint := request.app.get(NOT_FOUND_HINT)) is not None:
            detail = f"{request.method} {request.path}: {hint(request) or exc.reason}"
        if exc.status == 413 and exc.text:
            detail = f"{detail} ({exc.text})"
        return Problem(exc.status, slug, exc.reason, detail, headers=headers).response(
            request.path)
    except Exception:
        # The log has the traceback; the caller gets no internals.
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return Problem(500, "internal-error", "Internal error",
                       "the gateway failed to answer; the error is in its log").response(
            request.path)
