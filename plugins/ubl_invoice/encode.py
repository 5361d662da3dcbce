"""Canonical invoice to UBL 2.1 Invoice or CreditNote, following the EN 16931 UBL binding.

Everything the canonical invoice holds is written where EN 16931 puts it.
Data EN 16931 has no business term for but the UBL schema can hold (a
building number, a line VAT amount, delivery terms, the issue date of an
order reference, ...) is written in its UBL place too: the EN 16931 rules
answer it with a warning (UBL-CR-...), never an error, and nothing the ERP
said is silently lost. What UBL cannot hold at all (OHNL and SETU
extensions, proposal invoices) is listed in ``plugins/ubl_invoice/README.md``.

Every element is written in its XSD sequence in the first place: where
Invoice and CreditNote differ (the document and line level, see the
sequences in :mod:`.documents`), the writer asks which one it writes. Sorting
the children afterwards cost a third of the encoding time.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
from decimal import Decimal

import attrs

from gateway.model import (
    Address,
    AllowanceCharge,
    Attachment,
    Contact,
    Delivery,
    DocumentReference,
    Invoice,
    InvoiceLine,
    Item,
    Party,
    PartyId,
    PaymentMeans,
    Period,
    Price,
    TaxSubtotal,
    VatCategory,
)
from plugins.ubl import format_amount, format_date, format_decimal
from plugins.ubl.text import Element, attribute, element, make_root, plain, sub, to_bytes
from plugins.ubl_invoice.documents import CREDIT_NOTE, INVOICE, UBLDocumentType
from plugins.ubl_invoice.schemes import endpoint_scheme, scheme_code

GACCOUNT_MEANS_ID = "GACCOUNT"
"""The PaymentMeans id the G-account extension reserves for the G-account (BR-GA-7)."""

REGULAR_MEANS_ID = "1"
"""Our id for the ordinary account next to the G-account (any other value would do)."""

PROJECT_REFERENCE_TYPE = "50"
"""UNCL 1001 "price/sales catalogue response": EN 16931 carries a credit note's project
reference (BT-11) as an additional document reference with this type code."""

TAX_SCHEME_OTHER = "TAX"
"""TaxScheme id under which the seller's tax registration id (BT-32) is written."""

INVOICED_OBJECT_TYPE = "130"
"""UNCL 1001 code of an invoiced object identifier (BT-18), which EN 16931 gives no description."""


@attrs.frozen
class GAccountSplit:
    """How a G-account invoice splits the amount due over two accounts."""

    iban: str
    amount: Decimal  # the part paid into the G-account; the rest goes to the ordinary account


@attrs.frozen
class WriteOptions:
    """What differs between the formats that write the same UBL."""

    customization_id: str
    profile_id: str | None = None
    gaccount: GAccountSplit | None = None


def write_invoice(invoice: Invoice, options: WriteOptions) -> bytes:
    """``invoice`` as UBL 2.1 bytes: an Invoice, or a CreditNote for a credit note."""
    return to_bytes(_Writer(invoice, options).document())


def address_lines(address: Address) -> tuple[str | None, str | None]:
    """The StreetName and Postbox to write for ``address``.

    EN 16931 has one street line (BT-35) and no house number, so the number
    and its addition join the street, the way Dutch addresses are written
    ("Hoofdstraat 12A", "Hoofdstraat 12-3"). A postbox stands in for the
    street when there is none; with both, the postbox keeps its own element.
    """
    number = address.building_number
    if number and address.building_addition:
        addition = address.building_addition
        joiner = "" if len(addition) == 1 and addition.isalpha() else "-"
        number = f"{number}{joiner}{addition}"
    street = " ".join(part for part in (address.street, number) if part) or None
    if street is None and address.postbox:
        return f"Postbus {address.postbox}", None
    return street, address.postbox


