"""Invoice formats at their edges: hostile numbers, several notes, invoiced-object references."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, Pipeline, document_json

from gateway.errors import GatewayError
from gateway.formats import Format
from gateway.model import DocumentReference
from gateway.pipeline.errors import DocumentRejected
from gateway.validation import validator_for
from plugins.ubl_invoice.formats import EN16931Invoice, NLCIUSInvoice, PeppolBISInvoice
from plugins.ubl_invoice.samples import minimal_invoice
from plugins.ubl_ohnl.invoice import OhnlInvoice19

HUGE = "9" * 40  # a valid xsd:decimal (UBL amounts have no totalDigits facet)


def _sample_bytes(fmt: Format) -> bytes:
    sample = fmt.samples()[0]
    return sample.data if sample.data is not None else fmt.encode(sample.document, sample.context)


def _setu_invoice_format() -> Format:
    from gateway.pluginmanager import build_registry, make_plugin_manager

    return build_registry(make_plugin_manager()).format("setu-ohnl:invoice:2.0")


def _decodes_or_refuses_cleanly(fmt: Format, data: bytes) -> None:
    """The Format.decode contract: a GatewayError for unreadable input, else a document."""
    try:
        fmt.decode(data)
    except GatewayError:
        pass
    except Exception as exc:  # a decimal.InvalidOperation, say
        pytest.fail(f"{fmt.key}: decode raised {type(exc).__name__}: {exc!r}")


# -- 1. hostile numbers: a GatewayError, not a bare decimal error ---------------------------


@pytest.mark.parametrize("make", [PeppolBISInvoice, NLCIUSInvoice, OhnlInvoice19],
                         ids=["peppol-bis", "nlcius", "ubl-ohnl-1.9"])
def test_decoding_a_huge_amount_raises_a_gateway_error(make: type[Format]) -> None:
    fmt = make()
    text = _sample_bytes(fmt).decode()
    hostile = re.sub(r'(<cbc:TaxableAmount currencyID="EUR">)[-0-9.]+(<)',
                     lambda m: m.group(1) + HUGE + m.group(2), text)
    assert hostile != text
    _decodes_or_refuses_cleanly(fmt, hostile.encode())


def test_decoding_a_huge_quantity_in_setu_invoice_raises_a_gateway_error() -> None:
    fmt = _setu_invoice_format()
    text = _sample_bytes(fmt).decode()
    hostile = re.sub(r'(<ItemQuantity[^>]*>)[-0-9.]+(<)',
                     lambda m: m.group(1) + HUGE + m.group(2), text, count=1)
    assert hostile != text
    _decodes_or_refuses_cleanly(fmt, hostile.encode())


# -- 2. Peppol BIS: several notes travel as one, as PEPPOL-EN16931-R002 allows ----------------


def test_peppol_invoice_with_two_notes_is_valid(installed_standards: Path) -> None:
    fmt = PeppolBISInvoice()
    invoice = attrs.evolve(minimal_invoice(), notes=("Eerste opmerking", "Tweede opmerking"))
    data = fmt.encode(invoice, fmt.sample_context())
    report = validator_for(installed_standards).validate(data, fmt.layers())
    assert report.valid, [str(f) for f in report.errors]  # PEPPOL-EN16931-R002


# -- 3. an invoiced-object reference (type 130) drops its description (UBL-CR-673) ----------


@pytest.mark.parametrize("make", [EN16931Invoice, PeppolBISInvoice, NLCIUSInvoice],
                         ids=["en16931", "peppol-bis", "nlcius"])
def test_invoiced_object_reference_with_description_is_valid(
    installed_standards: Path, make: type[EN16931Invoice],
) -> None:
    fmt = make()
    invoice = attrs.evolve(minimal_invoice(), other_references=(
        DocumentReference(id="TS-2024-11", type_code="130", description="Urenstaat"),))
    data = fmt.encode(invoice, fmt.sample_context())
    report = validator_for(installed_standards).validate(data, fmt.layers())
    assert report.valid, [str(f) for f in report.errors]  # UBL-CR-673 (fatal)


async def test_intake_rejects_an_amount_too_large_to_check_with_its_rule(pipe: Pipeline) -> None:
    from gateway.model.samples import example_invoice

    invoice = example_invoice()
    line = invoice.lines[0]
    line = attrs.evolve(line, quantity=attrs.evolve(line.quantity, value=Decimal(HUGE)))
    data = document_json(attrs.evolve(invoice, lines=(line, *invoice.lines[1:])))
    with pytest.raises(DocumentRejected) as refused:
        await pipe.outbound.submit(data, agency_oin=AGENCY_OIN)
    assert refused.value.rules == ("amount-range",)
    assert "too large to check the totals" in refused.value.reason


@pytest.mark.parametrize("number", ["1E+999999999", "1E-999999999", "1" * 42])
def test_canonical_json_refuses_a_number_no_writer_could_spell_out(number: str) -> None:
    """Every writer spells numbers out in full: an exponent of a billion is a gigabyte."""
    from gateway.model.json import CanonicalJSONError, dumps, loads
    from gateway.model.samples import example_order_response

    text = re.sub(r'("quantity": \{\s*"value": ")[0-9.]+(")', rf"\g<1>{number}\g<2>",
                  dumps(example_order_response()), count=1)
    assert number in text
    with pytest.raises(CanonicalJSONError,
                       match=r"^line_responses\[\d\]\.quantity\.value: the number .* out of range"):
        loads(text)
