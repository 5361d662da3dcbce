"""The simulators' sample documents tell one story with examples/gateway.toml.

`make run` starts the gateway on the example configuration beside the
Digipoort and Peppol simulators, which send their formats' samples. The
Peppol simulator's orders came from the agency the example routes over
Digipoort, so its Peppol agency (RVO) never received one; the SETU samples
came from an agency the directory lacks, and the timecard named another order
than the staffing order, so its hours could not be invoiced against it.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline_support import document_json

from gateway.channels import InboundDocument
from gateway.config import load_config
from gateway.formats import Format
from gateway.kinds import Direction
from gateway.model import StaffingOrder, TimeCard, kind_of
from gateway.pipeline import InboundPipeline, OutboundPipeline
from gateway.pipeline.keys import agency_party, party_oin
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.routing import route
from gateway.store import Store, TransportState
from gateway.validation.pool import ValidationPool
from plugins.digipoort.simulator.deliveries import SAMPLES

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
REGISTRY = build_registry(make_plugin_manager())
PEPPOL_ORDERS = "peppol-bis:order:3"


def _documents(fmt: Format) -> list[object]:
    return [sample.document for sample in fmt.samples()]


def _routed_over(document: object) -> tuple[str, str, str]:
    """The channel type and format the example routes ``document``'s kind by, for its agency."""
    oin = party_oin(agency_party(document))  # type: ignore[arg-type]
    assert oin is not None, document
    decision = route(load_config(EXAMPLE), oin, kind_of(document))  # type: ignore[arg-type]
    return oin, decision.channel_type, decision.format


def test_the_peppol_simulators_orders_come_from_an_agency_routed_over_peppol() -> None:
    for document in _documents(REGISTRY.format(PEPPOL_ORDERS)):
        oin, channel_type, format_key = _routed_over(document)
        assert (channel_type, format_key) == ("peppol", PEPPOL_ORDERS), oin


def test_the_digipoort_simulators_samples_come_from_agencies_routed_over_digipoort() -> None:
    for berichtsoort, key in SAMPLES.values():
        document = REGISTRY.format(key).samples()[0].document
        oin, channel_type, format_key = _routed_over(document)
        assert (channel_type, format_key) == ("digipoort", key), (berichtsoort, oin)


def test_the_sample_timecards_belong_to_the_sample_staffing_order() -> None:
    order = REGISTRY.format("setu-ohnl:staffing-order:2.0").samples()[0].document
    assert isinstance(order, StaffingOrder)
    assert order.start_date is not None
    assert order.end_date is not None
    for card in _documents(REGISTRY.format("setu-ohnl:timecard:2.0")):
        assert isinstance(card, TimeCard)
        assert card.order_reference == order.order_id, card.id
        assert card.customer == order.customer, card.id
        assert card.supplier == order.supplier, card.id
        assert card.period.start is not None
        assert card.period.end is not None
        assert order.start_date <= card.period.start <= card.period.end <= order.end_date
    for answer in _documents(REGISTRY.format("setu-ohnl:human-resource:2.0")):
        assert answer.order_reference == order.order_id  # type: ignore[attr-defined]


async def test_the_sample_invoice_bills_the_sample_timecard_at_the_example_agency(
    store: Store, installed_standards: Path,
) -> None:
    """As the README's walk-through has it: the staffing order and its timecard arrive,
    and the ERP's invoice for the hours passes the agency's checks, set to refuse."""
    config = load_config(EXAMPLE)
    inbound = InboundPipeline(store, REGISTRY)
    for berichtsoort, key in SAMPLES.values():
        fmt = REGISTRY.format(key)
        sample = fmt.samples()[0]
        data = sample.data or fmt.encode(sample.document, sample.context)
        received = await store.get(await inbound.receive(InboundDocument(
            data=data, channel="digipoort", transport_id=berichtsoort)))
        assert received is not None
        assert received.transport_state is TransportState.DECODED, received

    invoice = REGISTRY.format("setu-ohnl:invoice:2.0").samples()[0].document
    oin = party_oin(agency_party(invoice))
    assert oin is not None
    agency = config.agency(oin)
    assert agency is not None
    # The example refuses an invoice naming an order or timecard the agency never sent.
    assert (agency.unreceived_orders.value, agency.unreceived_timecards.value) == (
        "refuse", "refuse")
    with ValidationPool(installed_standards, workers=1) as pool:
        outbound = OutboundPipeline(store, lambda: config, REGISTRY, pool)
        record, created = await outbound.submit(document_json(invoice), agency_oin=oin)
    assert created
    assert record.direction is Direction.OUTBOUND
    assert record.transport_state is TransportState.QUEUED, record
    assert record.format_key == "setu-ohnl:invoice:2.0"
    assert record.channel == "digipoort"


def test_the_erp_payload_of_the_setu_invoice_is_the_sample_invoice() -> None:
    """The README's walk-through sends it after the Digipoort simulator's staffing order
    and timecard: it must stay the invoice the SETU samples vouch for."""
    invoice = REGISTRY.format("setu-ohnl:invoice:2.0").samples()[0].document
    payload = ROOT / "examples" / "erp-payloads" / "setu-invoice.json"
    assert json.loads(payload.read_bytes()) == json.loads(document_json(invoice)), (
        f"{payload} is stale: write plugins.setu_ohnl.samples.invoice() there with "
        "gateway.model.json.dumps")
