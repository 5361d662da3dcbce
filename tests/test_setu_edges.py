"""SETU-OHNL 2.0 at its edges: OINs written the Peppol way, durations, zones, rates."""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal
from pathlib import Path

import attrs
import pytest

from gateway.formats import EncodeContext, Format
from gateway.model import DocumentReference, Invoice, PartyId, TimeCard
from gateway.validation.engine import Validator
from gateway.validation.report import Severity
from plugins.setu_ohnl import samples
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.invoice import SetuInvoice20
from plugins.setu_ohnl.staffingorder import SetuStaffingOrder20
from plugins.setu_ohnl.timecard import SetuTimeCard20

TIMECARD = SetuTimeCard20()
INVOICE = SetuInvoice20()
STAFFING_ORDER = SetuStaffingOrder20()
OIN = "00000002003182447001"


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return Validator(installed_standards)


def _errors(validator: Validator, data: bytes, fmt: Format) -> list[str]:
    report = validator.validate(data, fmt.layers(), format_key=fmt.key)
    return [
        f"{f.layer} {f.rule}: {f.text}" for f in report.findings
        if f.severity in {Severity.FATAL, Severity.ERROR}
    ]


# -- TimeCard: valid documents the decoder cannot read ------------------------------------


def _sample_timecard_bytes() -> bytes:
    return TIMECARD.encode(samples.timecard(), EncodeContext())


def test_timecard_duration_as_xsd_duration_is_read_as_hours(validator: Validator) -> None:
    """TimeCardDuration is ``union(xsd:duration, xsd:decimal)``: PT8H is 8 hours."""
    data = _sample_timecard_bytes().replace(
        b"<Duration>8.00</Duration>", b"<Duration>PT8H</Duration>", 1)
    assert _errors(validator, data, TIMECARD) == []  # valid as sent by the agency
    decoded = TIMECARD.decode(data)
    assert isinstance(decoded.document, TimeCard)
    assert decoded.document.intervals[0].hours == Decimal(8)


def test_timecard_interval_without_duration_is_accepted(validator: Validator) -> None:
    """XSD: EndDateTime [Duration]? | Duration; the OHNL Schematron wants one of the two."""
    data = _sample_timecard_bytes().replace(
        b"<StartDateTime>2014-03-22T22:00:00</StartDateTime>\n"
        b"      <EndDateTime>2014-03-23T06:00:00</EndDateTime>\n"
        b"      <Duration>8.00</Duration>",
        b"<StartDateTime>2014-03-22T22:00:00</StartDateTime>\n"
        b"      <EndDateTime>2014-03-23T06:00:00</EndDateTime>", 1)
    assert b"<EndDateTime>2014-03-23T06:00:00</EndDateTime>\n      <RateOrAmount" in data
    assert _errors(validator, data, TIMECARD) == []  # valid as sent by the agency
    decoded = TIMECARD.decode(data)  # SetuDecodeError: Duration is required and missing
    assert isinstance(decoded.document, TimeCard)
    shift = next(i for i in decoded.document.intervals if i.type == "Shift")
    assert shift.hours == Decimal(8)  # 22:00 -> 06:00


def test_timecard_mixed_zone_moments_give_a_decode_error_not_a_traceback(
    validator: Validator,
) -> None:
    """A zoned start and an unzoned end are both valid AnyDateTimeType values."""
    data = _sample_timecard_bytes().replace(
        b"<StartDateTime>2014-03-22T22:00:00</StartDateTime>",
        b"<StartDateTime>2014-03-22T22:00:00+01:00</StartDateTime>", 1)
    assert _errors(validator, data, TIMECARD) == []
    # Read, or refused with a clear decode error: never a TypeError comparing the two.
    with contextlib.suppress(SetuDecodeError):
        TIMECARD.decode(data)


# -- StaffingOrder: canonical input encoded invalid -----------------------------------------


