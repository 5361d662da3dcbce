"""What the ERP delivery tests share: a real HTTP server on loopback playing the ERP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection
from pathlib import Path
from typing import Any

import attrs
from aiohttp import web
from pipeline_support import config_text

from gateway.delivery import DeliveryWorker
from gateway.store import MessageRecord, Store, TransportState

SECRET = "erp-shared-secret-4d1f"
SECRET_ENV = "WISSEL_TEST_ERP_SECRET"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.define
class Received:
    headers: dict[str, str]
    body: bytes


class FakeErp:
    """An aiohttp server answering from ``script`` (status codes) while it lasts, then 200."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.script: list[int] = []
        self.always: int | None = None
        self.answer = ""
        self.received: list[Received] = []
        # When set to an unset event, every request waits for it: an ERP that hangs.
        self.hold: asyncio.Event | None = None
        # Seconds every answer takes: a slow ERP.
        self.delay = 0.0
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wissel/inbound"

    async def _handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(dict(request.headers), await request.read()))
        if self.hold is not None:
            await self.hold.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.always or (self.script.pop(0) if self.script else 200)
        return web.Response(status=status, text=self.answer or f"status {status}")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/wissel/inbound", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


async def deliver_until(
    worker: DeliveryWorker, store: Store, message_id: str,
    states: Collection[TransportState], *, within: float = 10.0, **_: Any,
) -> MessageRecord:
    """Run delivery rounds until the message is in one of ``states``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        record = await store.get(message_id)
        assert record is not None
        if record.transport_state in states:
            return record
        if loop.time() > deadline:
            raise AssertionError(f"message stayed {record.transport_state}: {record}")
        if not await worker.run_once():
            await asyncio.sleep(0.01)


def webhook_config(tmp_path: Path, database: str, erp_url: str, max_attempts: int = 4) -> Path:
    """A gateway.toml delivering to ``erp_url`` by webhook, signed with SECRET."""
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=database) + f"""
[erp]
delivery = "webhook"
webhook_url = "{erp_url}"
webhook_secret_env = "{SECRET_ENV}"
webhook_timeout = 2
max_attempts = {max_attempts}
""", "utf-8")
    return path
