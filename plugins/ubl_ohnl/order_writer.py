"""Writing a canonical order as a UBL-OHNL Order (BESTELLING-UBL), in XSD order.

Agencies send orders; the gateway writes them only for the agency
simulators and the round-trip tests, so the encoder refuses what the OHNL
rules forbid instead of repairing it. What it refuses and leaves out is
listed in :mod:`plugins.ubl_ohnl.order`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from decimal import Decimal

from gateway.formats import EncodeContext
from gateway.model import (
    AllowanceCharge,
    AnticipatedTotals,
    Attachment,
    Delivery,
    DocumentReference,
    Order,
    OrderLine,
    Period,
    Quantity,
    QuotationLine,
    TaxSubtotal,
)
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.errors import OhnlEncodeError
from plugins.ubl_ohnl.parties import add_address, add_contact, add_party

__all__ = [
    "DOCUMENT", "OrderWriter", "add_allowance_charge", "add_attachment", "add_delivery",
    "add_item", "add_period", "add_price", "add_tax_total", "add_totals", "check_unit",
]
from plugins.ubl_ohnl.tax import add_tax_category
from plugins.ubl_ohnl.versions import PROFILE_ID, UBL_VERSION, OhnlVersion
from plugins.ubl_ohnl.xmltools import (
    Element,
    add,
    add_amount,
    add_date,
    add_indicator,
    add_text,
    decimal_text,
    root_element,
)

DOCUMENT = "Order"
MAX_NOTES = 1
"""``count(cbc:Note) <= 1`` on the Order (both releases)."""


def check_unit(quantity: Quantity, role: str) -> None:
    if quantity.unit_code not in codes.UNITS:
        raise OhnlEncodeError(
            f"{role}: unit {quantity.unit_code!r} is not in the UBL-OHNL unit list"
        )


def add_period(parent: Element, tag: str, period: Period, role: str, *, end: bool) -> None:
    """Append a PeriodType; ``end`` says the rules require its EndDate."""
    if end and period.end is None:
        raise OhnlEncodeError(f"{role}.end: UBL-OHNL requires the end date of this period")
    element = add(parent, tag)
    add_date(element, "cbc:StartDate", period.start)
    add_date(element, "cbc:EndDate", period.end)
    if period.description_code is not None:
        raise OhnlEncodeError(
            f"{role}.description_code: UBL-OHNL orders carry no period description code"
        )


def add_delivery(
    parent: Element, delivery: Delivery | None, role: str, *,
    period_tag: str = "cac:RequestedDeliveryPeriod", party_required: bool = False,
) -> None:
    """Append ``cac:Delivery``; the Order needs one even when the lines hold the data.

    ``period_tag`` is the requested (order, request) or promised (quotation)
    period; ``party_required`` says the rules require a DeliveryParty.
    """
    element = add(parent, "cac:Delivery")
    if delivery is None:
        return
    if delivery.date is not None:
        raise OhnlEncodeError(
            f"{role}.date: UBL-OHNL states delivery as a period with an end date "
            f"({period_tag[4:]}); give the delivery period instead"
        )
    if delivery.location_id is not None or delivery.terms is not None:
        raise OhnlEncodeError(
            f"{role}: UBL-OHNL orders carry no delivery location id or delivery terms "
            "in the mapping of this gateway; leave location_id and terms empty"
        )
    if delivery.address is not None:
        add_address(element, "cac:DeliveryAddress", delivery.address, f"{role}.address")
    if delivery.period is not None:
        add_period(element, period_tag, delivery.period, f"{role}.period", end=True)
    if party_required and delivery.party_name is None:
        raise OhnlEncodeError(
            f"{role}.party_name: UBL-OHNL requires the delivery party (with its name) here"
        )
    if delivery.party_name is not None or delivery.contact is not None:
        if delivery.party_name is None:
            raise OhnlEncodeError(
                f"{role}.party_name: UBL-OHNL requires the name of the delivery party "
                "beside its contact"
            )
        party = add(element, "cac:DeliveryParty")
        add(add(party, "cac:PartyName"), "cbc:Name", delivery.party_name)
        if delivery.contact is not None:
            add_contact(party, delivery.contact, f"{role}.contact")


def add_allowance_charge(parent: Element, ac: AllowanceCharge, currency: str) -> None:
    element = add(parent, "cac:AllowanceCharge")
    add_indicator(element, "cbc:ChargeIndicator", ac.is_charge)
    add_text(element, "cbc:AllowanceChargeReason", ac.reason)
    add_amount(element, "cbc:Amount", ac.amount, currency)


def add_reference(parent: Element, tag: str, reference: DocumentReference) -> None:
    element = add(parent, tag)
    add(element, "cbc:ID", reference.id)
    add_date(element, "cbc:IssueDate", reference.issue_date)
    add_text(element, "cbc:DocumentType", reference.type_code)


def add_typed_references(
    parent: Element, references: Sequence[DocumentReference], role: str,
) -> None:
    """Line references of a quotation or its request: UBL-OHNL wants each one's DocumentType."""
    for i, reference in enumerate(references):
        if reference.type_code is None:
            raise OhnlEncodeError(
                f"{role}.references[{i}].type_code: UBL-OHNL requires the DocumentType"
            )
        add_reference(parent, "cac:DocumentReference", reference)