def test_staffing_order_with_rates_needs_inclusive_rate(validator: Validator) -> None:
    """StaffingOrder.sch: InclusiveRate is mandatory if Rates are included."""
    order = attrs.evolve(samples.staffing_order(), inclusive_rate=None)
    assert order.rates
    try:
        data = STAFFING_ORDER.encode(order, EncodeContext())
    except SetuEncodeError:
        return  # refusing it, naming the field, is a correct answer too
    assert _errors(validator, data, STAFFING_ORDER) == []


# -- Invoice: canonical input encoded invalid or lossy --------------------------------------


def test_invoice_line_rate_written_as_on_the_header(validator: Validator) -> None:
    """Invoice.sch: Line/Tax/PercentQuantity must equal a Header/Tax/PercentQuantity *text*.

    21 and 21.00 are the same canonical rate (one VAT subtotal); the writer
    copies each line's scale, so the line says 21.00 where the header says 21.
    """
    base = samples.invoice()
    lines = (
        attrs.evolve(base.lines[0], vat_rate=Decimal("21")),
        *base.lines[1:],  # vat_rate Decimal("21.00")
    )
    invoice = Invoice.build(
        lines=lines,
        **{f.name: getattr(base, f.name) for f in attrs.fields(Invoice)
           if f.name not in {"lines", "totals", "tax_breakdown"}},
    )
    assert len(invoice.tax_breakdown) == 1
    data = INVOICE.encode(invoice, EncodeContext())
    assert _errors(validator, data, INVOICE) == []


def test_invoice_with_two_billing_references_encodes_valid(validator: Validator) -> None:
    """Invoice.sch: DocumentReferences may contain InvoiceDocumentReference at most once."""
    credit = attrs.evolve(
        samples.credit_note(),
        billing_references=(DocumentReference(id="F-1"), DocumentReference(id="F-2")),
    )
    try:
        data = INVOICE.encode(credit, EncodeContext())
    except SetuEncodeError:
        return  # refusing what SETU cannot carry is the plugin's own convention
    assert _errors(validator, data, INVOICE) == []


@pytest.mark.parametrize("change", ["buyer-address", "seller-vat-id"])
def test_invoice_party_lacking_what_ohnl_requires_is_refused_or_valid(
    validator: Validator, change: str,
) -> None:
    """Invoice.sch: CustomerParty/BillToParty need Addresses; SupplierParty needs TaxId."""
    invoice = samples.invoice()
    if change == "buyer-address":
        invoice = attrs.evolve(invoice, buyer=attrs.evolve(invoice.buyer, address=None))
    else:
        invoice = attrs.evolve(invoice, seller=attrs.evolve(invoice.seller, vat_id=None))
    try:
        data = INVOICE.encode(invoice, EncodeContext())
    except SetuEncodeError:
        return
    assert _errors(validator, data, INVOICE) == []


def test_invoice_keeps_the_agency_oin_given_as_peppol_legal_id() -> None:
    """domain.md §4: the agency is addressed by OIN; SETU writes it as ``OIN@<oin>``.

    A canonical buyer as the Peppol and UBL-OHNL formats take it (OIN under
    0190 as legal id and electronic address) loses its OIN in SETU: PartyId/Id
    is written empty, and the Schematron does not notice.
    """
    invoice = samples.invoice()
    buyer = attrs.evolve(
        invoice.buyer, ids=(),
        legal_id=PartyId(scheme="0190", value=OIN), endpoint_id=PartyId(scheme="0190", value=OIN),
    )
    data = INVOICE.encode(attrs.evolve(invoice, buyer=buyer), EncodeContext())
    assert f"<Id>OIN@{OIN}</Id>".encode() in data


def test_invoice_writes_peppol_oin_scheme_as_setu_oin() -> None:
    """``PartyId("0190", oin)`` is the model's Peppol spelling of an OIN (common.py)."""
    invoice = samples.invoice()
    buyer = attrs.evolve(invoice.buyer, ids=(PartyId(scheme="0190", value=OIN),))
    data = INVOICE.encode(attrs.evolve(invoice, buyer=buyer), EncodeContext())
    assert re.search(rb"<Id>0190@", data) is None
    assert f"<Id>OIN@{OIN}</Id>".encode() in data
