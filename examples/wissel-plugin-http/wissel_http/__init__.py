"""An example third-party plugin: the ``http-post`` channel.

It uses only the gateway's public plugin API (``gateway.hookspecs``,
``gateway.channels``) and registers itself through the ``wissel.plugins``
entry point in its own pyproject.toml.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.channels import ChannelContract, ChannelType, FailureCase
from gateway.hookspecs import hookimpl
from gateway.registry import Registry

from .channel import HttpPostChannel

__version__ = "0.1.0"


@asynccontextmanager
async def _receiver(status: int) -> AsyncIterator[str]:
    """A loopback HTTP server answering every POST with ``status``."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        key = request.headers.get("Idempotency-Key", "")
        return web.Response(status=status, headers={"X-Message-Id": f"rcv-{key}"})

    app = web.Application()
    app.router.add_post("/inbound", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/inbound"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def _working(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _receiver(201) as url:
        yield {"url": url, "timeout": 5}


@asynccontextmanager
async def _overloaded(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _receiver(503) as url:
        yield {"url": url, "timeout": 5}


@asynccontextmanager
async def _refusing(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _receiver(422) as url:
        yield {"url": url, "timeout": 5}


@asynccontextmanager
async def _nobody_listening(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _receiver(200) as url:
        pass  # the server is gone again: the port is closed
    yield {"url": url, "timeout": 2}


@hookimpl
def register_channels(registry: Registry) -> None:
    registry.add_channel(
        ChannelType(
            name="http-post",
            factory=HttpPostChannel,
            description="POST each outbound document to an HTTP(S) URL",
            settings_help={"url": "where to POST", "timeout": "seconds (default 30)"},
            contract=ChannelContract(
                working=_working,
                failures=(
                    FailureCase("receiver answers 503", _overloaded, "retryable"),
                    FailureCase("receiver answers 422", _refusing, "final"),
                    FailureCase("nobody listening", _nobody_listening, "retryable"),
                ),
            ),
        )
    )
