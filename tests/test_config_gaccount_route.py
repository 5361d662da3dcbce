"""G-account invoices are configured on their route, as the ubl_invoice README says.

``gaccount_iban`` and ``gaccount_percentage`` on a route reach the encoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner

from gateway.cli.context import CliContext
from gateway.cli.main import cli
from gateway.config import load_config
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
INVOICE = ROOT / "examples" / "erp-payloads" / "invoice.json"
BELASTINGDIENST = "00000001001417058000"
IBAN = "NL20INGB0001234567"
ROUTE = f'[agencies."{BELASTINGDIENST}".documents.invoice]\nformat = "nlcius:invoice:1.0"\n'
GACCOUNT_ROUTE = (f'[agencies."{BELASTINGDIENST}".documents.invoice]\n'
                  'format = "nlcius-gaccount:invoice:1.0"\n'
                  f'gaccount_iban = "{IBAN}"\ngaccount_percentage = "30"\n')


def _config(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text("utf-8")
    assert ROUTE in text
    text = text.replace(ROUTE, GACCOUNT_ROUTE)
    text = text.replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    path = tmp_path / "gateway.toml"
    path.write_text(text, "utf-8")
    return path


def test_gaccount_settings_on_the_route_are_accepted(tmp_path: Path) -> None:
    load_config(_config(tmp_path))


async def test_a_gaccount_invoice_leaves_the_gateway_with_the_gaccount(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    service = GatewayService(_config(tmp_path))
    await service.start()
    try:
        assert service.address is not None
        body = INVOICE.read_text("utf-8").replace("00000001003227522000", BELASTINGDIENST)
        async with aiohttp.ClientSession() as session, session.post(
            f"http://127.0.0.1:{service.address[1]}/api/v1/outbound/{BELASTINGDIENST}",
            data=body, headers={"Authorization": "Bearer test-token",
                                "Content-Type": "application/json"},
        ) as response:
            answer = json.loads(await response.text())
        assert response.status == 202, answer
        assert service.store is not None
        stored = await service.store.get(answer["id"])
        assert stored is not None
        assert stored.raw_payload is not None
        assert stored.format_key == "nlcius-gaccount:invoice:1.0"
        assert IBAN.encode() in stored.raw_payload
    finally:
        await service.stop()


def test_gateway_encode_for_the_agency_writes_what_the_gateway_sends(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`gateway encode --agency` takes the route's settings, as the pipeline does."""
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    invoice = tmp_path / "invoice.json"
    invoice.write_text(INVOICE.read_text("utf-8").replace("00000001003227522000",
                                                          BELASTINGDIENST), "utf-8")
    config = _config(tmp_path)
    result = CliRunner().invoke(cli, ["--config", str(config), "encode", str(invoice), "--format",
                                      "nlcius-gaccount:invoice:1.0", "--agency", BELASTINGDIENST],
                                obj=CliContext(config, make_plugin_manager()))
    assert result.exit_code == 0, result.output
    assert IBAN.encode() in result.stdout_bytes
