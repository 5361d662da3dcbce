"""Reading a UBL-OHNL Order (BESTELLING-UBL) into the canonical model.

Everything the model does not take is reported by XPath (see
:class:`plugins.ubl_ohnl.xmltools.Reader`): the buyer's agent party, the
freight forwarder, payment means, despatch data, quotation line and line
document references, taxes other than VAT, and tax subtotals without a
taxable amount.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import Any

from gateway.model import (
    AllowanceCharge,
    AnticipatedTotals,
    Attachment,
    Delivery,
    DocumentReference,
    Item,
    Order,
    OrderLine,
    Party,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    TaxSubtotal,
    VatCategory,
)
from plugins.ubl_ohnl.errors import OhnlDecodeError
from plugins.ubl_ohnl.parties import read_address, read_contact, read_party
from plugins.ubl_ohnl.tax import is_vat, read_tax_category
from plugins.ubl_ohnl.xmltools import Element, Reader, qname


def document_currency(root: Element, document: str) -> str:
    """DocumentCurrencyCode, else the currency the amounts are stated in.

    Several published examples leave DocumentCurrencyCode out; their amounts
    still carry ``@currencyID``.
    """
    node = root.find(qname("cbc:DocumentCurrencyCode"))
    currency = (node.text or "").strip() if node is not None and node.text else ""
    if currency:
        return currency
    for amount in root.iter():
        found = (amount.get("currencyID") or "").strip()
        if found:
            return found
    raise OhnlDecodeError(
        "no DocumentCurrencyCode and no amount with a currencyID: the currency is unknown",
        f"/{document}",
    )


class OhnlReader:
    """What every OHNL document reader shares: the marking reader and small helpers."""

    def __init__(self, root: Element, currency: str | None) -> None:
        self.root = root
        self.r = Reader(root, currency)
        for marker in ("cbc:UBLVersionID", "cbc:CustomizationID", "cbc:ProfileID",
                       "cbc:DocumentCurrencyCode"):
            self.r.first(root, marker)

    def required(self, value: Any, parent: Element, path: str) -> Any:
        if value is None:
            raise OhnlDecodeError(f"{path} is required and missing or empty", self.r.path(parent))
        return value

    def time(self, parent: Element, path: str) -> dt.time | None:
        raw = self.r.token(parent, path)
        if raw is None:
            return None
        try:
            return dt.time.fromisoformat(raw)
        except ValueError:
            node = self.r.first(parent, path)
            assert node is not None
            raise OhnlDecodeError(f"{raw!r} is not a time", self.r.path(node)) from None

    def party(self, parent: Element, path: str) -> Party:
        node = self.required(self.r.first(parent, path), parent, path)
        return read_party(self.r, node)

    def optional_party(self, parent: Element, path: str) -> Party | None:
        node = self.r.first(parent, path)
        return read_party(self.r, node) if node is not None else None

    def period(self, node: Element | None) -> Period | None:
        if node is None:
            return None
        start, end = self.r.date(node, "cbc:StartDate"), self.r.date(node, "cbc:EndDate")
        if start is None and end is None:
            return None
        return Period(start=start, end=end)

    def delivery(self, node: Element | None, period_tag: str) -> Delivery | None:
        """A DeliveryType; ``period_tag`` is the requested or promised period."""
        if node is None:
            return None
        r = self.r
        address_node = r.first(node, "cac:DeliveryAddress")
        party = r.first(node, "cac:DeliveryParty")
        contact_node = r.first(party, "cac:Contact") if party is not None else None
        delivery = Delivery(
            address=read_address(r, address_node) if address_node is not None else None,
            period=self.period(r.first(node, period_tag)),
            party_name=r.text(party, "cac:PartyName/cbc:Name") if party is not None else None,
            contact=read_contact(r, contact_node) if contact_node is not None else None,
        )
        return None if delivery == Delivery() else delivery

    def allowance_charges(self, parent: Element) -> tuple[AllowanceCharge, ...]:
        r = self.r
        result = []
        for node in r.all(parent, "cac:AllowanceCharge"):
            amount = self.required(r.amount(node, "cbc:Amount"), node, "cbc:Amount")
            result.append(AllowanceCharge(
                is_charge=bool(self.required(r.indicator(node, "cbc:ChargeIndicator"), node,
                                             "cbc:ChargeIndicator")),
                amount=amount,
                reason=r.text(node, "cbc:AllowanceChargeReason"),
            ))
        return tuple(result)

    def tax_breakdown(self) -> tuple[TaxSubtotal, ...]:
        r = self.r
        total = r.first(self.root, "cac:TaxTotal")
        if total is None:
            return ()
        r.first(total, "cbc:TaxAmount")
        subtotals = []
        for node in total.iterchildren(qname("cac:TaxSubtotal")):
            r.mark(node)
            category_node = r.first(node, "cac:TaxCategory")
            if category_node is not None and not is_vat(r, category_node):
                r.warn(node, "not VAT (tax scheme "
                             f"{r.token(category_node, 'cac:TaxScheme/cbc:Name')}); not mapped")
                r.mark_tree(node)
                continue
            taxable = r.amount(node, "cbc:TaxableAmount")
            if taxable is None:
                r.warn(node, "no TaxableAmount, which the canonical VAT breakdown needs; "
                             "not mapped")
                r.mark_tree(node)
                continue
            percent = r.decimal(node, "cbc:Percent")
            if category_node is not None:
                category, rate = read_tax_category(r, category_node, percent)
            else:
                category = VatCategory.STANDARD if percent else VatCategory.ZERO_RATED
                rate = percent
            subtotals.append(TaxSubtotal(
                category=category, rate=rate, taxable_amount=taxable,
                tax_amount=self.required(r.amount(node, "cbc:TaxAmount"), node, "cbc:TaxAmount"),
            ))
        return tuple(subtotals)

    def totals(self, tag: str) -> AnticipatedTotals | None:
        r = self.r
        node = r.first(self.root, tag)
        if node is None:
            return None
        return AnticipatedTotals(
            line_extension=r.amount(node, "cbc:LineExtensionAmount"),
            tax_exclusive=r.amount(node, "cbc:TaxExclusiveAmount"),
            tax_inclusive=r.amount(node, "cbc:TaxInclusiveAmount"),
            allowance_total=r.amount(node, "cbc:AllowanceTotalAmount"),
            charge_total=r.amount(node, "cbc:ChargeTotalAmount"),
            payable=self.required(r.amount(node, "cbc:PayableAmount"), node,
                                  "cbc:PayableAmount"),
        )

    def references(self, parent: Element) -> tuple[tuple[DocumentReference, ...],
                                                   tuple[Attachment, ...]]:
        """AdditionalDocumentReference elements: plain references, and embedded files."""
        r = self.r
        references, attachments = [], []
        for node in r.all(parent, "cac:AdditionalDocumentReference"):
            holder = r.first(node, "cac:Attachment")
            if holder is None:
                references.append(DocumentReference(
                    id=self.required(r.text(node, "cbc:ID"), node, "cbc:ID"),
                    issue_date=r.date(node, "cbc:IssueDate"),
                    type_code=r.text(node, "cbc:DocumentType"),
                ))
                continue
            r.first(node, "cbc:ID")
            binary = r.first(holder, "cbc:EmbeddedDocumentBinaryObject")
            content = mime = filename = None
            if binary is not None and (binary.text or "").strip():
                try:
                    content = base64.b64decode("".join((binary.text or "").split()),
                                               validate=True)
                except (binascii.Error, ValueError):
                    raise OhnlDecodeError("not base64", r.path(binary)) from None
                mime = (binary.get("mimeCode") or "").strip() or None
                if mime is None:
                    raise OhnlDecodeError("an embedded file needs @mimeCode", r.path(binary))
                filename = (binary.get("filename") or "").strip() or None
            uri = r.text(holder, "cac:ExternalReference/cbc:URI")
            if content is None and uri is None:
                r.warn(node, "an attachment with neither content nor a URI; not mapped")
                continue
            attachments.append(Attachment(
                content=content, mime_type=mime, filename=filename, uri=uri,
                description=r.text(node, "cbc:DocumentType"),
            ))
        return tuple(references), tuple(attachments)

    def item(self, line: Element) -> tuple[Item, VatCategory | None, Any]:
        r = self.r
        node = self.required(r.first(line, "cac:Item"), line, "cac:Item")
        r.first(node, "cbc:CatalogueIndicator")
        description = r.text(node, "cbc:Description")
        name = r.text(node, "cbc:Name") or description
        category = rate = None
        for tax in node.iterchildren(qname("cac:ClassifiedTaxCategory")):
            r.mark(tax)
            if not is_vat(r, tax):
                r.warn(tax, f"not VAT (tax scheme {r.token(tax, 'cac:TaxScheme/cbc:Name')}); "
                            "not mapped")
                r.mark_tree(tax)
                continue
            if category is not None:
                r.warn(tax, "a second VAT category on the item; not mapped")
                r.mark_tree(tax)
                continue
            category, rate = read_tax_category(r, tax)
        item = Item(
            name=self.required(name, node, "cbc:Name"),
            description=description,
            seller_item_id=r.text(node, "cac:SellersItemIdentification/cbc:ID"),
            buyer_item_id=r.text(node, "cac:BuyersItemIdentification/cbc:ID"),
        )
        return item, category, rate

    def quantity(self, parent: Element, path: str) -> Quantity:
        r = self.r
        node = self.required(r.first(parent, path), parent, path)
        value = self.required(r.decimal_of(node), parent, path)
        unit = (node.get("unitCode") or "").strip()
        if not unit:
            raise OhnlDecodeError("a quantity needs @unitCode", r.path(node))
        return Quantity(value=value, unit_code=unit)

    def price(self, line: Element) -> Price | None:
        r = self.r
        node = r.first(line, "cac:Price")
        if node is None:
            return None
        amount = self.required(r.amount(node, "cbc:PriceAmount"), node, "cbc:PriceAmount")
        base_node = r.first(node, "cbc:BaseQuantity")
        base = self.quantity(node, "cbc:BaseQuantity") if base_node is not None else None
        return Price(amount=amount, base_quantity=base)


class OrderReader(OhnlReader):
    """Reads one parsed order; :meth:`order` returns it with the warnings."""

    def __init__(self, root: Element) -> None:
        self.currency = document_currency(root, "Order")
        super().__init__(root, self.currency)

    def order(self) -> tuple[Order, list[str]]:
        r, root = self.r, self.root
        references, attachments = self.references(root)
        terms = r.text(root, "cac:TransactionConditions/cbc:Description")
        delivery_node = r.first(root, "cac:Delivery")
        buyer = self.required(r.first(root, "cac:BuyerCustomerParty"), root,
                              "cac:BuyerCustomerParty")
        order = Order(
            number=self.required(r.text(root, "cbc:ID"), root, "cbc:ID"),
            issue_date=self.required(r.date(root, "cbc:IssueDate"), root, "cbc:IssueDate"),
            issue_time=self.time(root, "cbc:IssueTime"),
            currency=self.currency,
            notes=r.texts(root, "cbc:Note"),
            accounting_cost=r.text(root, "cbc:AccountingCostCode"),
            validity_period=self.period(r.first(root, "cac:ValidityPeriod")),
            quotation_reference=r.text(root, "cac:QuotationDocumentReference/cbc:ID"),
            other_references=references,
            attachments=attachments,
            contract_reference=r.text(root, "cac:Contract/cbc:ID"),
            customer_reference=r.text(buyer, "cbc:CustomerAssignedAccountID"),
            buyer=self.party(buyer, "cac:Party"),
            seller=self.party(root, "cac:SellerSupplierParty/cac:Party"),
            invoicee=self.optional_party(root, "cac:AccountingCustomerParty/cac:Party"),
            delivery=self.delivery(delivery_node, "cac:RequestedDeliveryPeriod"),
            payment_terms=PaymentTerms(note=terms) if terms is not None else None,
            allowance_charges=self.allowance_charges(root),
            tax_breakdown=self.tax_breakdown(),
            totals=self.totals("cac:AnticipatedMonetaryTotal"),
            lines=tuple(self.line(node) for node in r.all(root, "cac:OrderLine/cac:LineItem")),
        )
        return order, [*r.warnings, *r.unmapped_warnings()]

    def line(self, node: Element) -> OrderLine:
        r = self.r
        item, category, rate = self.item(node)
        return OrderLine(
            id=self.required(r.token(node, "cbc:ID"), node, "cbc:ID"),
            notes=r.texts(node, "cbc:Note"),
            quantity=self.quantity(node, "cbc:Quantity"),
            line_amount=r.amount(node, "cbc:LineExtensionAmount"),
            vat_amount=r.amount(node, "cbc:TotalTaxAmount"),
            accounting_cost=r.text(node, "cbc:AccountingCostCode"),
            delivery=self.delivery(r.first(node, "cac:Delivery"), "cac:RequestedDeliveryPeriod"),
            allowance_charges=self.allowance_charges(node),
            price=self.price(node),
            item=item,
            vat_category=category,
            vat_rate=rate,
        )