class _Writer:
    def __init__(self, invoice: Invoice, options: WriteOptions) -> None:
        self.invoice = invoice
        self.options = options
        self.doc: UBLDocumentType = CREDIT_NOTE if invoice.is_credit else INVOICE
        self.currency = invoice.currency

    # -- helpers ---------------------------------------------------------------

    def amount(self, parent: Element, name: str, value: Decimal | None,
               currency: str | None = None) -> None:
        if value is not None:
            plain(parent, name, format_amount(value),
                  attribute("currencyID", currency or self.currency))

    def date(self, parent: Element, name: str, value: dt.date | None) -> None:
        if value is not None:
            plain(parent, name, format_date(value))

    # -- the document ------------------------------------------------------------

    def document(self) -> Element:
        inv, doc = self.invoice, self.doc
        root = make_root(doc.root)
        sub(root, "cbc:CustomizationID", self.options.customization_id)
        sub(root, "cbc:ProfileID", self.options.profile_id)
        sub(root, "cbc:ID", inv.number)
        self.date(root, "cbc:IssueDate", inv.issue_date)
        if doc.is_credit_note:
            # No DueDate on a credit note, and its TaxPointDate precedes the type code.
            self.date(root, "cbc:TaxPointDate", inv.tax_point_date)
        else:
            self.date(root, "cbc:DueDate", inv.due_date)
        type_code = inv.type_code if inv.type_code and inv.type_code.isdigit() else None
        sub(root, doc.type_code, type_code or doc.default_type_code)
        for note in inv.notes:
            sub(root, "cbc:Note", note)
        if not doc.is_credit_note:
            self.date(root, "cbc:TaxPointDate", inv.tax_point_date)
        sub(root, "cbc:DocumentCurrencyCode", inv.currency)
        sub(root, "cbc:TaxCurrencyCode", inv.tax_currency)
        sub(root, "cbc:AccountingCost", inv.accounting_cost)
        sub(root, "cbc:BuyerReference", inv.buyer_reference)
        if inv.invoice_period is not None:
            self.period(root, "cac:InvoicePeriod", inv.invoice_period)
        if inv.order_reference is not None:
            ref = element(root, "cac:OrderReference")
            sub(ref, "cbc:ID", inv.order_reference.id)
            sub(ref, "cbc:SalesOrderID", inv.order_reference.sales_order_id)
            self.date(ref, "cbc:IssueDate", inv.order_reference.issue_date)
        for billing in inv.billing_references:
            self.document_reference(
                element(root, "cac:BillingReference"), "cac:InvoiceDocumentReference", billing
            )
        for despatch in inv.despatch_references:
            sub(element(root, "cac:DespatchDocumentReference"), "cbc:ID", despatch)
        if inv.receipt_reference is not None:
            sub(element(root, "cac:ReceiptDocumentReference"), "cbc:ID", inv.receipt_reference)
        if inv.tender_reference is not None and not doc.is_credit_note:
            sub(element(root, "cac:OriginatorDocumentReference"), "cbc:ID",
                inv.tender_reference)
        if inv.contract_reference is not None:
            sub(element(root, "cac:ContractDocumentReference"), "cbc:ID",
                inv.contract_reference)
        for reference in inv.other_references:
            self.document_reference(root, "cac:AdditionalDocumentReference", reference)
        for index, attachment in enumerate(inv.attachments, start=1):
            self.attachment_reference(root, attachment, index)
        if inv.project_reference is not None:
            if doc.is_credit_note:
                ref = element(root, "cac:AdditionalDocumentReference")
                sub(ref, "cbc:ID", inv.project_reference)
                sub(ref, "cbc:DocumentTypeCode", PROJECT_REFERENCE_TYPE)
            else:
                sub(element(root, "cac:ProjectReference"), "cbc:ID", inv.project_reference)
        if inv.tender_reference is not None and doc.is_credit_note:
            # A credit note has its originator reference after the additional ones.
            sub(element(root, "cac:OriginatorDocumentReference"), "cbc:ID",
                inv.tender_reference)
        self.party(element(root, "cac:AccountingSupplierParty"), "cac:Party", inv.seller,
                   legal_name=True)
        self.party(element(root, "cac:AccountingCustomerParty"), "cac:Party", inv.buyer,
                   legal_name=True)
        if inv.payee is not None:
            self.party(root, "cac:PayeeParty", inv.payee)
        if inv.tax_representative is not None:
            self.party(root, "cac:TaxRepresentativeParty", inv.tax_representative)
        if inv.delivery is not None:
            self.delivery(root, inv.delivery)
        self.payment(root)
        for charge in inv.allowance_charges:
            self.allowance_charge(root, charge)
        self.tax_totals(root)
        self.monetary_total(root)
        for line in inv.lines:
            self.line(root, line)
        return root

    # -- references --------------------------------------------------------------

    def document_reference(
        self, parent: Element, name: str, reference: DocumentReference
    ) -> None:
        ref = element(parent, name)
        sub(ref, "cbc:ID", reference.id)
        self.date(ref, "cbc:IssueDate", reference.issue_date)
        sub(ref, "cbc:DocumentTypeCode", reference.type_code)
        if reference.type_code != INVOICED_OBJECT_TYPE or name != "cac:AdditionalDocumentReference":
            # An invoiced object identifier (BT-18) has no description in EN 16931:
            # UBL-CR-673 refuses one (fatal), so it is left out.
            sub(ref, "cbc:DocumentDescription", reference.description)
        if reference.attachment is not None:
            self.attachment(ref, reference.attachment, with_description=True)

    def attachment_reference(
        self, parent: Element, attachment: Attachment, index: int
    ) -> None:
        # A file that travels with the invoice is a supporting document whose
        # id is its file name (or address): the decoder tells it apart from a
        # referenced document that way.
        ref = element(parent, "cac:AdditionalDocumentReference")
        sub(ref, "cbc:ID", attachment.filename or attachment.uri or f"attachment-{index}")
        sub(ref, "cbc:DocumentDescription", attachment.description)
        self.attachment(ref, attachment, with_description=False)

    def attachment(
        self, parent: Element, attachment: Attachment, *, with_description: bool
    ) -> None:
        node = element(parent, "cac:Attachment")
        if attachment.content is not None:
            sub(
                node, "cbc:EmbeddedDocumentBinaryObject",
                base64.b64encode(attachment.content).decode("ascii"),
                mimeCode=attachment.mime_type, filename=attachment.filename,
            )
        description = attachment.description if with_description else None
        if attachment.uri is not None or description is not None or (
            attachment.content is None and (attachment.mime_type or attachment.filename)
        ):
            external = element(node, "cac:ExternalReference")
            sub(external, "cbc:URI", attachment.uri)
            if attachment.content is None:
                sub(external, "cbc:MimeCode", attachment.mime_type)
                sub(external, "cbc:FileName", attachment.filename)
            sub(external, "cbc:Description", description)

    # -- parties -----------------------------------------------------------------

    def party(
        self, parent: Element, name: str, party: Party, *, legal_name: bool = False
    ) -> None:
        parent.append(_party_prototype(name, party, legal_name))

    # -- delivery and payment --------------------------------------------------------

    def period(self, parent: Element, name: str, period: Period) -> None:
        node = element(parent, name)
        self.date(node, "cbc:StartDate", period.start)
        self.date(node, "cbc:EndDate", period.end)
        sub(node, "cbc:DescriptionCode", period.description_code)

    def delivery(self, parent: Element, delivery: Delivery) -> None:
        node = element(parent, "cac:Delivery")
        self.date(node, "cbc:ActualDeliveryDate", delivery.date)
        if delivery.location_id is not None or delivery.address is not None:
            location = element(node, "cac:DeliveryLocation")
            if delivery.location_id is not None:
                _write_party_id(location, "cbc:ID", delivery.location_id)
            if delivery.address is not None:
                _write_address(location, "cac:Address", delivery.address)
        if delivery.period is not None:
            # EN 16931 has no delivery period on an invoice (the invoice period
            # is BG-14); the promised period is the one its rules leave alone.
            self.period(node, "cac:PromisedDeliveryPeriod", delivery.period)
        if delivery.party_name is not None or delivery.contact is not None:
            party = element(node, "cac:DeliveryParty")
            if delivery.party_name is not None:
                sub(element(party, "cac:PartyName"), "cbc:Name", delivery.party_name)
            if delivery.contact is not None:
                _write_contact(party, delivery.contact)
        terms = delivery.terms
        if terms is not None and (terms.code or terms.description or terms.location):
            node_terms = element(node, "cac:DeliveryTerms")
            sub(node_terms, "cbc:ID", terms.code)
            sub(node_terms, "cbc:SpecialTerms", terms.description)
            if terms.location is not None:
                sub(element(node_terms, "cac:DeliveryLocation"), "cbc:ID", terms.location)

    def payment(self, parent: Element) -> None:
        inv = self.invoice
        split = self.options.gaccount
        means = list(inv.payment_means)
        for index, item in enumerate(means):
            # A credit note has no DueDate of its own; EN 16931 puts BT-9 on
            # the first payment means.
            due = inv.due_date if self.doc.is_credit_note and index == 0 else None
            self.payment_means(parent, item, due, REGULAR_MEANS_ID if split else None)
        if split is not None:
            regular = means[0]
            gaccount = PaymentMeans(code=regular.code, account_id=split.iban,
                                    payment_id=regular.payment_id)
            self.payment_means(parent, gaccount, None, GACCOUNT_MEANS_ID)
            payable = inv.totals.payable
            terms = element(parent, "cac:PaymentTerms")
            sub(terms, "cbc:PaymentMeansID", REGULAR_MEANS_ID)
            if inv.payment_terms is not None:
                sub(terms, "cbc:Note", inv.payment_terms.note)
            self.amount(terms, "cbc:Amount", payable - split.amount)
            terms = element(parent, "cac:PaymentTerms")
            sub(terms, "cbc:PaymentMeansID", GACCOUNT_MEANS_ID)
            self.amount(terms, "cbc:Amount", split.amount)
        elif inv.payment_terms is not None:
            sub(element(parent, "cac:PaymentTerms"), "cbc:Note", inv.payment_terms.note)

    def payment_means(
        self, parent: Element, means: PaymentMeans, due: dt.date | None,
        means_id: str | None,
    ) -> None:
        node = element(parent, "cac:PaymentMeans")
        sub(node, "cbc:ID", means_id)
        sub(node, "cbc:PaymentMeansCode", means.code, name=means.text)
        self.date(node, "cbc:PaymentDueDate", due)
        sub(node, "cbc:PaymentID", means.payment_id)
        if means.account_id or means.account_name or means.bic:
            account = element(node, "cac:PayeeFinancialAccount")
            sub(account, "cbc:ID", means.account_id)
            sub(account, "cbc:Name", means.account_name)
            if means.bic is not None:
                sub(element(account, "cac:FinancialInstitutionBranch"), "cbc:ID", means.bic)
        if means.mandate_reference or means.debited_account:
            mandate = element(node, "cac:PaymentMandate")
            sub(mandate, "cbc:ID", means.mandate_reference)
            if means.debited_account is not None:
                sub(element(mandate, "cac:PayerFinancialAccount"), "cbc:ID",
                    means.debited_account)

    # -- amounts -------------------------------------------------------------------

    def tax_category(
        self, parent: Element, name: str, category: VatCategory, rate: Decimal | None,
        exemption_code: str | None = None, exemption_reason: str | None = None,
    ) -> None:
        percent = format_decimal(rate) if rate is not None else None
        parent.append(_tax_category_prototype(
            name, category.value, percent, exemption_code, exemption_reason))

    def allowance_charge(self, parent: Element, charge: AllowanceCharge) -> None:
        node = element(parent, "cac:AllowanceCharge")
        plain(node, "cbc:ChargeIndicator", "true" if charge.is_charge else "false")
        sub(node, "cbc:AllowanceChargeReasonCode", charge.reason_code)
        sub(node, "cbc:AllowanceChargeReason", charge.reason)
        if charge.percentage is not None:
            plain(node, "cbc:MultiplierFactorNumeric", format_decimal(charge.percentage))
        self.amount(node, "cbc:Amount", charge.amount)
        self.amount(node, "cbc:BaseAmount", charge.base_amount)
        if charge.vat_category is not None:
            self.tax_category(node, "cac:TaxCategory", charge.vat_category, charge.vat_rate)

    def tax_totals(self, parent: Element) -> None:
        inv = self.invoice
        total = element(parent, "cac:TaxTotal")
        self.amount(total, "cbc:TaxAmount", inv.totals.tax_total)
        for subtotal in inv.tax_breakdown:
            self.tax_subtotal(total, subtotal)
        # BT-111, the VAT total in accounting currency, is a TaxTotal of its own.
        if inv.tax_currency is not None and inv.tax_total_in_tax_currency is not None:
            self.amount(element(parent, "cac:TaxTotal"), "cbc:TaxAmount",
                        inv.tax_total_in_tax_currency, inv.tax_currency)

    def tax_subtotal(self, parent: Element, subtotal: TaxSubtotal) -> None:
        node = element(parent, "cac:TaxSubtotal")
        self.amount(node, "cbc:TaxableAmount", subtotal.taxable_amount)
        self.amount(node, "cbc:TaxAmount", subtotal.tax_amount)
        self.tax_category(
            node, "cac:TaxCategory", subtotal.category, subtotal.rate,
            subtotal.exemption_reason_code, subtotal.exemption_reason,
        )

    def monetary_total(self, parent: Element) -> None:
        totals = self.invoice.totals
        node = element(parent, "cac:LegalMonetaryTotal")
        self.amount(node, "cbc:LineExtensionAmount", totals.line_extension)
        self.amount(node, "cbc:TaxExclusiveAmount", totals.tax_exclusive)
        self.amount(node, "cbc:TaxInclusiveAmount", totals.tax_inclusive)
        self.amount(node, "cbc:AllowanceTotalAmount", totals.allowance_total)
        self.amount(node, "cbc:ChargeTotalAmount", totals.charge_total)
        self.amount(node, "cbc:PrepaidAmount", totals.prepaid)
        self.amount(node, "cbc:PayableRoundingAmount", totals.rounding)
        self.amount(node, "cbc:PayableAmount", totals.payable)

    # -- lines ---------------------------------------------------------------------

    def line(self, parent: Element, line: InvoiceLine) -> None:
        node = element(parent, self.doc.line)
        sub(node, "cbc:ID", line.id)
        for note in line.notes:
            sub(node, "cbc:Note", note)
        plain(node, self.doc.quantity, format_decimal(line.quantity.value),
              attribute("unitCode", line.quantity.unit_code))
        self.amount(node, "cbc:LineExtensionAmount", line.net_amount)
        sub(node, "cbc:AccountingCost", line.accounting_cost)
        if line.period is not None:
            self.period(node, "cac:InvoicePeriod", line.period)
        if line.order_line_reference is not None:
            sub(element(node, "cac:OrderLineReference"), "cbc:LineID",
                line.order_line_reference)
        # On a credit note line the TaxTotal comes before the allowances and charges.
        credit_note = self.doc.is_credit_note
        if line.vat_amount is not None and credit_note:
            self.amount(element(node, "cac:TaxTotal"), "cbc:TaxAmount", line.vat_amount)
        for charge in line.allowance_charges:
            self.allowance_charge(node, charge)
        if line.vat_amount is not None and not credit_note:
            self.amount(element(node, "cac:TaxTotal"), "cbc:TaxAmount", line.vat_amount)
        self.item(node, line)
        self.price(node, line.price)

    def item(self, parent: Element, line: InvoiceLine) -> None:
        item: Item = line.item
        node = element(parent, "cac:Item")
        sub(node, "cbc:Description", item.description)
        sub(node, "cbc:Name", item.name)
        if item.buyer_item_id is not None:
            sub(element(node, "cac:BuyersItemIdentification"), "cbc:ID", item.buyer_item_id)
        if item.seller_item_id is not None:
            sub(element(node, "cac:SellersItemIdentification"), "cbc:ID", item.seller_item_id)
        if item.standard_item_id is not None:
            sub(element(node, "cac:StandardItemIdentification"), "cbc:ID",
                item.standard_item_id.value, schemeID=item.standard_item_id.scheme)
        if item.origin_country is not None:
            sub(element(node, "cac:OriginCountry"), "cbc:IdentificationCode",
                item.origin_country)
        for classification in item.classifications:
            sub(element(node, "cac:CommodityClassification"), "cbc:ItemClassificationCode",
                classification.code, listID=classification.list_id,
                listVersionID=classification.list_version)
        self.tax_category(node, "cac:ClassifiedTaxCategory", line.vat_category, line.vat_rate)
        for prop in item.properties:
            node_prop = element(node, "cac:AdditionalItemProperty")
            sub(node_prop, "cbc:Name", prop.name)
            sub(node_prop, "cbc:Value", prop.value)

    def price(self, parent: Element, price: Price) -> None:
        node = element(parent, "cac:Price")
        plain(node, "cbc:PriceAmount", format_decimal(price.amount),
              attribute("currencyID", self.currency))
        if price.base_quantity is not None:
            plain(node, "cbc:BaseQuantity", format_decimal(price.base_quantity.value),
                  attribute("unitCode", price.base_quantity.unit_code))
        discount = price.discount
        if discount is None and price.gross_amount is not None:
            # The price discount is mandatory next to a gross price in UBL, and
            # EN 16931 defines the net price as gross minus discount.
            discount = price.gross_amount - price.amount
        if discount is not None:
            charge = element(node, "cac:AllowanceCharge")
            plain(charge, "cbc:ChargeIndicator", "false")
            plain(charge, "cbc:Amount", format_decimal(discount),
                  attribute("currencyID", self.currency))
            if price.gross_amount is not None:
                plain(charge, "cbc:BaseAmount", format_decimal(price.gross_amount),
                      attribute("currencyID", self.currency))


