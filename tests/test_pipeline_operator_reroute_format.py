"""A reroute to another format encodes the message as intake would for its agency and route.

The route's settings (a G-account and its share), our supplier number at the
agency and our supplier identity come from the configuration, as at intake;
the new payload passes the new format's validation layers before it may
leave, and a format that cannot encode the message leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pipeline_support import AGENCY_OIN, Pipeline, config_text, make_pipeline

from gateway.channels import FinalError, RetryableError
from gateway.config import GatewayConfig, parse_config
from gateway.model.samples import example_invoice
from gateway.pipeline import OperatorActionError, OutboundPipeline
from gateway.pipeline.operator import reroute
from gateway.store import Store, TransportState
from gateway.validation.pool import ValidationPool
from plugins.peppol.channel import instance_id_for

GACCOUNT = "nlcius-gaccount:invoice:1.0"
CANONICAL = "canonical:invoice:1"
IBAN = "NL20INGB0001234567"


def gaccount_config(tmp_path: Path) -> GatewayConfig:
    """Invoices to AGENCY_OIN go out with the G-account extension, its account on the route."""
    route = f'[agencies."{AGENCY_OIN}".documents.invoice]\nformat = "{GACCOUNT}"\n'
    text = config_text(tmp_path, invoice_format=GACCOUNT, supplier_number="LEV-0042")
    assert route in text
    text = text.replace(route, route + f'gaccount_iban = "{IBAN}"\ngaccount_percentage = 30\n')
    return parse_config(text, tmp_path / "gateway.toml")


@pytest.fixture
def pool(installed_standards: Path) -> Iterator[ValidationPool]:
    with ValidationPool(installed_standards, workers=1) as started:
        yield started


async def gaccount_pipeline(store: Store, tmp_path: Path, pool: ValidationPool) -> Pipeline:
    pipe = await make_pipeline(store, tmp_path, validator=pool)
    pipe.config = config = gaccount_config(tmp_path)
    pipe.outbound = OutboundPipeline(store, lambda: config, pipe.registry, pool)
    return pipe


async def test_a_reroute_back_to_the_routes_format_encodes_what_intake_sent(
    store: Store, tmp_path: Path, pool: ValidationPool,
) -> None:
    """The G-account lives on the route: re-encoded without it, the invoice was refused."""
    pipe = await gaccount_pipeline(store, tmp_path, pool)
    pipe.recorder.script = [FinalError("agency down"), FinalError("agency down")]
    record = await pipe.submit(example_invoice())
    assert record.format_key == GACCOUNT
    assert record.raw_payload is not None
    assert IBAN.encode() in record.raw_payload
    await pipe.until(record.id, {TransportState.FAILED})

    await reroute(store, pipe.registry, pool, record.id, actor="fatima", config=pipe.config,
                  format_key=CANONICAL, reason="agency reads JSON for now")
    await pipe.until(record.id, {TransportState.FAILED})
    queued = await reroute(store, pipe.registry, pool, record.id, actor="fatima",
                           config=pipe.config, format_key=GACCOUNT, reason="back to UBL")

    assert queued.format_key == GACCOUNT
    assert queued.raw_payload == record.raw_payload
    assert queued.validation is not None
    layers = [layer.name for layer in pipe.registry.format(GACCOUNT).layers()]
    assert (queued.validation["format"], queued.validation["valid"],
            queued.validation["layers"]) == (GACCOUNT, True, layers)
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert pipe.recorder.calls[-1].payload == record.raw_payload
    assert sent.raw_payload == record.raw_payload


async def test_a_format_that_cannot_encode_the_message_leaves_it_as_it_was(
    store: Store, tmp_path: Path, pool: ValidationPool,
) -> None:
    """A route without a G-account: the encoder's refusal is the operator's answer."""
    pipe = await make_pipeline(store, tmp_path, validator=pool)
    pipe.recorder.script = [FinalError("agency down")]
    record = await pipe.submit(example_invoice())
    failed = await pipe.until(record.id, {TransportState.FAILED})
    with pytest.raises(OperatorActionError,
                       match=rf"{GACCOUNT} cannot encode message {record.id}: .*gaccount_iban"):
        await reroute(store, pipe.registry, pool, record.id, actor="fatima",
                      config=pipe.config, format_key=GACCOUNT)
    unchanged = await store.get(record.id)
    assert unchanged == failed
    assert await store.audit_log() == []


async def test_a_new_format_on_the_same_channel_is_not_a_repeat_of_the_old_transmission(
    store: Store, tmp_path: Path, pool: ValidationPool,
) -> None:
    """The access point took the document but its answer timed out: under the kept id the
    re-encoded one would be taken for a repeat, and the agency would keep the old one."""
    pipe = await gaccount_pipeline(store, tmp_path, pool)
    pipe.recorder.script = [RetryableError("timed out", transport_id="T-OLD")]
    record = await pipe.submit(example_invoice())
    retrying = await pipe.until(record.id, {TransportState.RETRYING})
    assert retrying.transport_id == "T-OLD"
    queued = await reroute(store, pipe.registry, pool, record.id, actor="fatima",
                           config=pipe.config, format_key=CANONICAL, reason="JSON for now")
    assert (queued.channel, queued.transport_id) == (retrying.channel, None)
    await pipe.until(record.id, {TransportState.SENT})
    sent = pipe.recorder.calls[-1]
    assert sent.payload != retrying.raw_payload
    assert sent.transport_id is None


def test_a_peppol_transmission_id_is_the_same_for_the_same_document_only() -> None:
    first = instance_id_for("01M8KSPF3R25W6S3NPDX56TZQK", b"<Invoice>1</Invoice>")
    assert first == instance_id_for("01M8KSPF3R25W6S3NPDX56TZQK", b"<Invoice>1</Invoice>")
    assert first != instance_id_for("01M8KSPF3R25W6S3NPDX56TZQK", b"<Invoice>2</Invoice>")
    assert first != instance_id_for("01M8KSPF3R25W6S3NPDX56TZQL", b"<Invoice>1</Invoice>")
