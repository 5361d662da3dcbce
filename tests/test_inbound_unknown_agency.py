"""Inbound documents from an OIN the agency directory lacks: taken, but named."""

from __future__ import annotations

from pathlib import Path

import attrs
from pipeline_support import AGENCY_OIN, RecorderPlugin, config_text, document_json

from gateway.channels import InboundDocument
from gateway.model.common import PartyId
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState

UNKNOWN_OIN = "00000001822477348000"


def order_from(oin: str, number: str) -> bytes:
    order = example_order()
    buyer = attrs.evolve(order.buyer, ids=(PartyId(scheme="OIN", value=oin),),
                         legal_id=PartyId(scheme="0190", value=oin),
                         endpoint_id=PartyId(scheme="0190", value=oin))
    return document_json(attrs.evolve(order, buyer=buyer, number=number))


async def test_a_document_from_an_agency_not_in_the_directory_is_taken_and_named(
    tmp_path: Path,
) -> None:
    # An order from an OIN the supplier had not configured went to the ERP's inbox
    # without a word: nothing told the operator to add the agency.
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=f"sqlite:///{tmp_path / 'gateway.db'}"),
                    "utf-8")
    gateway = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]))
    await gateway.start()
    try:
        assert gateway.store is not None
        known = await gateway.receive(InboundDocument(
            data=order_from(AGENCY_OIN, "PO-1"), channel="folder", transport_id="o-1"))
        ids = [await gateway.receive(InboundDocument(
            data=order_from(UNKNOWN_OIN, f"PO-{n}"), channel="folder", transport_id=f"u-{n}"))
            for n in (2, 3)]
        for message_id in ids:
            record = await gateway.store.get(message_id)
            assert record is not None
            assert record.transport_state is TransportState.DECODED  # not refused
            decoded = (await gateway.store.events(message_id))[-1]
            assert decoded.kind == "decoded"
            assert any(UNKNOWN_OIN in w and "not in the agency directory" in w
                       for w in decoded.detail["warnings"]), decoded.detail
        decoded = (await gateway.store.events(known))[-1]
        assert not any("directory" in w for w in decoded.detail["warnings"])

        health = await gateway.health()
        assert list(health["unknown_agencies"]) == [UNKNOWN_OIN]
        assert health["unknown_agencies"][UNKNOWN_OIN]["documents"] == 2
        assert health["status"] == "degraded"
        assert any(p.startswith(f"agency {UNKNOWN_OIN}: 2 document(s)")
                   and str(path) in p for p in health["problems"]), health["problems"]

        # Once the operator adds the agency, /health no longer names it.
        path.write_text(path.read_text("utf-8") + f"""
[agencies."{UNKNOWN_OIN}"]
name = "Gemeente Voorbeeld"
""", "utf-8")
        gateway.config_holder.reload()
        health = await gateway.health()
        assert health["unknown_agencies"] == {}
        assert health["status"] == "ok", health["problems"]
    finally:
        await gateway.stop()