# -- subtrees built once ---------------------------------------------------------------
#
# The seller is the same on every invoice, the buyer on every invoice to one
# agency, and a few VAT categories recur on every line. Those subtrees are
# built once, shared by every document that has them, and written as text
# once per depth (see plugins.ubl.text). The keys are immutable model values
# and text as written (a rate by its text: 21 and 21.00 are equal Decimals,
# but not the same text).

_PROTOTYPES = 128
"""How many parties, and how many tax categories, are kept."""


@functools.lru_cache(maxsize=_PROTOTYPES)
def _party_prototype(name: str, party: Party, legal_name: bool) -> Element:
    node = Element(name)
    _write_party(node, party, legal_name=legal_name)
    return node.shared()


@functools.lru_cache(maxsize=_PROTOTYPES)
def _tax_category_prototype(
    name: str, category: str, percent: str | None, exemption_code: str | None,
    exemption_reason: str | None,
) -> Element:
    node = Element(name)
    sub(node, "cbc:ID", category)
    sub(node, "cbc:Percent", percent)
    sub(node, "cbc:TaxExemptionReasonCode", exemption_code)
    sub(node, "cbc:TaxExemptionReason", exemption_reason)
    sub(element(node, "cac:TaxScheme"), "cbc:ID", "VAT")
    return node.shared()


