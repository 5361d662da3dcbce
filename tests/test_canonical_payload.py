"""A document the ERP submits as canonical JSON is sent as exactly the text it submitted.

The canonical format hands on ``EncodeContext.source_json`` instead of writing
the document anew; without it (or for any other format) encoding is as before.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, registry_with_recorder

from gateway.formats import EncodeContext
from gateway.model.json import dumps, loads, to_json
from gateway.model.samples import example_credit_note, example_invoice, example_order
from gateway.store import TransportState


def unusual_text(data: dict[str, object]) -> bytes:
    """Key order, spacing and escapes that no re-serialisation would give back."""
    text = json.dumps(dict(reversed(list(data.items()))), indent=3, ensure_ascii=True)
    return (text.replace('"number": "', '"number":"') + "\n\n").encode()


async def test_the_sent_payload_is_the_text_the_erp_submitted(pipe: Pipeline) -> None:
    data = to_json(example_invoice())
    data["notes"] = ["€ 5, \u00e9\u00e9n regel"]
    body = unusual_text(data)
    record, created = await pipe.outbound.submit(body, agency_oin=AGENCY_OIN)
    assert created
    assert record.raw_payload == body
    assert record.canonical_json == body.decode()
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert sent.raw_payload == body
    [message] = pipe.recorder.calls
    assert message.payload == body


async def test_the_folder_channel_writes_the_submitted_text(
    pipe: Pipeline, tmp_path: Path,
) -> None:
    body = unusual_text(to_json(example_credit_note()))
    record, _ = await pipe.outbound.submit(body, agency_oin=AGENCY_OIN)
    sent = await pipe.until(record.id, {TransportState.SENT})
    assert sent.transport_id is not None
    assert (tmp_path / "out" / sent.transport_id).read_bytes() == body


async def test_left_out_fields_stay_left_out_and_read_back_the_same(pipe: Pipeline) -> None:
    # A line's net amount may be left out: the model computes it, the payload keeps
    # what the ERP wrote, and reading the payload computes it the same way again.
    data = to_json(example_invoice())
    lines = data["lines"]
    assert isinstance(lines, list)
    for line in lines:
        del line["net_amount"]
    body = json.dumps(data).encode()
    record, _ = await pipe.outbound.submit(body, agency_oin=AGENCY_OIN)
    assert record.raw_payload == body
    fmt = pipe.registry.format("canonical:invoice:1")
    assert fmt.decode(record.raw_payload).document == loads(body) == example_invoice()


async def test_a_submitted_mapping_is_sent_as_its_stored_text(pipe: Pipeline) -> None:
    data = to_json(example_invoice())
    record, _ = await pipe.outbound.submit(data, agency_oin=AGENCY_OIN)
    assert record.canonical_json == json.dumps(data, ensure_ascii=False)
    assert record.raw_payload == record.canonical_json.encode()


def test_without_source_text_the_canonical_format_writes_the_document() -> None:
    registry, _ = registry_with_recorder()
    fmt = registry.format("canonical:invoice:1")
    invoice = example_invoice()
    assert fmt.encode(invoice, EncodeContext()) == dumps(invoice).encode()
    assert fmt.encode(invoice, EncodeContext(source_json='{"x": 1}')) == b'{"x": 1}'


def test_the_source_text_does_not_change_the_kind_check() -> None:
    registry, _ = registry_with_recorder()
    fmt = registry.format("canonical:invoice:1")
    text = dumps(example_order())
    with pytest.raises(Exception, match="encodes invoice documents, not order"):
        fmt.encode(example_order(), EncodeContext(source_json=text))


def test_other_formats_ignore_the_source_text() -> None:
    registry, _ = registry_with_recorder()
    fmt = registry.format("peppol-bis:invoice:3.0")
    invoice = example_invoice()
    context = EncodeContext(agency_oin=AGENCY_OIN, agency_name="Naam Overheidsorganisatie")
    plain = fmt.encode(invoice, context)
    assert plain.lstrip().startswith(b"<")
    assert fmt.encode(invoice, attrs.evolve(context, source_json=dumps(invoice))) == plain
