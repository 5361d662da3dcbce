"""The shortcuts that make intake cheap give the same answers as the long way round.

Each shortcut skips work in the common case only: the body parsed once for
the API and the pipeline, indented JSON written without the standard
library's pure-Python encoder, the quick path of the model's field checks,
the OIN check remembered, and stages that open no span without an SDK.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_support import ERP, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN

from gateway.identifiers import OIN, InvalidIdentifier
from gateway.model import CanonicalDocument, Invoice, InvoiceType
from gateway.model.json import CanonicalJSONError, dumps, loads, to_json
from gateway.model.record import FieldTypeError, FieldValueError
from gateway.model.samples import example_documents, example_invoice
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


# -- the body parsed once ----------------------------------------------------------------


async def test_the_stored_json_is_the_body_as_sent_not_as_parsed(tmp_path: Path) -> None:
    # Odd spacing, escapes and key order: a re-serialised body would differ from it.
    document = json.loads(invoice_json())
    text = json.dumps(dict(reversed(list(document.items()))), indent=3, ensure_ascii=True)
    body = text.replace('"F2024-0001"', '"F2024\\u002d0001"').encode()
    async with running_gateway(tmp_path) as gateway:
        status, _, answer = await gateway.call("POST", SUBMIT, data=body, token=ERP)
        assert status == 202
        assert answer["business_key"].endswith(":invoice:F2024-0001")
        stored = await gateway.store.get(answer["id"])
        assert stored is not None
        assert stored.canonical_json == body.decode()


@pytest.mark.parametrize(("body", "problem"), [
    (b'{"document": "invoice", "document": "invoice"}', "duplicate key 'document'"),
    (b'{"document": "invoice", "x": NaN}', "NaN is not a number JSON allows"),
    (b'\xef\xbb\xbf{"document": "invoice"}', "not valid JSON: Unexpected UTF-8 BOM"),
])
async def test_json_that_only_the_pipeline_refuses_is_stored_as_rejected(
    tmp_path: Path, body: bytes, problem: str,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, answer = await gateway.call("POST", SUBMIT, data=body, token=ERP)
        assert status == 422, answer
        assert answer["stage"] == "intake"
        assert problem in answer["detail"]
        stored = await gateway.store.get(answer["message_id"])
        assert stored is not None
        assert stored.transport_state is TransportState.REJECTED
        assert stored.canonical_json == body.decode("utf-8")


async def test_a_body_in_another_unicode_encoding_is_judged_by_the_pipeline(
    tmp_path: Path,
) -> None:
    body = invoice_json().decode().encode("utf-16")
    async with running_gateway(tmp_path) as gateway:
        status, _, answer = await gateway.call("POST", SUBMIT, data=body, token=ERP)
        assert status == 422
        assert "not UTF-8 text" in answer["detail"]
        stored = await gateway.store.get(answer["message_id"])
        assert stored is not None
        assert stored.raw_payload == body


# -- indented JSON -----------------------------------------------------------------------


@pytest.mark.parametrize("document", example_documents(), ids=lambda d: type(d).__name__)
def test_dumps_writes_what_the_standard_library_writes(document: CanonicalDocument) -> None:
    data = to_json(document)
    assert dumps(document) == json.dumps(data, indent=2, ensure_ascii=False)
    assert dumps(document, indent=None) == json.dumps(data, ensure_ascii=False)
    assert dumps(document, indent=4) == json.dumps(data, indent=4, ensure_ascii=False)


def test_dumps_escapes_text_as_the_standard_library_does() -> None:
    awkward = ('quote " backslash \\ newline \n tab \t nul \x00 bell \x07',
               "line separator \u2028, € and 😀", "</script>")
    document = attrs.evolve(example_invoice(), notes=awkward, buyer_reference="x" * 500)
    text = dumps(document)
    assert text == json.dumps(to_json(document), indent=2, ensure_ascii=False)
    # No XML document can carry NUL or BEL: reading the text back names the first.
    with pytest.raises(CanonicalJSONError, match=r"^notes\[0\]: holds the control character "
                       r"U\+0000 at position 41"):
        loads(text)
    printable = attrs.evolve(document, notes=(awkward[0].replace("\x00", "").replace("\x07", ""),
                                              *awkward[1:]))
    assert loads(dumps(printable)) == printable


# -- quick field checks ------------------------------------------------------------------


def evolved(**changes: Any) -> Invoice:
    """The example invoice with ``changes``, typed loosely to try wrong types too."""
    return attrs.evolve(example_invoice(), **changes)


def test_the_quick_field_checks_still_refuse_what_the_full_ones_refuse() -> None:
    with pytest.raises(FieldValueError, match=r"Invoice\.number: must not be empty"):
        evolved(number="")
    with pytest.raises(FieldValueError, match=r"must be a finite number, got NaN"):
        evolved(tax_total_in_tax_currency=Decimal("NaN"))
    with pytest.raises(FieldTypeError, match=r"Invoice\.type: expected InvoiceType, got str"):
        evolved(type="debit")
    with pytest.raises(FieldTypeError, match=r"Invoice\.issue_date: expected a date, got"):
        evolved(issue_date=dt.datetime(2024, 1, 1, 12, 0))
    with pytest.raises(FieldTypeError, match=r"Invoice\.proposal: expected bool, got int"):
        evolved(proposal=1)
    with pytest.raises(FieldValueError, match=r"Invoice\.notes\[1\]: must not be empty"):
        evolved(notes=("fine", ""))
    with pytest.raises(FieldValueError, match=r"Invoice\.currency: expected an ISO 4217"):
        evolved(currency="eur")
    with pytest.raises(FieldTypeError, match=r"Invoice\.seller: a value is required"):
        evolved(seller=None)
    with pytest.raises(FieldValueError, match=r"Invoice\.lines: needs at least one item"):
        evolved(lines=())
    with pytest.raises(FieldTypeError, match=r"Invoice\.lines: expected a tuple, got list"):
        evolved(lines=list(example_invoice().lines))
    with pytest.raises(FieldTypeError, match=r"Invoice\.lines\[0\]: expected an InvoiceLine"):
        evolved(lines=("line",))
    line = example_invoice().lines[0]
    with pytest.raises(FieldValueError, match=r"vat_rate: must not be negative, got -0\.00"):
        attrs.evolve(line, vat_rate=Decimal("-0.00"))
    assert evolved(type=InvoiceType.CREDIT).type is InvoiceType.CREDIT


# -- the OIN check remembered ------------------------------------------------------------


def test_an_oin_is_checked_the_same_however_often() -> None:
    for _ in range(3):
        assert OIN(" 0000 0001 0032 1434 5000 ") == OIN("00000001003214345000")
        with pytest.raises(InvalidIdentifier, match=r"OIN '00000001003214346000'.*11-test"):
            OIN("00000001003214346000")
        with pytest.raises(InvalidIdentifier, match=r"OIN '0000000100321434500x'"):
            OIN("0000000100321434500x")


# -- stages without an SDK ---------------------------------------------------------------

# In a fresh interpreter: OpenTelemetry allows one SDK per process, and the
# telemetry tests install one in this one.
_WITHOUT_SDK = textwrap.dedent("""
    from opentelemetry import trace
    from gateway.instruments import current_traceparent, stage

    with stage("intake", kind="invoice", channel=None) as intake:
        assert not trace.get_current_span().is_recording()
        assert current_traceparent() is None
        intake.set(format="canonical:invoice:1")
        intake.note(message_id="x")
    assert intake.outcome == "ok"
    assert intake.attributes == {"kind": "invoice", "format": "canonical:invoice:1"}

    try:
        with stage("send") as sending:
            raise KeyError("boom")
    except KeyError:
        pass
    else:
        raise AssertionError("the exception was swallowed")
    assert sending.outcome == "error"

    try:
        with stage("validate") as validating:
            validating.outcome = "invalid"
            raise ValueError("bad")
    except ValueError:
        pass
    assert validating.outcome == "invalid"

    # An SDK installed later is used from the next stage on.
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    with stage("route", kind="invoice") as routing:
        assert trace.get_current_span().is_recording()
        routing.set(channel="recorder")
    [span] = exporter.get_finished_spans()
    assert span.name == "wissel.route"
    assert dict(span.attributes) == {
        "wissel.kind": "invoice", "wissel.channel": "recorder", "wissel.outcome": "ok"}
    print("checked")
""")


def test_a_stage_opens_no_span_until_an_sdk_is_installed() -> None:
    done = subprocess.run([sys.executable, "-c", _WITHOUT_SDK], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "checked"