def add_attachment(parent: Element, attachment: Attachment, index: int) -> None:
    """An AdditionalDocumentReference with the file embedded (base64, ``@mimeCode``)."""
    element = add(parent, "cac:AdditionalDocumentReference")
    add(element, "cbc:ID", attachment.filename or f"bijlage-{index + 1}")
    add_text(element, "cbc:DocumentType", attachment.description)
    holder = add(element, "cac:Attachment")
    if attachment.content is not None:
        assert attachment.mime_type is not None
        attributes = {"mimeCode": attachment.mime_type}
        if attachment.filename is not None:
            attributes["filename"] = attachment.filename
        add(holder, "cbc:EmbeddedDocumentBinaryObject",
            base64.b64encode(attachment.content).decode("ascii"), attributes)
    if attachment.uri is not None:
        add(add(holder, "cac:ExternalReference"), "cbc:URI", attachment.uri)


class OrderWriter:
    """Writes one order; :meth:`order` returns the root element."""

    def __init__(self, version: OhnlVersion, order: Order, context: EncodeContext) -> None:
        self.version = version
        self.order_ = order
        self.context = context
        self.currency = order.currency

    def order(self) -> Element:
        o = self.order_
        self.check()
        root = root_element(DOCUMENT)
        add(root, "cbc:UBLVersionID", UBL_VERSION)
        add(root, "cbc:CustomizationID", self.version.customization_id)
        add(root, "cbc:ProfileID", PROFILE_ID)
        add(root, "cbc:ID", o.number)
        add_date(root, "cbc:IssueDate", o.issue_date)
        if o.issue_time is not None:
            add(root, "cbc:IssueTime", o.issue_time.isoformat())
        for note in o.notes:
            add(root, "cbc:Note", note)
        add(root, "cbc:DocumentCurrencyCode", o.currency, codes.CURRENCY_CODE_LIST)
        add_text(root, "cbc:AccountingCostCode", o.accounting_cost)
        if o.validity_period is not None:
            add_period(root, "cac:ValidityPeriod", o.validity_period,
                       "Order.validity_period", end=False)
        if o.quotation_reference is not None:
            add(add(root, "cac:QuotationDocumentReference"), "cbc:ID", o.quotation_reference)
        for reference in o.other_references:
            add_reference(root, "cac:AdditionalDocumentReference", reference)
        for i, attachment in enumerate(o.attachments):
            add_attachment(root, attachment, i)
        if o.contract_reference is not None:
            add(add(root, "cac:Contract"), "cbc:ID", o.contract_reference)
        buyer = add(root, "cac:BuyerCustomerParty")
        add_text(buyer, "cbc:CustomerAssignedAccountID", o.customer_reference)
        add_party(buyer, o.buyer, "Order.buyer", registration_address=False)
        add_party(add(root, "cac:SellerSupplierParty"), o.seller, "Order.seller",
                  registration_address=False)
        if o.invoicee is not None:
            add_party(add(root, "cac:AccountingCustomerParty"), o.invoicee, "Order.invoicee",
                      registration_address=False)
        add_delivery(root, o.delivery, "Order.delivery")
        if o.payment_terms is not None:
            add(add(root, "cac:TransactionConditions"), "cbc:Description",
                o.payment_terms.note)
        for ac in o.allowance_charges:
            add_allowance_charge(root, ac, self.currency)
        self.tax_total(root)
        self.totals(root)
        for i, line in enumerate(o.lines):
            self.line(root, line, f"Order.lines[{i}]")
        return root

    def check(self) -> None:
        o = self.order_
        if len(o.notes) > MAX_NOTES:
            raise OhnlEncodeError(
                f"Order.notes: UBL-OHNL allows at most {MAX_NOTES} note on an order, "
                f"got {len(o.notes)}"
            )
        if o.buyer.contact is None:
            raise OhnlEncodeError(
                "Order.buyer.contact: UBL-OHNL requires the buyer's contact (with a name)"
            )
        for field, value in (("buyer_reference", o.buyer_reference),
                             ("project_reference", o.project_reference),
                             ("order_type", o.order_type)):
            if value is not None:
                raise OhnlEncodeError(
                    f"Order.{field}: a UBL-OHNL order has no element for it; leave it empty"
                )
        # Delivery address and requested period: on the header or on every line,
        # never mixed (OHNL Schematron).
        for what, field in (("delivery address", "address"),
                            ("requested delivery period", "period")):
            on_header = o.delivery is not None and getattr(o.delivery, field) is not None
            lines = [line.delivery is not None and getattr(line.delivery, field) is not None
                     for line in o.lines]
            if on_header and any(lines):
                raise OhnlEncodeError(
                    f"Order: the {what} is on the header and on lines; UBL-OHNL wants it "
                    "on the header or on every line, never both"
                )
            if not on_header and not all(lines):
                raise OhnlEncodeError(
                    f"Order: the {what} is missing on the header and on some lines; "
                    "UBL-OHNL wants it on the header or on every line"
                )
        costs = [line.accounting_cost is not None for line in o.lines]
        if o.accounting_cost is not None and any(costs):
            raise OhnlEncodeError(
                "Order: the accounting cost (cost centre) is on the header and on lines; "
                "UBL-OHNL wants it on the header or on every line, never both"
            )
        if o.accounting_cost is None and any(costs) and not all(costs):
            raise OhnlEncodeError(
                "Order: the accounting cost (cost centre) is on some lines only; UBL-OHNL "
                "wants it on the header or on every line"
            )
        contacts = all(
            line.delivery is not None and line.delivery.contact is not None for line in o.lines
        )
        if not contacts and o.seller.contact is None:
            raise OhnlEncodeError(
                "Order.seller.contact: UBL-OHNL requires the seller's contact unless every "
                "line names a delivery contact"
            )

    def tax_total(self, root: Element) -> None:
        add_tax_total(root, self.order_.tax_breakdown, self.currency, "Order.tax_breakdown")

    def totals(self, root: Element) -> None:
        add_totals(root, "cac:AnticipatedMonetaryTotal", self.order_.totals, self.currency,
                   "Order.totals", breakdown=self.order_.tax_breakdown)

    def line(self, root: Element, line: OrderLine, role: str) -> None:
        if line.price is None:
            raise OhnlEncodeError(f"{role}.price: UBL-OHNL requires a price on every line")
        if len(line.notes) > 1:
            raise OhnlEncodeError(f"{role}.notes: a UBL-OHNL order line has at most one note")
        if line.item.seller_item_id is None:
            raise OhnlEncodeError(
                f"{role}.item.seller_item_id: UBL-OHNL requires the seller's item "
                "identification on every order line"
            )
        if line.partial_delivery_allowed is not None:
            raise OhnlEncodeError(
                f"{role}.partial_delivery_allowed: not carried on a UBL-OHNL order; "
                "leave it empty"
            )
        check_unit(line.quantity, f"{role}.quantity")
        element = add(add(root, "cac:OrderLine"), "cac:LineItem")
        add(element, "cbc:ID", line.id)
        for note in line.notes:
            add(element, "cbc:Note", note)
        add(element, "cbc:Quantity", decimal_text(line.quantity.value),
            {"unitCode": line.quantity.unit_code})
        add_amount(element, "cbc:LineExtensionAmount", line.line_amount, self.currency)
        add_amount(element, "cbc:TotalTaxAmount", line.vat_amount, self.currency)
        if line.accounting_cost is not None or self.order_.accounting_cost is None:
            # The rule counts elements: with no cost centre anywhere, the DigiInkoop
            # scenario order puts an empty AccountingCostCode on every line, and so do we.
            add(element, "cbc:AccountingCostCode", line.accounting_cost)
        if line.delivery is not None:
            add_delivery(element, line.delivery, f"{role}.delivery")
        for ac in line.allowance_charges:
            add_allowance_charge(element, ac, self.currency)
        add_price(element, line, self.currency, role)
        add_item(element, line, role)


