"""FACTUUR-HRXML: the SETU-OHNL 2.0 Invoice, an OAGIS 8 Invoice with HR-XML in its UserAreas.

The supplier invoices the hours of approved timecards against a staffing
order: the order number in
``Header/UserArea/StaffingAdditionalData/CustomerReportingRequirements/PurchaseOrderNumber``
(references at any other level are ignored by the EPV), per line the order
line in ``Line/UserArea/StaffingAdditionalData/.../PurchaseOrderLineItem`` and
the timecard as ``Line/UserArea/TimeCard/Id``. Decoding is here too, so that
simulators and tests can play the agency's side.

Mapping (canonical ← OAGIS/SETU):

- ``number`` ← ``DocumentIds/DocumentId/Id``; ``issue_date`` ←
  ``DocumentDateTime`` (the date part; written as ``T00:00:00Z``); ``type`` ←
  ``Type`` (Debit/Credit); ``type_code`` ← the header ``ReasonCode`` (SETU's
  ``hours``, ``services``, ...; written as ``hours`` when the invoice names
  timecards and no SETU code is given, ``services`` otherwise); ``notes`` ←
  ``Note``; ``due_date`` ← ``PaymentTerms/DueDate``, ``payment_terms`` ←
  ``PaymentTerms/Description``; ``billing_references`` ←
  ``DocumentReferences/InvoiceDocumentReference``;
- ``buyer`` ← ``CustomerParty`` (``BillToParty`` is written the same),
  ``seller`` ← ``SupplierParty``, ``payee`` ← ``RemitToParty`` when it differs
  from the seller. A party is ``PartyId/Id`` (``OIN@…``, ``KvK@…``; a value
  without a scheme is read under ``XXX`` and written back bare), ``Name``,
  ``TaxId`` (``vat_id``), the ``PrimaryAddress`` (``AddressLine`` as
  ``address_line``, ``City``, ``Country``, ``PostalCode``, ``Telephone`` as
  the contact's telephone) and the contact's ``FormattedName``;
- ``payment_means`` ← the supplier's ``StaffingOrganization/PaymentInfo``
  (IBAN and BIC; SETU has no payment means code, read as 58, SEPA credit
  transfer); ``StaffingOrganizationNL/ChamberofCommerceReference`` is written
  from the seller's KvK id;
- totals: ``TotalCharges`` is the amount without VAT, ``TotalTax`` the VAT and
  ``TotalAmount`` what is payable; the VAT breakdown is the header ``Tax``
  (``PercentQuantity`` with ``@uom`` BTW). SETU has no VAT category: a
  positive rate reads as S, a zero rate as Z, and encoding refuses others;
- ``order_reference`` ← ``PurchaseOrderNumber``, ``accounting_cost`` ←
  ``CostCenterCode``, ``project_reference`` ← ``ProjectCode``;
- each ``Line``: ``LineNumber``, ``Description`` (item name), the line total
  (``net_amount``), ``Tax`` (rate and VAT amount), ``Price`` (with
  ``PerQuantity`` as base quantity), ``ItemQuantity`` (``@uom`` kept as
  written, e.g. ``regular``), ``PurchaseOrderLineItem``, and of the embedded
  TimeCard its ``Id`` (``timecard_reference``) and reporting period
  (``period``). ``timecard_references`` are the distinct line timecards.

Does not survive a round trip: the embedded TimeCard beyond its id and
period (its hours travel in TIMECARD-HRXML; the decoder says so in one
warning per line and writes back a TimeCard with the id, an anonymous person
and the period, which the Schematron accepts); the header
``ReferenceInformation`` and ``AdditionalRequirement TotalHours`` (reported);
an address ``Description`` (PhysicalAddress/PostalAddress, reported);
``ReasonCode`` of the lines (written as ``invoicing``, as in every example).
Encoding refuses what it cannot carry: document-level allowances and charges,
prepaid amounts and rounding, VAT in a second currency, categories other than
S and Z, embedded attachments (not yet written), proposal invoices, line
allowances and charges, a line period without a timecard.
Left out when encoding (no SETU element): buyer, contract, tender, receipt,
despatch and other references, delivery, invoice period, tax point date,
item descriptions and ids, line notes, party e-mail addresses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.formats import Sample
from gateway.kinds import Direction, DocumentKind
from gateway.model import (
    Address,
    Contact,
    DocumentReference,
    Invoice,
    InvoiceLine,
    InvoiceTotals,
    InvoiceType,
    Item,
    OrderReference,
    Party,
    PartyId,
    PaymentMeans,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    TaxSubtotal,
    VatCategory,
)
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.format import SetuFormat
from plugins.setu_ohnl.messages import INVOICE
from plugins.setu_ohnl.references import read_version, write_version
from plugins.setu_ohnl.xmltools import (
    HR_NS,
    OA_NS,
    Element,
    SetuReader,
    add,
    as_date,
    format_number,
    format_when,
    hr,
    oa,
    opt,
    path_to,
)
from plugins.ubl import format_amount, path_of

OTHER_SCHEME = "XXX"
"""The canonical scheme of a PartyId written without ``scheme@``."""

LINE_REASON = "invoicing"
PHYSICAL = "PhysicalAddress"
"""The address Description OHNL requires; the examples write it for post boxes too."""
VAT_UOM = "BTW"
SEPA_CREDIT_TRANSFER = "58"
_TYPES = {"Debit": InvoiceType.DEBIT, "Credit": InvoiceType.CREDIT}
_REQUIREMENTS = "StaffingAdditionalData/CustomerReportingRequirements"


# -- writing ------------------------------------------------------------------------------


class InvoiceWriter:
    def __init__(self, invoice: Invoice) -> None:
        self.invoice = invoice

    def _refuse(self, field: str, why: str) -> SetuEncodeError:
        return SetuEncodeError(f"Invoice.{field}: {why}")

    def _check(self) -> None:
        inv = self.invoice
        if inv.proposal:
            raise self._refuse("proposal", "VOORSTEL-FACTUUR-HRXML is suspended in SETU-OHNL 2.0")
        if inv.allowance_charges:
            raise self._refuse("allowance_charges", "SETU-OHNL has no document allowances")
        if inv.totals.prepaid or inv.totals.rounding:
            raise self._refuse("totals", "SETU-OHNL has no prepaid or rounding amount")
        if inv.tax_currency is not None and inv.tax_currency != inv.currency:
            raise self._refuse("tax_currency", "SETU-OHNL states VAT in the invoice currency")
        if inv.attachments:
            raise self._refuse("attachments", "embedding attachments is not supported yet")
        if len(inv.billing_references) > 1:
            raise self._refuse(
                "billing_references", "SETU-OHNL carries one InvoiceDocumentReference")
        for role, party in (("buyer", inv.buyer), ("seller", inv.seller),
                            ("payee", inv.payee or inv.seller)):
            if party.address is None:
                raise self._refuse(f"{role}.address", "SETU-OHNL requires the party's address")
        if inv.seller.vat_id is None:
            raise self._refuse("seller.vat_id", "SETU-OHNL requires the supplier's TaxId")
        if len(inv.payment_means) > 1:
            raise self._refuse("payment_means", "SETU-OHNL carries one bank account")
        lines = {line.timecard_reference for line in inv.lines}
        missing = [ref for ref in inv.timecard_references if ref not in lines]
        if missing:
            raise self._refuse(
                "timecard_references",
                f"{', '.join(missing)} named by no line: SETU names timecards on lines only",
            )
        for index, subtotal in enumerate(inv.tax_breakdown):
            _category(subtotal.category, subtotal.rate, f"tax_breakdown[{index}]")
        for index, line in enumerate(inv.lines):
            field = f"lines[{index}]"
            if line.allowance_charges:
                raise self._refuse(f"{field}.allowance_charges", "SETU lines have none")
            if line.timecard_reference is not None and (
                line.period is None or line.period.start is None or line.period.end is None
            ):
                raise self._refuse(
                    f"{field}.period", "a line naming a timecard needs the timecard's period"
                )
            if line.period is not None and (line.period.start is None or line.period.end is None):
                raise self._refuse(f"{field}.period", "SETU needs both ends of the period")
            if line.period is not None and inv.order_reference is None:
                raise self._refuse(
                    "order_reference", "a SETU timecard on a line needs the order number"
                )
            _category(line.vat_category, line.vat_rate, f"{field}.vat_category")

    def write(self) -> Element:
        self._check()
        inv = self.invoice
        root = add_root()
        header = add(root, "Header")
        add(add(add(header, "DocumentIds"), "DocumentId"), "Id", inv.number)
        add(header, "DocumentDateTime", f"{inv.issue_date.isoformat()}T00:00:00Z")
        for note in inv.notes:
            add(header, "Note", note)
        if inv.billing_references:
            references = add(header, "DocumentReferences")
            for reference in inv.billing_references:
                invoice_ref = add(references, "InvoiceDocumentReference")
                add(add(add(invoice_ref, "DocumentIds"), "DocumentId"), "Id", reference.id)
        add(header, "ReasonCode", self._reason())
        self._money(header, "TotalAmount", inv.totals.payable)
        if inv.due_date is not None or inv.payment_terms is not None:
            terms = add(header, "PaymentTerms")
            if inv.payment_terms is not None:
                add(terms, "Description", inv.payment_terms.note)
            if inv.due_date is not None:
                add(terms, "DueDate", inv.due_date.isoformat())
        self._parties(add(header, "Parties"))
        add(header, "Type", "Credit" if inv.type is InvoiceType.CREDIT else "Debit")
        self._money(header, "TotalCharges", inv.totals.tax_exclusive)
        self._money(header, "TotalTax", inv.totals.tax_total)
        for subtotal in inv.tax_breakdown:
            self._tax(header, subtotal.tax_amount, subtotal.taxable_amount, subtotal.rate)
        self._user_area(add(header, "UserArea"))
        for line in inv.lines:
            self._line(root, line)
        return root

    def _reason(self) -> str:
        code = self.invoice.type_code
        if code and not code.isdigit():
            return code
        return "hours" if any(line.timecard_reference for line in self.invoice.lines) else (
            "services"
        )

    def _money(self, parent: Element, name: str, amount: Decimal) -> Element:
        return add(parent, name, format_amount(amount), currency=self.invoice.currency)

    def _tax(
        self, parent: Element, tax: Decimal | None, base: Decimal, rate: Decimal | None
    ) -> None:
        node = add(parent, "Tax")
        self._money(node, "TaxAmount", tax if tax is not None else Decimal("0.00"))
        self._money(node, "TaxBaseAmount", base)
        add(node, "PercentQuantity", format_number(rate or Decimal(0)), uom=VAT_UOM)

    def _parties(self, parties: Element) -> None:
        inv = self.invoice
        _party(parties, "CustomerParty", inv.buyer)
        _party(parties, "SupplierParty", inv.seller)
        _party(parties, "RemitToParty", inv.payee or inv.seller)
        _party(parties, "BillToParty", inv.buyer)

    def _user_area(self, area: Element) -> None:
        inv = self.invoice
        staffing = add(area, "StaffingAdditionalData", ns=HR_NS)
        requirements = add(staffing, "CustomerReportingRequirements")
        opt(requirements, "PurchaseOrderNumber",
            inv.order_reference.id if inv.order_reference else None)
        opt(requirements, "CostCenterCode", inv.accounting_cost)
        opt(requirements, "ProjectCode", inv.project_reference)
        write_version(requirements)
        account = next(iter(inv.payment_means), None)
        if account is not None and account.account_id is not None:
            organization = add(area, "StaffingOrganization", ns=HR_NS,
                               typeOfOrganization="Supplier")
            opt(add(organization, "Organization"), "OrganizationName", inv.seller.name)
            bank = add(add(add(organization, "PaymentInfo"), "BankAccountInfo"),
                       "BankInfoByJurisdiction", bankJurisdiction=account.account_id[:2])
            # BankWindow is required by HR-XML and means nothing for an IBAN: left empty,
            # as in the SETU-OHNL examples.
            opt(bank, "BankCode", account.bic)
            add(bank, "BankWindow")
            add(bank, "BankAccountNumber", account.account_id)
            add(bank, "BankAccountKey")
        nl = add(area, "StaffingOrganizationNL", ns=HR_NS)
        add(nl, "ChamberofCommerceReference", inv.seller.id_for("KvK") or "")

    def _line(self, root: Element, line: InvoiceLine) -> None:
        node = add(root, "Line")
        add(node, "LineNumber", line.id)
        add(node, "Description", line.item.name)
        add(node, "ReasonCode", LINE_REASON)
        self._money(add(add(node, "Charges"), "TotalCharge"), "Total", line.net_amount)
        if line.vat_amount is not None:
            # Invoice.sch compares the line's PercentQuantity with the header's as
            # text: write the header subtotal's rate (21 and 21.00 are one rate).
            rate = next((s.rate for s in self.invoice.tax_breakdown
                         if s.rate is not None and line.vat_rate is not None
                         and s.rate == line.vat_rate), line.vat_rate)
            self._tax(node, line.vat_amount, line.net_amount, rate)
        price = add(node, "Price")
        self._money(price, "Amount", line.price.amount)
        # The SETU schema requires PerQuantity; without a stated base quantity
        # the price is per one unit of the line's quantity (EN 16931's default).
        base = line.price.base_quantity or Quantity(value=Decimal(1),
                                                    unit_code=line.quantity.unit_code)
        add(price, "PerQuantity", format_number(base.value), uom=base.unit_code)
        add(node, "ItemQuantity", format_number(line.quantity.value), uom=line.quantity.unit_code)
        if line.period is None and line.order_line_reference is None:
            return
        area = add(node, "UserArea")
        if line.period is not None:
            assert self.invoice.order_reference is not None  # checked in _check
            _embedded_timecard(area, line, self.invoice.order_reference.id)
        if line.order_line_reference is not None:
            requirements = add(add(area, "StaffingAdditionalData", ns=HR_NS),
                               "CustomerReportingRequirements")
            add(requirements, "PurchaseOrderLineItem", line.order_line_reference)


def add_root() -> Element:
    return etree.Element(f"{{{OA_NS}}}Invoice", nsmap={None: OA_NS, "hr": HR_NS})


def _category(category: VatCategory, rate: Decimal | None, field: str) -> None:
    positive = rate is not None and rate > 0
    if (category is VatCategory.STANDARD and positive) or (
        category is VatCategory.ZERO_RATED and not positive
    ):
        return
    raise SetuEncodeError(
        f"Invoice.{field}: SETU-OHNL states only a VAT percentage, so it carries category S "
        f"(positive rate) or Z (0 %), not {category.value} at {rate}"
    )


def _party(parent: Element, name: str, party: Party) -> None:
    node = add(parent, name)
    ids = add(node, "PartyId")
    stated = _setu_ids(party)
    if not stated:
        add(ids, "Id", "")
    for party_id in stated:
        value = (
            party_id.value if party_id.scheme == OTHER_SCHEME
            else f"{party_id.scheme}@{party_id.value}"
        )
        add(ids, "Id", value)
    # OHNL requires a Name on every party, empty if need be (as in the EBF example).
    add(node, "Name", party.name or "")
    opt(node, "TaxId", party.vat_id)
    address = party.address
    telephone = party.contact.telephone if party.contact else None
    if address is not None:
        primary = add(add(node, "Addresses"), "PrimaryAddress")
        opt(primary, "AddressLine", address.address_line)
        opt(primary, "City", address.city)
        opt(primary, "Country", address.country_code)
        opt(primary, "PostalCode", address.postal_zone)
        add(primary, "Description", PHYSICAL)
        opt(primary, "Telephone", telephone)
    elif telephone is not None:
        raise SetuEncodeError(f"{name}: SETU keeps the telephone number with the address")
    contact_name = party.contact.name if party.contact else None
    if contact_name is not None:
        person = add(add(add(node, "Contacts"), "Contact"), "Person")
        add(add(person, "PersonName"), "FormattedName", contact_name)


_PEPPOL_SCHEMES = {"0190": "OIN", "0106": "KvK", "9944": "BTW"}


def _setu_ids(party: Party) -> list[PartyId]:
    """``party.ids``, then its legal id and electronic address, with SETU scheme names.

    domain.md §4: an agency is addressed by OIN, in SETU as ``OIN@<oin>``; the
    model spells a Peppol OIN ``0190`` and may hold it only as legal id or
    electronic address.
    """
    found: list[PartyId] = []
    for party_id in (*party.ids, party.legal_id, party.endpoint_id):
        if party_id is None:
            continue
        scheme = _PEPPOL_SCHEMES.get(party_id.scheme, party_id.scheme)
        if party_id not in party.ids and scheme == party_id.scheme:
            continue  # a legal id / address under a scheme SETU has no name for
        each = PartyId(scheme=scheme, value=party_id.value)
        if each not in found:
            found.append(each)
    return found


def _embedded_timecard(area: Element, line: InvoiceLine, order: str) -> None:
    """The line's timecard: its id, and one interval summing up the line.

    HR-XML requires a person and at least one interval in a TimeCard. The
    person stays anonymous (the timecard id names them for the agency); the
    interval states the line's quantity of its hour type over the period,
    which is what the line invoices. An empty id, as in the EBF example,
    says the line has a period but no timecard.
    """
    period = line.period
    if period is None or period.start is None or period.end is None:
        raise SetuEncodeError(f"Invoice line {line.id}: the timecard needs its period")
    card = add(area, "TimeCard", ns=HR_NS)
    add(add(card, "Id", idOwner="StaffingCustomer"), "IdValue", line.timecard_reference or "")
    add(add(card, "ReportedResource"), "Person")
    reported = add(card, "ReportedTime")
    add(reported, "PeriodStartDate", format_when(period.start))
    add(reported, "PeriodEndDate", format_when(period.end))
    interval = add(reported, "TimeInterval", type=line.quantity.unit_code, billable="true")
    add(interval, "StartDateTime", format_when(period.start))
    add(interval, "EndDateTime", format_when(period.end))
    add(interval, "Duration", format_number(line.quantity.value))
    # OHNL wants the order number or assignment id in every TimeCard.
    requirements = path_to(card, "AdditionalData/StaffingAdditionalData/"
                                 "CustomerReportingRequirements")
    add(requirements, "PurchaseOrderNumber", order)


# -- reading ------------------------------------------------------------------------------


class InvoiceReader:
    def __init__(self, root: Element) -> None:
        self.root = root
        self.r = SetuReader(root)
        self.warnings: list[str] = []

    def _required(self, node: Element, path: str) -> Element:
        found = self.r.first(node, oa(path))
        if found is None:
            raise SetuDecodeError(f"{path_of(node)}/{path} is required and missing")
        return found

    def _amount(self, node: Element, path: str) -> Decimal:
        value = self.r.decimal(self._required(node, path))
        if value is None:
            raise SetuDecodeError(f"{path_of(node)}/{path} is empty")
        return value

    def _currency(self, node: Element, path: str) -> str | None:
        found = self.r.first(node, oa(path))
        return self.r.attr(found, "currency") if found is not None else None

    def invoice(self) -> tuple[Invoice, list[str]]:
        header = self._required(self.root, "Header")
        currency = self._currency(header, "TotalAmount")
        if currency is None:
            raise SetuDecodeError("/Invoice/Header/TotalAmount/@currency is required and missing")
        self._mark_currencies(header)
        number = self.r.code(self._required(header, "DocumentIds/DocumentId/Id"))
        if number is None:
            raise SetuDecodeError("/Invoice/Header/DocumentIds/DocumentId/Id is empty")
        issued = self.r.when(self._required(header, "DocumentDateTime"))
        assert issued is not None
        type_text = self.r.code(self._required(header, "Type"))
        if type_text not in _TYPES:
            raise SetuDecodeError(f"/Invoice/Header/Type: {type_text!r} is not Debit or Credit")
        parties = self._required(header, "Parties")
        buyer = self._party(self._required(parties, "CustomerParty"))
        seller = self._party(self._required(parties, "SupplierParty"))
        payee = None
        remit = self.r.first(parties, oa("RemitToParty"))
        if remit is not None:
            remit_party = self._party(remit)
            payee = None if remit_party == seller else remit_party
        bill_to = self.r.first(parties, oa("BillToParty"))
        if bill_to is not None and self._party(bill_to) != buyer:
            self.warnings.append(
                "/Invoice/Header/Parties/BillToParty differs from CustomerParty; only the "
                "CustomerParty is mapped (as the buyer)"
            )
        area = self.r.first(header, oa("UserArea"))
        requirements = (
            self.r.first(area, hr(_REQUIREMENTS)) if area is not None else None
        )
        read_version(self.r, requirements)
        order = (
            self.r.code(requirements, hr("PurchaseOrderNumber"))
            if requirements is not None else None
        )
        lines = tuple(self._line(node) for node in self.r.all(self.root, oa("Line")))
        if not lines:
            raise SetuDecodeError("/Invoice/Line: an invoice needs at least one line")
        breakdown = tuple(self._subtotal(node) for node in self.r.all(header, oa("Tax")))
        timecards = tuple(dict.fromkeys(
            line.timecard_reference for line in lines if line.timecard_reference is not None
        ))
        terms = self.r.first(header, oa("PaymentTerms"))
        invoice = Invoice(
            number=number,
            issue_date=as_date(issued),
            type=_TYPES[type_text],
            type_code=self.r.code(header, oa("ReasonCode")),
            currency=currency,
            due_date=self._due_date(header),
            order_reference=OrderReference(id=order) if order else None,
            billing_references=tuple(
                DocumentReference(id=ref) for ref in self._billing_references(header)
            ),
            project_reference=(
                self.r.code(requirements, hr("ProjectCode")) if requirements is not None
                else None
            ),
            timecard_references=timecards,
            seller=seller,
            buyer=buyer,
            payee=payee,
            payment_means=self._payment_means(area, seller),
            payment_terms=self._terms(terms),
            notes=tuple(t for n in self.r.all(header, oa("Note")) if (t := self.r.text(n))),
            accounting_cost=(
                self.r.code(requirements, hr("CostCenterCode")) if requirements is not None
                else None
            ),
            lines=lines,
            tax_breakdown=breakdown,
            totals=InvoiceTotals(
                line_extension=sum((line.net_amount for line in lines), Decimal(0)),
                tax_exclusive=self._amount(header, "TotalCharges"),
                tax_total=self._amount(header, "TotalTax"),
                tax_inclusive=self._amount(header, "TotalAmount"),
                payable=self._amount(header, "TotalAmount"),
            ),
        )
        self._organization_nl(area, seller)
        return invoice, [*self.warnings, *self.r.unread()]

    def _mark_currencies(self, header: Element) -> None:
        """Every amount names its currency; the model has one for the whole invoice."""
        currencies = set()
        for node in self.root.iter():
            if isinstance(node.tag, str) and node.get("currency") is not None and (
                node.tag.startswith(f"{{{OA_NS}}}")
            ):
                currencies.add(self.r.attr(node, "currency"))
        if len(currencies) > 1:
            named = ", ".join(sorted(c for c in currencies if c))
            raise SetuDecodeError(
                f"{path_of(header)}: amounts in several currencies ({named}); "
                "the canonical invoice has one"
            )

    def _due_date(self, header: Element) -> dt.date | None:
        for terms in self.r.peek_all(header, oa("PaymentTerms")):
            due = self.r.when(terms, oa("DueDate"))
            if due is not None:
                self.r.mark(terms)
                return as_date(due)
        return None

    def _terms(self, terms: Element | None) -> PaymentTerms | None:
        if terms is None:
            return None
        note = self.r.text(terms, oa("Description"))
        return PaymentTerms(note=note) if note is not None else None

    def _billing_references(self, header: Element) -> list[str]:
        found = []
        for node in self.r.all(header, oa("DocumentReferences/InvoiceDocumentReference")):
            value = self.r.code(node, oa("DocumentIds/DocumentId/Id"))
            if value is not None:
                found.append(value)
        return found

    def _party(self, node: Element) -> Party:
        ids = []
        for id_node in self.r.all(node, oa("PartyId/Id")):
            value = self.r.code(id_node)
            if value is None:
                continue
            scheme, at, rest = value.partition("@")
            ids.append(
                PartyId(scheme=scheme, value=rest) if at and scheme and rest
                else PartyId(scheme=OTHER_SCHEME, value=value)
            )
        address = None
        telephone = None
        primary = self.r.first(node, oa("Addresses/PrimaryAddress"))
        if primary is not None:
            lines = self.r.all(primary, oa("AddressLine"))
            if len(lines) > 1:
                self.warnings.append(f"{path_of(primary)}: only the first AddressLine is mapped")
            address = Address(
                address_line=self.r.text(lines[0]) if lines else None,
                city=self.r.text(primary, oa("City")),
                country_code=self.r.code(primary, oa("Country")),
                postal_zone=self.r.code(primary, oa("PostalCode")),
            )
            telephone = self.r.code(primary, oa("Telephone"))
            if self.r.peek_text(primary, oa("Description")) == PHYSICAL:
                self.r.code(primary, oa("Description"))
            if address == Address():
                address = None
        name = self.r.text(node, oa("Contacts/Contact/Person/PersonName/FormattedName"))
        contact = (
            Contact(name=name, telephone=telephone)
            if name is not None or telephone is not None else None
        )
        return Party(
            name=self.r.text(node, oa("Name")),
            ids=tuple(ids),
            vat_id=self.r.code(node, oa("TaxId")),
            address=address,
            contact=contact,
        )

    def _payment_means(self, area: Element | None, seller: Party) -> tuple[PaymentMeans, ...]:
        if area is None:
            return ()
        organization = self.r.peek(area, hr("StaffingOrganization"))
        if organization is None:
            return ()
        self.r.attr(organization, "typeOfOrganization")
        name = self.r.peek_text(organization, hr("Organization/OrganizationName"))
        if name is None or name == seller.name:
            self.r.first(organization, hr("Organization/OrganizationName"))
        bank = self.r.first(
            organization, hr("PaymentInfo/BankAccountInfo/BankInfoByJurisdiction")
        )
        if bank is None:
            return ()
        self.r.attr(bank, "bankJurisdiction")
        for empty in ("BankWindow", "BankAccountKey"):
            found = self.r.peek(bank, hr(empty))
            if found is not None and not (found.text or "").strip() and len(found) == 0:
                self.r.mark(found)
        account = self.r.code(bank, hr("BankAccountNumber"))
        if account is None:
            return ()
        return (
            PaymentMeans(
                code=SEPA_CREDIT_TRANSFER, account_id=account,
                bic=self.r.code(bank, hr("BankCode")),
            ),
        )

    def _organization_nl(self, area: Element | None, seller: Party) -> None:
        if area is None:
            return
        reference = self.r.peek(area, hr("StaffingOrganizationNL/ChamberofCommerceReference"))
        if reference is None:
            return
        value = (reference.text or "").strip()
        if not value or value == seller.id_for("KvK"):
            self.r.mark(reference)

    def _subtotal(self, node: Element) -> TaxSubtotal:
        tax = self._amount(node, "TaxAmount")
        base = self._amount(node, "TaxBaseAmount")
        rate = self._rate(node)
        return TaxSubtotal(
            category=VatCategory.STANDARD if rate and rate > 0 else VatCategory.ZERO_RATED,
            rate=rate if rate is not None else Decimal(0),
            taxable_amount=base, tax_amount=tax,
        )

    def _rate(self, node: Element) -> Decimal | None:
        percent = self.r.first(node, oa("PercentQuantity"))
        if percent is None:
            return None
        uom = self.r.attr(percent, "uom")
        if uom not in {None, VAT_UOM}:
            self.warnings.append(f"{path_of(percent)}/@uom is {uom!r}, read as a VAT percentage")
        return self.r.decimal(percent)

    def _line(self, node: Element) -> InvoiceLine:
        number = self.r.code(self._required(node, "LineNumber"))
        if number is None:
            raise SetuDecodeError(f"{path_of(node)}/LineNumber is empty")
        description = self.r.text(node, oa("Description"))
        reason = self.r.peek_text(node, oa("ReasonCode"))
        if reason == LINE_REASON:
            self.r.code(node, oa("ReasonCode"))
        total = self._amount(node, "Charges/TotalCharge/Total")
        tax = self.r.first(node, oa("Tax"))
        vat_amount = rate = None
        if tax is not None:
            vat_amount = self._amount(tax, "TaxAmount")
            rate = self._rate(tax)
            base = self._amount(tax, "TaxBaseAmount")
            if base != total:
                self.warnings.append(
                    f"{path_of(tax)}/TaxBaseAmount ({base}) differs from the line total "
                    f"({total}); the line total is kept"
                )
        else:
            rate = self._header_rate()
        price_node = self.r.first(node, oa("Price"))
        price_amount = self._amount(price_node, "Amount") if price_node is not None else total
        base_quantity = None
        if price_node is not None:
            per = self.r.first(price_node, oa("PerQuantity"))
            if per is not None:
                per_value = self.r.decimal(per)
                per_unit = self.r.attr(per, "uom")
                if per_value is not None and per_unit is not None:
                    base_quantity = Quantity(value=per_value, unit_code=per_unit)
        quantity_node = self.r.first(node, oa("ItemQuantity"))
        quantity = (
            Quantity(
                value=self.r.decimal(quantity_node) or Decimal(0),
                unit_code=self.r.attr(quantity_node, "uom") or "regular",
            )
            if quantity_node is not None else Quantity(value=Decimal(1), unit_code="regular")
        )
        timecard_reference, period = self._embedded_timecard(node, quantity)
        self._line_order(node)
        return InvoiceLine(
            id=number,
            quantity=quantity,
            price=Price(amount=price_amount, base_quantity=base_quantity),
            net_amount=total,
            item=Item(name=description or timecard_reference or number),
            vat_category=VatCategory.STANDARD if rate and rate > 0 else VatCategory.ZERO_RATED,
            vat_rate=rate if rate is not None else Decimal(0),
            vat_amount=vat_amount,
            order_line_reference=self.r.code(node, oa("UserArea") + "/" + hr(
                _REQUIREMENTS + "/PurchaseOrderLineItem")),
            timecard_reference=timecard_reference,
            period=period,
        )

    def _line_order(self, line: Element) -> None:
        """A line's own PurchaseOrderNumber is ignored by the EPV; the same number is fine."""
        path = oa("UserArea") + "/" + hr(_REQUIREMENTS + "/PurchaseOrderNumber")
        header = self.r.peek_text(
            self.root, oa("Header/UserArea") + "/" + hr(_REQUIREMENTS + "/PurchaseOrderNumber")
        )
        if header is not None and self.r.peek_text(line, path) == header:
            self.r.code(line, path)

    def _header_rate(self) -> Decimal | None:
        rates = {
            self.r.peek_text(tax, oa("PercentQuantity"))
            for tax in self.r.peek_all(self.root, oa("Header/Tax"))
        }
        if len(rates) == 1:
            only = rates.pop()
            return Decimal(only) if only is not None else None
        raise SetuDecodeError(
            "/Invoice/Line: a line without Tax needs exactly one VAT rate in the header"
        )

    def _embedded_timecard(
        self, line: Element, quantity: Quantity
    ) -> tuple[str | None, Period | None]:
        card = self.r.peek(line, oa("UserArea") + "/" + hr("TimeCard"))
        if card is None:
            return None, None
        reference = self.r.id_value(card)
        start = self.r.when(card, hr("ReportedTime/PeriodStartDate"))
        end = self.r.when(card, hr("ReportedTime/PeriodEndDate"))
        period = None
        if start is not None or end is not None:
            period = Period(
                start=as_date(start) if start is not None else None,
                end=as_date(end) if end is not None else None,
            )
        if not _is_summary(card, quantity, period):
            self.warnings.append(
                f"{path_of(card)}: only the timecard id and period are mapped; its hours, "
                "person and references come with TIMECARD-HRXML"
            )
        self.r.mark_all(card)
        return reference, period


