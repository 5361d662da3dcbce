"""Reading a UBL-OHNL Invoice into the canonical model.

Totals are kept as stated; what does not fit the model is reported by XPath
(see :class:`plugins.ubl_ohnl.xmltools.Reader`), and so are the readings the
decoder had to choose (a missing type code, a nameless tax category, an order
or delivery date taken from the lines).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.model import (
    AllowanceCharge,
    Delivery,
    DeliveryTerms,
    DocumentReference,
    Invoice,
    InvoiceLine,
    InvoiceTotals,
    InvoiceType,
    Item,
    ItemClassification,
    ItemProperty,
    OrderReference,
    Party,
    PartyId,
    PaymentMeans,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    StandardItemId,
    TaxSubtotal,
    VatCategory,
)
from gateway.model.tax import round_amount
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.errors import OhnlDecodeError
from plugins.ubl_ohnl.parties import read_address, read_contact, read_party
from plugins.ubl_ohnl.tax import is_vat, read_tax_category
from plugins.ubl_ohnl.xmltools import Element, Reader, qname


class InvoiceReader:
    """Reads one parsed invoice; :meth:`invoice` returns it with the warnings."""

    def __init__(self, root: Element) -> None:
        self.root = root
        currency_node = root.find(qname("cbc:DocumentCurrencyCode"))
        currency = (currency_node.text or "").strip() if currency_node is not None else ""
        if not currency:
            # The scenario example leaves DocumentCurrencyCode out; the amounts say it.
            payable = root.find(f"{qname('cac:LegalMonetaryTotal')}/{qname('cbc:PayableAmount')}")
            currency = (payable.get("currencyID") or "").strip() if payable is not None else ""
        if not currency:
            raise OhnlDecodeError(
                "no DocumentCurrencyCode and no currencyID on the payable amount: the "
                "currency of the invoice is unknown", "/Invoice"
            )
        self.currency = currency
        self.r = Reader(root, currency)

    def required(self, value: Any, parent: Element, path: str) -> Any:
        if value is None:
            raise OhnlDecodeError(f"{path} is required and missing or empty", self.r.path(parent))
        return value

    def invoice(self) -> tuple[Invoice, list[str]]:
        r, root = self.r, self.root
        for marker in ("cbc:UBLVersionID", "cbc:CustomizationID", "cbc:ProfileID"):
            r.first(root, marker)
        r.first(root, "cbc:DocumentCurrencyCode")
        invoice_type, proposal, type_code = self.type_code()
        order_reference = self.order_reference()
        line_periods, last_invoice, received = self.extensions()
        lines = tuple(
            self.line(node, order_reference, line_periods)
            for node in r.all(root, "cac:InvoiceLine")
        )
        for line_id, node in line_periods.items():
            if all(line.id != line_id for line in lines):
                r.warn(node, f"names invoice line {line_id!r}, which the invoice does not have")
        means, due_date = self.payment_means()
        invoice = Invoice(
            number=self.required(r.text(root, "cbc:ID"), root, "cbc:ID"),
            issue_date=self.required(r.date(root, "cbc:IssueDate"), root, "cbc:IssueDate"),
            type=invoice_type,
            proposal=proposal,
            type_code=type_code,
            currency=self.currency,
            tax_currency=r.token(root, "cbc:TaxCurrencyCode"),
            tax_point_date=r.date(root, "cbc:TaxPointDate"),
            due_date=due_date,
            order_reference=order_reference,
            billing_references=self.billing_references(invoice_type),
            contract_reference=r.text(root, "cac:ContractDocumentReference/cbc:ID"),
            receipt_reference=r.text(root, "cac:ReceiptDocumentReference/cbc:ID"),
            despatch_references=r.texts(root, "cac:DespatchDocumentReference/cbc:ID"),
            other_references=tuple(
                ref for node in r.all(root, "cac:AdditionalDocumentReference")
                if (ref := self.document_reference(node)) is not None
            ),
            seller=self.party("cac:AccountingSupplierParty", "cac:SellerSupplierParty"),
            buyer=self.party("cac:AccountingCustomerParty", "cac:BuyerCustomerParty"),
            payee=self.optional_party("cac:PayeeParty"),
            tax_representative=self.optional_party("cac:TaxRepresentativeParty"),
            delivery=self.delivery(),
            invoice_period=self.period(r.first(root, "cac:InvoicePeriod")),
            payment_means=means,
            payment_terms=self.payment_terms(),
            notes=r.texts(root, "cbc:Note"),
            accounting_cost=self.accounting_cost(root),
            lines=lines,
            allowance_charges=tuple(
                self.allowance_charge(node) for node in r.all(root, "cac:AllowanceCharge")
            ),
            tax_breakdown=self.tax_breakdown(),
            totals=self.totals(),
            last_invoice_on_order=last_invoice,
            received_date=received,
        )
        return invoice, [*r.warnings, *r.unmapped_warnings()]

    # -- header parts

    def type_code(self) -> tuple[InvoiceType, bool, str | None]:
        node = self.r.first(self.root, "cbc:InvoiceTypeCode")
        code = self.r.token(self.root, "cbc:InvoiceTypeCode")
        if code is None:
            self.r.warn(node if node is not None else self.root,
                        "no InvoiceTypeCode; read as D (debitnota)")
            return InvoiceType.DEBIT, False, None
        mapping = {
            codes.DEBIT: (InvoiceType.DEBIT, False, None),
            codes.CREDIT: (InvoiceType.CREDIT, False, None),
            codes.PROPOSAL_DEBIT: (InvoiceType.DEBIT, True, None),
            codes.PROPOSAL_CREDIT: (InvoiceType.CREDIT, True, None),
            codes.PROFORMA: (InvoiceType.DEBIT, False, codes.PROFORMA),
        }
        if code not in mapping:
            assert node is not None
            raise OhnlDecodeError(
                f"InvoiceTypeCode {code!r} is not a FactuurSoort (NL-1001): "
                f"{', '.join(codes.INVOICE_TYPE_CODES)}", self.r.path(node),
            )
        return mapping[code]

    def extensions(self) -> tuple[dict[str, Element], bool | None, dt.date | None]:
        r = self.r
        periods: dict[str, Element] = {}
        last_invoice = None
        received = None
        for content in r.all(self.root, "ext:UBLExtensions/ext:UBLExtension/ext:ExtensionContent"):
            for child in content.iterchildren(etree.Element):
                tag = child.tag
                if tag == qname("nl-cbc:LastInvoiceOnOrderIndicator"):
                    r.mark(child)
                    last_invoice = r.indicator(content, "nl-cbc:LastInvoiceOnOrderIndicator")
                elif tag == qname("cbc:ReceivedDate"):
                    r.mark(child)
                    received = r.date(content, "cbc:ReceivedDate")
                elif tag == qname("nl-cac:InvoiceLine"):
                    r.mark(child)
                    line_id = r.text(child, "cbc:ID")
                    if line_id is not None:
                        periods[line_id] = child
        return periods, last_invoice, received

    def accounting_cost(self, parent: Element) -> str | None:
        code = self.r.text(parent, "cbc:AccountingCostCode")
        if code is not None:
            return code
        return self.r.text(parent, "cbc:AccountingCost")

    def period(self, node: Element | None) -> Period | None:
        if node is None:
            return None
        start = self.r.date(node, "cbc:StartDate")
        end = self.r.date(node, "cbc:EndDate")
        code = self.r.token(node, "cbc:DescriptionCode")
        if start is None and end is None:
            self.r.warn(node, "a period without dates is not kept")
            return None
        if start is not None and end is not None and end < start:
            self.r.warn(node, f"ends ({end}) before it starts ({start}); not kept")
            return None
        return Period(start=start, end=end, description_code=code)

    def order_reference(self) -> OrderReference | None:
        node = self.r.first(self.root, "cac:OrderReference")
        order_id = self.r.text(node, "cbc:ID") if node is not None else None
        if node is None or order_id is None:
            return self.order_of_lines()
        return OrderReference(
            id=order_id,
            sales_order_id=self.r.text(node, "cbc:SalesOrderID"),
            issue_date=self.r.date(node, "cbc:IssueDate"),
        )

    def order_of_lines(self) -> OrderReference | None:
        """The order every line names, when the header names none."""
        orders = set()
        for line in self.root.iterchildren(qname("cac:InvoiceLine")):
            found = line.find(
                f"{qname('cac:OrderLineReference')}/{qname('cac:OrderReference')}/{qname('cbc:ID')}"
            )
            if found is None or not (found.text or "").strip():
                return None
            orders.add(found.text)
        if len(orders) != 1:
            return None
        order_id = orders.pop()
        self.r.warn(self.root, f"no OrderReference; order {order_id!r}, which every line names, "
                               "is kept as the invoice's order")
        return OrderReference(id=order_id)

    def billing_references(self, invoice_type: InvoiceType) -> tuple[DocumentReference, ...]:
        slots = ["cac:InvoiceDocumentReference", "cac:DebitNoteDocumentReference"]
        if invoice_type is InvoiceType.CREDIT:
            slots.reverse()
        refs = []
        for billing in self.r.all(self.root, "cac:BillingReference"):
            for slot in slots:
                node = self.r.first(billing, slot)
                if node is not None and (ref := self.document_reference(node)) is not None:
                    refs.append(ref)
        return tuple(refs)

    def document_reference(self, node: Element) -> DocumentReference | None:
        ref_id = self.r.text(node, "cbc:ID")
        if ref_id is None:
            return None
        return DocumentReference(
            id=ref_id,
            issue_date=self.r.date(node, "cbc:IssueDate"),
            type_code=self.r.text(node, "cbc:DocumentType")
            or self.r.token(node, "cbc:DocumentTypeCode"),
        )

    def party(self, accounting: str, other: str) -> Party:
        r = self.r
        node = self.required(r.first(self.root, f"{accounting}/cac:Party"), self.root,
                             f"{accounting}/cac:Party")
        party = read_party(r, node)
        duplicate = r.first(self.root, f"{other}/cac:Party")
        if duplicate is not None and read_party(r, duplicate) != party:
            r.warn(duplicate, f"differs from {accounting}; only {accounting} is kept")
        return party

    def optional_party(self, tag: str) -> Party | None:
        node = self.r.first(self.root, tag)
        return read_party(self.r, node) if node is not None else None

    def delivery(self) -> Delivery | None:
        r, root = self.r, self.root
        terms = self.delivery_terms()
        node = r.first(root, "cac:Delivery")
        date = address = location_id = party_name = contact = None
        if node is not None:
            date = r.date(node, "cbc:ActualDeliveryDate")
            address_node = r.first(node, "cac:DeliveryAddress")
            address = read_address(r, address_node) if address_node is not None else None
            location = r.first(node, "cac:DeliveryLocation/cbc:ID")
            if location is not None and (value := location.text) and value.strip():
                scheme = (location.get("schemeID") or location.get("schemeAgencyName") or "XXX")
                location_id = PartyId(scheme=scheme.strip() or "XXX", value=value)
            party_name = r.text(node, "cac:DeliveryParty/cac:PartyName/cbc:Name")
            contact_node = r.first(node, "cac:DeliveryParty/cac:Contact")
            contact = read_contact(r, contact_node) if contact_node is not None else None
        if date is None:
            date = self.line_delivery_date()
        delivery = Delivery(
            date=date, address=address, location_id=location_id, party_name=party_name,
            contact=contact, terms=terms,
        )
        return None if delivery == Delivery() else delivery

    def line_delivery_date(self) -> dt.date | None:
        """The delivery date stated on every line instead of the header, when they agree."""
        r = self.r
        nodes = []
        for line in self.root.iterchildren(qname("cac:InvoiceLine")):
            found = line.find(f"{qname('cac:Delivery')}/{qname('cbc:ActualDeliveryDate')}")
            if found is None:
                return None
            nodes.append(found)
        dates = set()
        for found in nodes:
            raw = (found.text or "").strip()
            try:
                dates.add(dt.date.fromisoformat(raw[:10]))
            except ValueError:
                return None
        if len(dates) != 1:
            return None
        for found in nodes:
            parent = found.getparent()
            assert parent is not None
            r.mark(parent)
            r.mark(found)
        r.warn(self.root, "the delivery date stated on every line is kept as the invoice's "
                          "delivery date")
        return dates.pop()

    def delivery_terms(self) -> DeliveryTerms | None:
        node = self.r.first(self.root, "cac:DeliveryTerms")
        if node is None:
            return None
        terms = DeliveryTerms(
            code=self.r.token(node, "cbc:ID"),
            description=self.r.text(node, "cbc:SpecialTerms"),
            location=self.r.text(node, "cac:DeliveryLocation/cbc:ID"),
        )
        return None if terms == DeliveryTerms() else terms

    def payment_means(self) -> tuple[tuple[PaymentMeans, ...], dt.date | None]:
        r = self.r
        means = []
        due_date = None
        for node in r.all(self.root, "cac:PaymentMeans"):
            code = r.token(node, "cbc:PaymentMeansCode")
            stated_due = r.date(node, "cbc:PaymentDueDate")
            if due_date is None:
                due_date = stated_due
            elif stated_due is not None and stated_due != due_date:
                r.warn(node, f"due date {stated_due} differs from the first payment means' "
                             f"{due_date}; only the first is kept")
            if code is None:
                r.warn(node, "a payment means without PaymentMeansCode is not kept")
                continue
            means.append(PaymentMeans(
                code=code,
                text=r.text(node, "cbc:InstructionNote"),
                payment_id=r.text(node, "cbc:PaymentID"),
                account_id=r.text(node, "cac:PayeeFinancialAccount/cbc:ID"),
                account_name=r.text(node, "cac:PayeeFinancialAccount/cbc:Name"),
                bic=r.text(
                    node,
                    "cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/"
                    "cac:FinancialInstitution/cbc:ID",
                ),
                debited_account=r.text(node, "cac:PayerFinancialAccount/cbc:ID"),
            ))
        return tuple(means), due_date

    def payment_terms(self) -> PaymentTerms | None:
        for node in self.root.iterchildren(qname("cac:PaymentTerms")):
            note = next(node.iterchildren(qname("cbc:Note")), None)
            if note is not None and note.text and note.text.strip():
                self.r.mark(node)
                self.r.mark(note)
                return PaymentTerms(note=note.text)
        return None

    def allowance_charge(self, node: Element) -> AllowanceCharge:
        r = self.r
        is_charge = r.indicator(node, "cbc:ChargeIndicator")
        amount = r.amount(node, "cbc:Amount")
        base = r.amount(node, "cbc:BaseAmount")
        factor = r.decimal(node, "cbc:MultiplierFactorNumeric")
        category = rate = None
        tax_total = r.first(node, "cac:TaxTotal")
        subtotal = r.first(tax_total, "cac:TaxSubtotal") if tax_total is not None else None
        tax_category = r.first(subtotal, "cac:TaxCategory") if subtotal is not None else None
        if tax_total is not None and subtotal is not None and tax_category is not None:
            category, rate = read_tax_category(
                r, tax_category, r.decimal(subtotal, "cbc:Percent")
            )
            # The allowance's own VAT amount follows from amount and rate.
            r.mark_tree(tax_total)
        elif (bare := r.first(node, "cac:TaxCategory")) is not None:
            category, rate = read_tax_category(r, bare)
        return AllowanceCharge(
            is_charge=self.required(is_charge, node, "cbc:ChargeIndicator"),
            amount=self.required(amount, node, "cbc:Amount"),
            base_amount=base,
            percentage=self.percentage(node, factor, amount, base),
            reason=r.text(node, "cbc:AllowanceChargeReason"),
            reason_code=r.token(node, "cbc:AllowanceChargeReasonCode"),
            vat_category=category,
            vat_rate=rate,
        )

    def percentage(
        self, node: Element, factor: Decimal | None, amount: Decimal | None,
        base: Decimal | None,
    ) -> Decimal | None:
        """The percentage a MultiplierFactorNumeric stands for.

        UBL 2.0 means a factor (0.10 for 10 %), as the NL examples write it;
        some OHNL examples (and EN 16931) write the percentage itself (15.00).
        When amount and base amount show the latter, the number is read as is.
        """
        if factor is None:
            return None
        if amount is not None and base is not None:
            as_factor = round_amount(base * factor)
            as_percentage = round_amount(base * factor / 100)
            if as_factor != round_amount(amount) and as_percentage == round_amount(amount):
                self.r.warn(node, f"MultiplierFactorNumeric {factor} read as a percentage "
                                  "(Amount = BaseAmount x factor / 100)")
                return factor
        return _plain(factor.scaleb(2))

    def tax_breakdown(self) -> tuple[TaxSubtotal, ...]:
        r = self.r
        total = r.first(self.root, "cac:TaxTotal")
        if total is None:
            return ()
        subtotals = []
        for node in total.iterchildren(qname("cac:TaxSubtotal")):
            r.mark(node)
            category_node = r.first(node, "cac:TaxCategory")
            if category_node is not None and not is_vat(r, category_node):
                r.warn(node, "not VAT (tax scheme "
                             f"{r.token(category_node, 'cac:TaxScheme/cbc:Name')}); not mapped")
                r.mark_tree(node)
                continue
            percent = r.decimal(node, "cbc:Percent")
            if category_node is not None:
                category, rate = read_tax_category(r, category_node, percent)
                reason = r.text(category_node, "cbc:TaxExemptionReason")
                reason_code = r.token(category_node, "cbc:TaxExemptionReasonCode")
            else:
                category = VatCategory.STANDARD if percent else VatCategory.ZERO_RATED
                rate, reason, reason_code = percent, None, None
            subtotals.append(TaxSubtotal(
                category=category,
                rate=rate,
                taxable_amount=self.required(
                    r.amount(node, "cbc:TaxableAmount"), node, "cbc:TaxableAmount"),
                tax_amount=self.required(r.amount(node, "cbc:TaxAmount"), node, "cbc:TaxAmount"),
                exemption_reason=reason,
                exemption_reason_code=reason_code,
            ))
        return tuple(subtotals)

    def totals(self) -> InvoiceTotals:
        r, root = self.r, self.root
        total = self.required(r.first(root, "cac:LegalMonetaryTotal"), root,
                              "cac:LegalMonetaryTotal")
        tax_total = r.first(root, "cac:TaxTotal")
        tax = r.amount(tax_total, "cbc:TaxAmount") if tax_total is not None else None

        def need(name: str) -> Decimal:
            return self.required(r.amount(total, name), total, name)  # type: ignore[no-any-return]

        return InvoiceTotals(
            line_extension=need("cbc:LineExtensionAmount"),
            allowance_total=r.amount(total, "cbc:AllowanceTotalAmount"),
            charge_total=r.amount(total, "cbc:ChargeTotalAmount"),
            tax_exclusive=need("cbc:TaxExclusiveAmount"),
            tax_total=self.required(tax, root, "cac:TaxTotal/cbc:TaxAmount"),
            tax_inclusive=need("cbc:TaxInclusiveAmount"),
            prepaid=r.amount(total, "cbc:PrepaidAmount"),
            rounding=r.amount(total, "cbc:PayableRoundingAmount"),
            payable=need("cbc:PayableAmount"),
        )

    # -- lines

    def line(
        self, node: Element, order: OrderReference | None, periods: dict[str, Element]
    ) -> InvoiceLine:
        r = self.r
        line_id = self.required(r.text(node, "cbc:ID"), node, "cbc:ID")
        quantity_node = self.required(r.first(node, "cbc:InvoicedQuantity"), node,
                                      "cbc:InvoicedQuantity")
        quantity = Quantity(
            value=self.required(r.decimal_of(quantity_node), node, "cbc:InvoicedQuantity"),
            unit_code=self.required(
                (quantity_node.get("unitCode") or "").strip() or None, node,
                "cbc:InvoicedQuantity/@unitCode",
            ),
        )
        if r.indicator(node, "cbc:FreeOfChargeIndicator"):
            r.warn(node, "FreeOfChargeIndicator true is not kept")
        order_line = None
        reference = r.first(node, "cac:OrderLineReference")
        if reference is not None:
            order_line = r.text(reference, "cbc:LineID")
            line_order = r.text(reference, "cac:OrderReference/cbc:ID")
            if order is None:
                # The canonical line names a line of the invoice's order; without
                # one the reference cannot be written back either.
                r.warn(reference, "the invoice names no order, so the order line reference "
                                  "is not kept")
                r.mark_tree(reference)
                order_line = None
            elif line_order is not None and line_order != order.id:
                r.warn(reference, f"names order {line_order!r}, not the invoice's order "
                                  f"{order.id!r}; the line's order is not kept")
        category, rate = self.line_vat(node, line_id)
        vat_amount = None
        tax_total = r.first(node, "cac:TaxTotal")
        if tax_total is not None:
            vat_amount = r.amount(tax_total, "cbc:TaxAmount")
            subtotals = list(tax_total.iterchildren(qname("cac:TaxSubtotal")))
            if len(subtotals) > 1:
                r.warn(tax_total, f"the line's VAT is split over {len(subtotals)} subtotals; "
                                  "only its total is kept")
            r.mark_tree(tax_total)
        period_node = periods.get(line_id)
        period = None
        if period_node is not None:
            period = self.period(r.first(period_node, "cac:InvoicePeriod"))
        return InvoiceLine(
            id=line_id,
            quantity=quantity,
            price=self.price(node, quantity),
            allowance_charges=tuple(
                self.allowance_charge(ac) for ac in r.all(node, "cac:AllowanceCharge")
            ),
            net_amount=self.required(
                r.amount(node, "cbc:LineExtensionAmount"), node, "cbc:LineExtensionAmount"),
            item=self.item(node),
            vat_category=category,
            vat_rate=rate,
            vat_amount=vat_amount,
            order_line_reference=order_line,
            period=period,
            notes=r.texts(node, "cbc:Note"),
            accounting_cost=self.accounting_cost(node),
        )

    def line_vat(self, node: Element, line_id: str) -> tuple[VatCategory, Decimal | None]:
        r = self.r
        item = node.find(qname("cac:Item"))
        if item is not None:
            for category in item.iterchildren(qname("cac:ClassifiedTaxCategory")):
                r.mark(item)
                r.mark(category)
                if is_vat(r, category):
                    return read_tax_category(r, category)
                r.warn(category, "not VAT (tax scheme "
                                 f"{r.token(category, 'cac:TaxScheme/cbc:Name')}); not mapped")
                r.mark_tree(category)
        tax_total = node.find(qname("cac:TaxTotal"))
        if tax_total is not None:
            for subtotal in tax_total.iterchildren(qname("cac:TaxSubtotal")):
                category = subtotal.find(qname("cac:TaxCategory"))
                if category is not None and is_vat(r, category):
                    return read_tax_category(r, category, r.decimal(subtotal, "cbc:Percent"))
        r.warn(node, f"line {line_id!r} states no VAT category; read as S without a rate")
        return VatCategory.STANDARD, None

    def item(self, line: Element) -> Item:
        r = self.r
        node = self.required(r.first(line, "cac:Item"), line, "cac:Item")
        r.first(node, "cbc:CatalogueIndicator")
        description = r.text(node, "cbc:Description")
        name = r.text(node, "cbc:Name") or description
        standard = r.first(node, "cac:StandardItemIdentification/cbc:ID")
        standard_id = None
        if standard is not None and standard.text and standard.text.strip():
            standard_id = StandardItemId(
                scheme=(standard.get("schemeID") or "").strip() or "XXX", value=standard.text
            )
        classifications = []
        for code in r.all(node, "cac:CommodityClassification/cbc:ItemClassificationCode"):
            if code.text and code.text.strip():
                classifications.append(ItemClassification(
                    code=code.text,
                    list_id=(code.get("listID") or "").strip() or "XXX",
                    list_version=(code.get("listVersionID") or "").strip() or None,
                ))
        properties = []
        for prop in r.all(node, "cac:AdditionalItemProperty"):
            prop_name, value = r.text(prop, "cbc:Name"), r.text(prop, "cbc:Value")
            if prop_name is not None and value is not None:
                properties.append(ItemProperty(name=prop_name, value=value))
        return Item(
            name=self.required(name, node, "cbc:Name"),
            description=description,
            seller_item_id=r.text(node, "cac:SellersItemIdentification/cbc:ID"),
            buyer_item_id=r.text(node, "cac:BuyersItemIdentification/cbc:ID"),
            standard_item_id=standard_id,
            classifications=tuple(classifications),
            properties=tuple(properties),
            origin_country=r.token(node, "cac:OriginCountry/cbc:IdentificationCode"),
        )

    def price(self, line: Element, quantity: Quantity) -> Price:
        r = self.r
        node = self.required(r.first(line, "cac:Price"), line, "cac:Price")
        amount = self.required(r.amount(node, "cbc:PriceAmount"), node, "cbc:PriceAmount")
        base = None
        base_node = r.first(node, "cbc:BaseQuantity")
        if base_node is not None and (value := r.decimal_of(base_node)) is not None:
            unit = (base_node.get("unitCode") or "").strip() or quantity.unit_code
            if not (value == 1 and unit == quantity.unit_code):
                base = Quantity(value=value, unit_code=unit)
        gross = discount = None
        ac = r.first(node, "cac:AllowanceCharge")
        if ac is not None:
            r.first(ac, "cbc:ChargeIndicator")
            discount = r.amount(ac, "cbc:Amount")
            gross = r.amount(ac, "cbc:BaseAmount")
        return Price(amount=amount, base_quantity=base, gross_amount=gross, discount=discount)


def _plain(value: Decimal) -> Decimal:
    """``value`` without a positive exponent (1E+1 becomes 10), as people write numbers."""
    return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]