def add_price(parent: Element, line: OrderLine | QuotationLine, currency: str,
              role: str) -> None:
    if line.price is None:
        raise OhnlEncodeError(f"{role}.price: UBL-OHNL requires a price on every line")
    if line.price.gross_amount is not None or line.price.discount is not None:
        raise OhnlEncodeError(
            f"{role}.price: gross price and discount are not carried on a UBL-OHNL order"
        )
    price = add(parent, "cac:Price")
    add_amount(price, "cbc:PriceAmount", line.price.amount, currency)
    base = line.price.base_quantity
    if base is not None:
        check_unit(base, f"{role}.price.base_quantity")
        add(price, "cbc:BaseQuantity", decimal_text(base.value), {"unitCode": base.unit_code})


def add_item(parent: Element, line: OrderLine | QuotationLine, role: str, *,
             seller_id: bool = True) -> None:
    """The ordered (or quoted) item; an order response repeats it from the order.

    ``seller_id`` says the rules require the seller's item id (the Order does).
    """
    item = line.item
    if item.standard_item_id or item.classifications or item.properties or \
            item.origin_country:
        raise OhnlEncodeError(
            f"{role}.item: standard ids, classifications, properties and origin country "
            "are not carried on a UBL-OHNL order line"
        )
    element = add(parent, "cac:Item")
    add_text(element, "cbc:Description", item.description)
    add_indicator(element, "cbc:CatalogueIndicator", False)
    add(element, "cbc:Name", item.name)
    if item.buyer_item_id is not None:
        add(add(element, "cac:BuyersItemIdentification"), "cbc:ID", item.buyer_item_id)
    if item.seller_item_id is not None:
        add(add(element, "cac:SellersItemIdentification"), "cbc:ID", item.seller_item_id)
    elif seller_id:
        raise OhnlEncodeError(
            f"{role}.item.seller_item_id: UBL-OHNL requires the seller's item "
            "identification on every order line"
        )
    elif item.description is None and item.buyer_item_id is None:
        raise OhnlEncodeError(
            f"{role}.item: UBL-OHNL identifies an item by a description or an item id"
        )
    if line.vat_category is not None:
        add_tax_category(element, "cac:ClassifiedTaxCategory", line.vat_category,
                         line.vat_rate, role)
    elif line.vat_rate is not None:
        raise OhnlEncodeError(f"{role}.vat_rate: give the VAT category with the rate")


