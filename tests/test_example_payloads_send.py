"""The sample order response and quotation can be sent once their order or request came in."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from gateway.channels import InboundDocument
from gateway.service import GatewayService

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
PAYLOADS = ROOT / "examples" / "erp-payloads"
BUYER = "00000001003227522000"
QUOTATION_ROUTE = f"""
[agencies."{BUYER}".documents.quotation]
channel = "folder"
format = "ubl-ohnl:quotation:1.8"
"""


def _config(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text("utf-8") + QUOTATION_ROUTE
    text = text.replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    path = tmp_path / "gateway.toml"
    path.write_text(text, "utf-8")
    return path


async def _submit(service: GatewayService, name: str) -> tuple[int, dict[str, object]]:
    assert service.address is not None
    async with aiohttp.ClientSession() as session, session.post(
        f"http://127.0.0.1:{service.address[1]}/api/v1/outbound/{BUYER}",
        data=(PAYLOADS / name).read_bytes(),
        headers={"Authorization": "Bearer test-token", "Content-Type": "application/json"},
    ) as response:
        return response.status, json.loads(await response.text())


async def test_sample_order_response_and_quotation_go_out(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    service = GatewayService(_config(tmp_path))
    await service.start()
    try:
        # The sample order comes in first, as the agency sends it (canonical JSON here).
        order_id = await service.receive(InboundDocument(
            data=(PAYLOADS / "order.json").read_bytes(), channel="portal",
            transport_id="sample-order"))
        assert service.store is not None
        for _ in range(100):
            order = await service.store.get(order_id)
            assert order is not None
            if order.transport_state.value == "decoded":
                break
            await asyncio.sleep(0.05)
        assert order is not None
        assert order.transport_state.value == "decoded", order.last_error

        status, answer = await _submit(service, "order-response.json")
        assert status == 202, answer
        status, answer = await _submit(service, "quotation.json")
        assert status == 202, answer
    finally:
        await service.stop()