def _write_party_id(parent: Element, name: str, party_id: PartyId) -> None:
    sub(parent, name, party_id.value, schemeID=scheme_code(party_id.scheme))


def _write_party(node: Element, party: Party, *, legal_name: bool = False) -> None:
    if party.endpoint_id is not None:
        sub(node, "cbc:EndpointID", party.endpoint_id.value,
            schemeID=endpoint_scheme(party.endpoint_id.scheme))
    for party_id in party.ids:
        _write_party_id(element(node, "cac:PartyIdentification"), "cbc:ID", party_id)
    if party.name is not None:
        sub(element(node, "cac:PartyName"), "cbc:Name", party.name)
    if party.address is not None:
        _write_address(node, "cac:PostalAddress", party.address)
    if party.vat_id is not None:
        scheme = element(node, "cac:PartyTaxScheme")
        sub(scheme, "cbc:CompanyID", party.vat_id)
        sub(element(scheme, "cac:TaxScheme"), "cbc:ID", "VAT")
    if party.tax_registration_id is not None:
        scheme = element(node, "cac:PartyTaxScheme")
        sub(scheme, "cbc:CompanyID", party.tax_registration_id)
        sub(element(scheme, "cac:TaxScheme"), "cbc:ID", TAX_SCHEME_OTHER)
    # Seller and buyer name (BT-27, BT-44) are mandatory and live in the
    # legal entity; a party known by one name only gets it in both places.
    registration_name = party.registration_name or (party.name if legal_name else None)
    if registration_name or party.legal_id or party.legal_form:
        legal = element(node, "cac:PartyLegalEntity")
        sub(legal, "cbc:RegistrationName", registration_name)
        if party.legal_id is not None:
            _write_party_id(legal, "cbc:CompanyID", party.legal_id)
        sub(legal, "cbc:CompanyLegalForm", party.legal_form)
    if party.contact is not None:
        _write_contact(node, party.contact)


def _write_contact(parent: Element, contact: Contact) -> None:
    if contact.name or contact.telephone or contact.email:
        node = element(parent, "cac:Contact")
        sub(node, "cbc:Name", contact.name)
        sub(node, "cbc:Telephone", contact.telephone)
        sub(node, "cbc:ElectronicMail", contact.email)


def _write_address(parent: Element, name: str, address: Address) -> None:
    street, postbox = address_lines(address)
    node = element(parent, name)
    sub(node, "cbc:Postbox", postbox)
    sub(node, "cbc:StreetName", street)
    sub(node, "cbc:AdditionalStreetName", address.additional_street)
    sub(node, "cbc:CityName", address.city)
    sub(node, "cbc:PostalZone", address.postal_zone)
    sub(node, "cbc:CountrySubentity", address.country_subdivision)
    if address.address_line is not None:
        sub(element(node, "cac:AddressLine"), "cbc:Line", address.address_line)
    if address.country_code is not None:
        sub(element(node, "cac:Country"), "cbc:IdentificationCode", address.country_code)