def add_tax_total(root: Element, breakdown: tuple[TaxSubtotal, ...], currency: str,
                  role: str) -> None:
    if not breakdown:
        return
    total = add(root, "cac:TaxTotal")
    add_amount(total, "cbc:TaxAmount", sum((s.tax_amount for s in breakdown), Decimal(0)),
               currency)
    for i, subtotal in enumerate(breakdown):
        element = add(total, "cac:TaxSubtotal")
        add_amount(element, "cbc:TaxableAmount", subtotal.taxable_amount, currency)
        add_amount(element, "cbc:TaxAmount", subtotal.tax_amount, currency)
        add_tax_category(element, "cac:TaxCategory", subtotal.category, subtotal.rate,
                         f"{role}[{i}]")


def add_totals(root: Element, tag: str, totals: AnticipatedTotals | None, currency: str,
               role: str, breakdown: tuple[TaxSubtotal, ...] = ()) -> None:
    """AnticipatedMonetaryTotal (order) or QuotedMonetaryTotal (quotation)."""
    if totals is None:
        return
    if totals.tax_exclusive is None:
        raise OhnlEncodeError(f"{role}.tax_exclusive: UBL-OHNL requires it in the totals")
    for field in ("prepaid", "rounding"):
        if getattr(totals, field) is not None:
            raise OhnlEncodeError(
                f"{role}.{field}: not carried in UBL-OHNL {tag[4:]}; leave it empty"
            )
    # The VAT total travels in TaxTotal, written from the breakdown; a stated
    # total is fine as long as it says the same.
    if totals.tax_total is not None and totals.tax_total != sum(
        (s.tax_amount for s in breakdown), Decimal(0)
    ):
        raise OhnlEncodeError(
            f"{role}.tax_total: {totals.tax_total} differs from the sum of the VAT "
            "breakdown, which is what UBL-OHNL carries"
        )
    element = add(root, tag)
    add_amount(element, "cbc:LineExtensionAmount", totals.line_extension, currency)
    add_amount(element, "cbc:TaxExclusiveAmount", totals.tax_exclusive, currency)
    add_amount(element, "cbc:TaxInclusiveAmount", totals.tax_inclusive, currency)
    add_amount(element, "cbc:AllowanceTotalAmount", totals.allowance_total, currency)
    add_amount(element, "cbc:ChargeTotalAmount", totals.charge_total, currency)
    add_amount(element, "cbc:PayableAmount", totals.payable, currency)