def _is_summary(card: Element, quantity: Quantity, period: Period | None) -> bool:
    """Whether ``card`` says no more than the line: what :func:`_embedded_timecard` writes."""
    if period is None or period.start is None or period.end is None:
        return False
    intervals = card.findall(hr("ReportedTime/TimeInterval"))
    if len(intervals) != 1:
        return False
    expected = {
        "StartDateTime": period.start.isoformat(), "EndDateTime": period.end.isoformat(),
        "Duration": format_number(quantity.value),
    }
    interval = intervals[0]
    found = {etree.QName(child).localname: (child.text or "").strip() for child in interval}
    if found != expected or interval.get("type") != quantity.unit_code:
        return False
    leaves = {
        etree.QName(node).localname for node in card.iter()
        if isinstance(node.tag, str) and len(node) == 0 and (node.text or "").strip()
    }
    return leaves <= {
        "IdValue", "PeriodStartDate", "PeriodEndDate", "PurchaseOrderNumber", *expected
    }


# -- the format ---------------------------------------------------------------------------


class SetuInvoice20(SetuFormat):
    key = "setu-ohnl:invoice:2.0"
    kind = DocumentKind.INVOICE
    # A credit note is an invoice of the credit type here: the standard has no
    # document of its own for one.
    also_kinds = frozenset({DocumentKind.CREDIT_NOTE})
    directions = frozenset({Direction.OUTBOUND, Direction.INBOUND})
    description = (
        "SETU (HR-XML)-OHNL 2.0 Invoice (FACTUUR-HRXML): OAGIS 8 Invoice with the SETU "
        "user area, referencing the staffing order, its lines and the timecards"
    )
    message = INVOICE
    model = Invoice
    noun = "invoices"
    subject = "the invoice"

    def write(self, document: Any) -> Element:
        return InvoiceWriter(document).write()

    def read(self, root: Element) -> tuple[Any, list[str]]:
        return InvoiceReader(root).invoice()

    def extra_warnings(self, document: Any) -> list[str]:
        # A foreign invoice is held as stated; where its sums disagree, say so.
        return [f"arithmetic {v.rule}: {v.message}" for v in document.arithmetic_errors()]

    def samples(self) -> Sequence[Sample]:
        from plugins.setu_ohnl.samples import invoice_samples

        return invoice_samples()
