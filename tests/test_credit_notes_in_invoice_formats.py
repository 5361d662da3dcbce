"""Credit notes to agencies on UBL-OHNL and SETU-OHNL, whose invoice carries them.

Neither standard has a credit note document: a credit note is an Invoice of
type C (UBL-OHNL) or Type Credit (SETU). A route for credit notes must be
able to name that invoice format, or a supplier cannot correct an invoice to
a Digipoort agency at all.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, make_config, make_pipeline, registry_with_recorder

from gateway.config.loader import check_against_registry
from gateway.model import Invoice
from gateway.model.samples import example_credit_note
from gateway.store import Store, TransportState
from gateway.validation.pool import ValidationPool
from plugins.setu_ohnl import samples as setu_samples


def setu_credit_note() -> Invoice:
    """SETU's sample credit note, for the agency of the pipeline's configuration."""
    note = setu_samples.credit_note()
    ids = tuple(attrs.evolve(i, value=AGENCY_OIN) if i.scheme == "OIN" else i
                for i in note.buyer.ids)
    return attrs.evolve(note, buyer=attrs.evolve(note.buyer, ids=ids))


@pytest.mark.parametrize(("credit_note", "fmt", "marker"), [
    (example_credit_note(), "ubl-ohnl:invoice:1.9", b">C</cbc:InvoiceTypeCode>"),
    (setu_credit_note(), "setu-ohnl:invoice:2.0", b">Credit<"),
])
async def test_a_credit_note_goes_out_in_the_agencys_invoice_format(
    store: Store, tmp_path: Path, installed_standards: Path,
    credit_note: Invoice, fmt: str, marker: bytes,
) -> None:
    with ValidationPool(installed_standards, workers=1) as pool:
        pipe = await make_pipeline(store, tmp_path, validator=pool, invoice_format=fmt,
                                   credit_note_format=fmt, credit_note_channel="recorder")
        record = await pipe.submit(credit_note)
        assert record.document_kind == "credit-note"
        assert record.format_key == fmt
        assert record.validation is not None
        assert record.validation["valid"], record.validation
        sent = await pipe.until(record.id, {TransportState.SENT})
    assert sent.raw_payload is not None
    assert marker in sent.raw_payload


def route_errors(tmp_path: Path, credit_note_format: str) -> list[str]:
    registry, _ = registry_with_recorder()
    config = make_config(tmp_path, credit_note_format=credit_note_format)
    return [str(e) for e in check_against_registry(config, registry.formats, registry.channels)]


def test_a_credit_note_route_may_name_an_invoice_format_that_carries_them(
    tmp_path: Path,
) -> None:
    assert route_errors(tmp_path, "ubl-ohnl:invoice:1.9") == []
    assert route_errors(tmp_path, "setu-ohnl:invoice:2.0") == []


def test_other_formats_are_still_refused_for_credit_notes(tmp_path: Path) -> None:
    [error] = route_errors(tmp_path, "ubl-ohnl:order:1.9")
    assert "is for order documents, not credit-note" in error
    # Peppol BIS has a CreditNote document of its own: its invoice format is not one.
    [error] = route_errors(tmp_path, "peppol-bis:invoice:3.0")
    assert "not credit-note" in error
    assert "ubl-ohnl:invoice:1.9" in error  # among the formats that fit
