"""What handlers reach through the request: the service, its store, the caller."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from gateway.api.auth import Principal
from gateway.api.problems import STARTING_RETRY_AFTER, Problem, unavailable
from gateway.store import Store

if TYPE_CHECKING:
    from gateway.service import GatewayService

SERVICE_KEY: web.AppKey[GatewayService] = web.AppKey("service")
PRINCIPAL: web.RequestKey[Principal] = web.RequestKey("principal", Principal)


def service_of(request: web.Request) -> GatewayService:
    return request.app[SERVICE_KEY]


def store_of(request: web.Request) -> Store:
    service = service_of(request)
    if service.stopping:
        # No Retry-After: whether and when the gateway comes back is not up to it.
        raise unavailable("the message store is closing: the gateway is stopping")
    if service.store is None:
        raise unavailable("the message store is not open yet: the gateway is starting",
                          retry_after=STARTING_RETRY_AFTER)
    return service.store


def principal_of(request: web.Request) -> Principal:
    # Every scoped route sets it before its handler runs (gateway.api.app.guarded).
    return request[PRINCIPAL]


def max_request_bytes(request: web.Request) -> int:
    return int(service_of(request).config.api.max_request_bytes)


def workers_died(request: web.Request, detail: str) -> Problem:
    """503 for a document whose validation workers died twice (ValidationWorkerDied).

    It is no verdict on the document, and the gateway can tell when to try
    again: once new workers are warm.
    """
    pool = service_of(request).validation
    return unavailable(detail, retry_after=None if pool is None else pool.replacement_seconds())
