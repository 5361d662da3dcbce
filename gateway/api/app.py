"""The aiohttp application: every operation mounted behind its token check."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.api import inbox, messages, outbound
from gateway.api.auth import READ, Authenticator, not_local, require
from gateway.api.channels import PREFIX as CHANNEL_PREFIX
from gateway.api.channels import channel_operations
from gateway.api.context import PRINCIPAL, SERVICE_KEY
from gateway.api.messages import check_query
from gateway.api.openapi import build_document
from gateway.api.operations import Answer, Operation, ref
from gateway.api.problems import NOT_FOUND_HINT, Handler, Problem, problem_middleware

if TYPE_CHECKING:
    from gateway.service import GatewayService

__all__ = ["SERVICE_KEY", "make_app"]

DOCUMENT_KEY: web.AppKey[dict[str, Any]] = web.AppKey("openapi")
AUTH_KEY: web.AppKey[Authenticator] = web.AppKey("auth", Authenticator)


PUBLIC_HEALTH = ("status", "version", "uptime_seconds", "validation")
"""What /health tells anyone: enough for a load balancer to decide."""


async def health(request: web.Request) -> web.Response:
    """Liveness and readiness in one: 200 when running, with what is degraded.

    The details (configuration file, channels, message counts, problems)
    go to callers on this machine and to tokens with the read scope only:
    problem texts name files, variables and hosts.
    """
    report = await request.app[SERVICE_KEY].health()
    status = 200 if report["status"] != "stopping" else 503
    if not _may_see_details(request):
        report = {key: report[key] for key in PUBLIC_HEALTH if key in report}
    return web.json_response(report, status=status)


def _may_see_details(request: web.Request) -> bool:
    if not_local(request) is None:
        return True
    if "Authorization" not in request.headers:
        return False
    try:
        principal = request.app[AUTH_KEY].authenticate(request)
    except Problem:
        return False  # a balancer with a stale token still gets its answer
    return READ in principal.scopes


async def openapi(request: web.Request) -> web.Response:
    """This API described as OpenAPI 3.1."""
    return web.json_response(request.app[DOCUMENT_KEY])


CORE_OPERATIONS = (
    Operation("GET", "/health", health, "health",
              "How the gateway is doing; the details for local callers and the read scope",
              "service",
              answers=(Answer(200, "Running (ok or degraded).", ref("Health")),
                       Answer(503, "Stopping.", ref("Health")))),
    Operation("GET", "/openapi.json", openapi, "openapi", "This document", "service",
              answers=(Answer(200, "The OpenAPI 3.1 document.", {"type": "object"}),)),
)


def guarded(operation: Operation, auth: Authenticator, *, strict_query: bool = False) -> Handler:
    """The handler behind its token check; with ``strict_query``, behind the query check too.

    The query check is the core API's: a channel's routes read their query
    themselves, and may take parameters they do not declare.
    """
    if not operation.scopes and not strict_query:
        return operation.handler
    what = f"{operation.method} {operation.path}"

    async def handler(request: web.Request) -> web.StreamResponse:
        if operation.scopes:
            principal = auth.authenticate(request)
            require(principal, operation.scopes, what)
            request[PRINCIPAL] = principal
        if strict_query:
            check_query(request, operation.params)
        return await operation.handler(request)

    return handler


def channel_route_hint(request: web.Request) -> str | None:
    """Why this instance serves no route at a channel's path, told to an authenticated caller.

    Only to such a caller: the reason tells the instance's role and which
    channels run on it.
    """
    parts = request.path.split("/")
    if not request.path.startswith(f"{CHANNEL_PREFIX}/") or len(parts) <= 4:
        return None
    gap = request.app[SERVICE_KEY].channel_route_gap(parts[4])
    return gap if gap is not None and _authenticated(request) else None


def _authenticated(request: web.Request) -> bool:
    try:
        request.app[AUTH_KEY].authenticate(request)
    except Problem:
        return False
    return True


def make_app(service: GatewayService) -> web.Application:
    """The app for a started service: its channels' routes are mounted as they are now."""
    app = web.Application(client_max_size=service.config.api.max_request_bytes,
                          middlewares=[problem_middleware])
    app[SERVICE_KEY] = service
    app[NOT_FOUND_HINT] = channel_route_hint
    auth = Authenticator(lambda: service.config)
    app[AUTH_KEY] = auth
    api = [*outbound.OPERATIONS, *messages.OPERATIONS, *inbox.OPERATIONS]
    channels = channel_operations(service.channels)
    operations = [*CORE_OPERATIONS, *api, *channels]
    for operation in operations:
        # A misspelt parameter (?agnecy=) ignored would do what the caller did not ask.
        handler = guarded(operation, auth, strict_query=operation in api)
        app.router.add_route(operation.method, operation.path, handler)
    app[DOCUMENT_KEY] = build_document(operations)
    return app
