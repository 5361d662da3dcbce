"""What the API and CLI tests share: a gateway running in-process on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import attrs
from pipeline_support import FAST, RecorderPlugin, config_text

from gateway.model import CanonicalDocument
from gateway.model.json import to_json
from gateway.model.samples import example_invoice
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService

ADMIN = "test-token"  # [gateway] token in pipeline_support.config_text: every scope
READER = "reader-token-0123456789"
ERP = "erp-token-0123456789"
OPERATOR = "operator-token-0123456789"
REQUEST_LIMIT = 64 * 1024

TOKENS = f"""
[api]
max_request_bytes = {REQUEST_LIMIT}

[api.tokens.reader]
token = "{READER}"
scopes = ["read"]

[api.tokens.erp]
token = "{ERP}"
scopes = ["submit", "read"]

[api.tokens.operator]
token = "{OPERATOR}"
scopes = ["read", "operate"]
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def invoice_json(number: str = "F2024-0001", **changes: Any) -> bytes:
    document: CanonicalDocument = attrs.evolve(example_invoice(), number=number, **changes)
    return json.dumps(to_json(document)).encode()


@attrs.define
class Running:
    service: GatewayService
    base: str
    plugin: RecorderPlugin
    config_path: Path

    @property
    def store(self) -> Any:
        assert self.service.store is not None
        return self.service.store

    async def call(
        self, method: str, path: str, *, token: str | None = ADMIN, data: bytes | None = None,
        json_body: Any = None, params: Mapping[str, str] | None = None,
    ) -> tuple[int, Mapping[str, str], Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with aiohttp.ClientSession() as session, session.request(
            method, f"{self.base}{path}", data=data, json=json_body, headers=headers,
            params=params,
        ) as response:
            text = await response.text()
            body = json.loads(text) if text else None
            return response.status, dict(response.headers), body


@asynccontextmanager
async def running_gateway(
    tmp_path: Path, *, database: str | None = None, extra: str = TOKENS,
    listen: str | None = None, gateway_token: bool = True, plugins: list[Any] | None = None,
    invoice_format: str = "canonical:invoice:1",
    order_response_format: str = "canonical:order-response:1",
    supplier_number: str | None = None,
) -> AsyncIterator[Running]:
    """The real service with the recorder channel, listening on a free loopback port."""
    listen = listen or f"127.0.0.1:{free_port()}"
    text = config_text(tmp_path, database=database, invoice_format=invoice_format,
                       order_response_format=order_response_format,
                       supplier_number=supplier_number).replace(
        'listen = "127.0.0.1:0"', f"listen = {listen!r}")
    if not gateway_token:
        text = text.replace('token = "test-token"\n', "")
    path = tmp_path / "gateway.toml"
    path.write_text(text + extra, "utf-8")
    plugin = RecorderPlugin()
    pm = make_plugin_manager(plugins=[("recorder", plugin), *(plugins or [])])
    service = GatewayService(path, pm, dispatch=FAST)
    await service.start()
    try:
        assert service.address is not None
        port = service.address[1]
        yield Running(service, f"http://127.0.0.1:{port}", plugin, path)
    finally:
        await service.stop()
