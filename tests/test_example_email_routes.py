"""Every agency the example configuration routes to e-mail has an address to send to."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from gateway.service import GatewayService
from plugins.email.testserver import LocalSmtp

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
RWS = "00000001006492083000"


@pytest.mark.parametrize("oin", ["00000001006492083000", "00000001007465075000",
                                 "00000001009898347000"])
def test_agencies_routed_to_email_have_an_address(oin: str) -> None:
    from gateway.config import load_config

    agency = load_config(EXAMPLE).agency(oin)
    assert agency is not None
    uses_email = agency.fallback_channel == "email" or any(
        r.channel == "email" or r.fallback_channel == "email" for r in agency.documents.values())
    assert uses_email
    assert agency.email, f"{agency.label} is routed to e-mail but has no email"


async def test_an_rws_order_response_is_mailed(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    async with LocalSmtp() as smtp:
        text = EXAMPLE.read_text("utf-8")
        text = text.replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
        text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
        text = text.replace("smtp_port = 1025", f"smtp_port = {smtp.port}")
        text = text.replace('smtp_host = "localhost"', f'smtp_host = "{smtp.host}"')
        path = tmp_path / "gateway.toml"
        path.write_text(text, "utf-8")
        response = json.loads((ROOT / "examples/erp-payloads/order-response.json").read_text())
        response = json.loads(json.dumps(response).replace("00000001003227522000", RWS))
        response["currency"] = "EUR"
        service = GatewayService(path)
        await service.start()
        try:
            assert service.address is not None
            async with aiohttp.ClientSession() as session, session.post(
                f"http://127.0.0.1:{service.address[1]}/api/v1/outbound/{RWS}",
                json=response, headers={"Authorization": "Bearer test-token"},
            ) as answer:
                body = await answer.json()
            assert answer.status == 202, body
            assert service.store is not None
            for _ in range(200):
                record = await service.store.get(body["id"])
                assert record is not None
                if record.transport_state.value in ("sent", "failed"):
                    break
                await asyncio.sleep(0.05)
            assert record is not None
            assert record.transport_state.value == "sent", record.last_error
        finally:
            await service.stop()
