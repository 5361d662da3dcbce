"""`make run`'s sample documents and simulators speak for the example configuration's supplier.

The Peppol simulator's sample orders are addressed to the seller of the sample
documents (0106:30097265). With another [supplier] in examples/gateway.toml,
`make run` put every one of them in the inbox's error folder as addressed to
someone else, and the invoices the ERP samples send named another seller than
the envelope around them.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.kinds import Direction
from gateway.service import GatewayService
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
PAYLOADS = ROOT / "examples" / "erp-payloads"


def test_the_sample_documents_seller_is_the_example_supplier() -> None:
    supplier = load_config(EXAMPLE).supplier
    for name in ("invoice.json", "credit-note.json"):
        seller = json.loads((PAYLOADS / name).read_text("utf-8"))["seller"]
        assert f"{seller['endpoint_id']['scheme']}:{seller['endpoint_id']['value']}" == str(
            supplier.peppol_id), name
        assert {"scheme": "KvK", "value": str(supplier.kvk)} in seller["ids"], name


async def test_the_peppol_simulators_sample_order_reaches_the_example_gateway(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(data))
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    inbox = data / "peppol" / "inbox"
    inbox.mkdir(parents=True)
    simulator = PeppolSimulator(SimulatorSettings(listen="127.0.0.1:0", deliver_dir=inbox,
                                                  standards=installed_standards))
    await simulator.start()
    try:
        text = EXAMPLE.read_text("utf-8")
        text = text.replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
        text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
        text = text.replace('access_point = "http://127.0.0.1:8781/"',
                            f'access_point = "{simulator.url}"\npoll_interval = 0.2')
        config = tmp_path / "gateway.toml"
        config.write_text(text, "utf-8")
        service = GatewayService(config)
        await service.start()
        try:
            await simulator.deliver_order()
            assert service.store is not None
            # Stored raw first, then decoded: wait for the decode, or for a refusal.
            orders: list[object] = []
            for _ in range(150):
                page = await service.store.list_messages(direction=Direction.INBOUND)
                orders = [m for m in page.items if m.document_kind == "order"]
                if orders or any((inbox / "error").glob("*")):
                    break
                await asyncio.sleep(0.1)
            refused = sorted(p.name for p in (inbox / "error").glob("*"))
            assert not refused, f"the sample order was refused: {refused}"
            assert len(orders) == 1, page.items
        finally:
            await service.stop()
    finally:
        await simulator.stop()
