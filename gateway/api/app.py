"""The aiohttp application: routes and their handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.service import GatewayService

SERVICE_KEY: web.AppKey[GatewayService] = web.AppKey("service")


async def health(request: web.Request) -> web.Response:
    """Liveness and readiness in one: 200 when running, with what is degraded."""
    report = await request.app[SERVICE_KEY].health()
    return web.json_response(report, status=200 if report["status"] != "stopping" else 503)


def make_app(service: GatewayService) -> web.Application:
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[SERVICE_KEY] = service
    app.router.add_get("/health", health)
    return app
