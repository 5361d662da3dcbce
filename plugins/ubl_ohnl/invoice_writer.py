"""Writing a canonical invoice as a UBL-OHNL Invoice, element by element in XSD order.

Every element is appended in the order of the UBL 2.0 sequences (Invoice,
Party, Address, InvoiceLine, Item, ...); the XSD refuses any other order.
What the encoder refuses and what it leaves out is listed in
:mod:`plugins.ubl_ohnl.invoice`.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from gateway.formats import EncodeContext
from gateway.identifiers import OIN
from gateway.model import (
    AllowanceCharge,
    DeliveryTerms,
    DocumentReference,
    Invoice,
    InvoiceLine,
    InvoiceType,
    OrderReference,
    Party,
    PartyId,
    PaymentMeans,
    Period,
    Quantity,
    TaxSubtotal,
)
from gateway.model.tax import round_amount
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.errors import OhnlEncodeError
from plugins.ubl_ohnl.parties import (
    add_address,
    add_contact,
    add_country,
    add_party,
    party_identifications,
)
from plugins.ubl_ohnl.tax import add_tax_category
from plugins.ubl_ohnl.versions import PROFILE_ID, UBL_VERSION, OhnlVersion
from plugins.ubl_ohnl.xmltools import (
    Element,
    add,
    add_amount,
    add_date,
    add_decimal,
    add_indicator,
    add_text,
    decimal_text,
    qname,
    root_element,
)

DOCUMENT = "Invoice"
MAX_INVOICE_ID = 24
"""``cbc:ID`` of an invoice: "Element lengte MOET minder dan 25 posities zijn"."""

ALLOW_PROPOSAL = "allow_proposal"
"""EncodeContext setting that permits writing a voorstelfactuur (VD/VC).

Only the agency side makes proposal invoices; the agency simulator sets it.
"""


class InvoiceWriter:
    """Writes one invoice; :meth:`invoice` returns the root element."""

    def __init__(self, version: OhnlVersion, invoice: Invoice, context: EncodeContext) -> None:
        self.version = version
        self.inv = invoice
        self.context = context
        self.currency = invoice.currency

    def invoice(self) -> Element:
        inv = self.inv
        self.check()
        root = root_element(DOCUMENT)
        self.extensions(root)
        add(root, "cbc:UBLVersionID", UBL_VERSION)
        add(root, "cbc:CustomizationID", self.version.customization_id)
        add(root, "cbc:ProfileID", PROFILE_ID)
        add(root, "cbc:ID", inv.number)
        add_date(root, "cbc:IssueDate", inv.issue_date)
        add(root, "cbc:InvoiceTypeCode", self.type_code(), codes.INVOICE_TYPE_CODE_LIST)
        for note in inv.notes:
            add(root, "cbc:Note", note)
        add_date(root, "cbc:TaxPointDate", inv.tax_point_date)
        add(root, "cbc:DocumentCurrencyCode", inv.currency, codes.CURRENCY_CODE_LIST)
        if inv.tax_currency is not None:
            add(root, "cbc:TaxCurrencyCode", inv.tax_currency, codes.CURRENCY_CODE_LIST)
        add_text(root, "cbc:AccountingCostCode", inv.accounting_cost)
        if inv.invoice_period is not None:
            self.period(root, inv.invoice_period, "Invoice.invoice_period")
        if inv.order_reference is not None:
            self.order_reference(root, inv.order_reference)
        self.billing_reference(root)
        for despatch in inv.despatch_references:
            add(add(root, "cac:DespatchDocumentReference"), "cbc:ID", despatch)
        if inv.receipt_reference is not None:
            add(add(root, "cac:ReceiptDocumentReference"), "cbc:ID", inv.receipt_reference)
        if inv.contract_reference is not None:
            add(add(root, "cac:ContractDocumentReference"), "cbc:ID", inv.contract_reference)
        for i, other in enumerate(inv.other_references):
            self.document_reference(
                root, "cac:AdditionalDocumentReference", other,
                f"Invoice.other_references[{i}]",
            )
        required = self.version.requires_registration_address
        add_party(add(root, "cac:AccountingSupplierParty"), inv.seller, "Invoice.seller",
                  registration_address=required)
        add_party(
            add(root, "cac:AccountingCustomerParty"), inv.buyer, "Invoice.buyer",
            registration_address=required, ids=self.buyer_ids(),
        )
        for tag, other_party, role in (
            ("cac:PayeeParty", inv.payee, "Invoice.payee"),
            ("cac:TaxRepresentativeParty", inv.tax_representative, "Invoice.tax_representative"),
        ):
            if other_party is not None:
                self.other_party(root, tag, other_party, role)
        self.delivery(root)
        for i, means in enumerate(inv.payment_means):
            self.payment_means(root, means, f"Invoice.payment_means[{i}]")
        if inv.payment_terms is not None:
            add(add(root, "cac:PaymentTerms"), "cbc:Note", inv.payment_terms.note)
        for i, ac in enumerate(inv.allowance_charges):
            self.allowance_charge(root, ac, f"Invoice.allowance_charges[{i}]")
        self.tax_total(root)
        self.monetary_total(root)
        for i, line in enumerate(inv.lines):
            self.line(root, line, f"Invoice.lines[{i}]")
        return root

    # -- checks of the document as a whole

    def check(self) -> None:
        inv = self.inv
        if len(inv.number) > MAX_INVOICE_ID:
            raise OhnlEncodeError(
                f"Invoice.number {inv.number!r} has {len(inv.number)} characters; a UBL-OHNL "
                f"invoice number has at most {MAX_INVOICE_ID}"
            )
        has_contact = inv.buyer.contact is not None and inv.buyer.contact.name is not None
        if inv.order_reference is None and inv.accounting_cost is None and not has_contact:
            raise OhnlEncodeError(
                "UBL-OHNL requires an order number (Invoice.order_reference), a cost centre "
                "(Invoice.accounting_cost, cbc:AccountingCostCode) or the name of a contact at "
                "the buyer (Invoice.buyer.contact.name); the invoice has none of them"
            )
        if inv.delivery is None or inv.delivery.date is None:
            raise OhnlEncodeError(
                "UBL-OHNL requires the actual delivery date (Invoice.delivery.date, "
                "cac:Delivery/cbc:ActualDeliveryDate)"
            )
        if inv.tax_total_in_tax_currency is not None:
            raise OhnlEncodeError(
                "Invoice.tax_total_in_tax_currency: a UBL-OHNL invoice has exactly one TaxTotal, "
                "so VAT accounted in a second currency cannot be stated"
            )
        if inv.proposal and not self.context.settings.get(ALLOW_PROPOSAL):
            raise OhnlEncodeError(
                "Invoice.proposal: a voorstelfactuur (VD/VC) is made by the agency, not by the "
                f"supplier; only the agency side (simulator) writes one, with setting "
                f"{ALLOW_PROPOSAL}=true"
            )
        limit = self.version.max_invoice_notes
        if limit is not None and len(inv.notes) > limit:
            raise OhnlEncodeError(
                f"Invoice.notes: UBL-OHNL {self.version.version} allows at most {limit} note(s)"
            )
        limit = self.version.max_payment_means
        if limit is not None and len(inv.payment_means) > limit:
            raise OhnlEncodeError(
                f"Invoice.payment_means: UBL-OHNL {self.version.version} allows at most {limit}"
            )
        if inv.due_date is not None and not inv.payment_means:
            raise OhnlEncodeError(
                "Invoice.due_date: UBL-OHNL states the due date on a payment means "
                "(PaymentMeans/PaymentDueDate); give Invoice.payment_means too"
            )
        if not inv.tax_breakdown:
            raise OhnlEncodeError(
                "Invoice.tax_breakdown: UBL-OHNL requires at least one VAT subtotal"
            )

    def type_code(self) -> str:
        inv = self.inv
        credit = inv.type is InvoiceType.CREDIT
        if inv.proposal:
            code = codes.PROPOSAL_CREDIT if credit else codes.PROPOSAL_DEBIT
        else:
            code = codes.CREDIT if credit else codes.DEBIT
        if inv.type_code == codes.PROFORMA:
            if credit or inv.proposal:
                raise OhnlEncodeError(
                    "Invoice.type_code P (proforma) is a debit invoice, not a credit note or "
                    "a proposal"
                )
            return codes.PROFORMA
        if inv.type_code in codes.INVOICE_TYPE_CODES and inv.type_code != code:
            raise OhnlEncodeError(
                f"Invoice.type_code {inv.type_code!r} contradicts type {inv.type.value} and "
                f"proposal {inv.proposal} (FactuurSoort {code})"
            )
        # Codes of other standards (EN 16931 380, 381, ...) say nothing OHNL
        # can carry beyond type and proposal.
        return code

    def buyer_ids(self) -> list[PartyId]:
        """The buyer's identifications, with the routed agency's OIN among them."""
        buyer = self.inv.buyer
        oin = self.context.agency_oin
        if oin is None:
            return party_identifications(buyer, "Invoice.buyer")
        expected = OIN(oin).value
        stated = [p for p in (*buyer.ids, buyer.legal_id, buyer.endpoint_id)
                  if p is not None and codes.ohnl_scheme(p.scheme) == "OIN"]
        for party_id in stated:
            if "".join(party_id.value.split()) != expected:
                raise OhnlEncodeError(
                    f"Invoice.buyer names OIN {party_id.value!r}, but the invoice is routed to "
                    f"the agency with OIN {expected}; correct the buyer or the route"
                )
        return party_identifications(
            buyer, "Invoice.buyer", required=PartyId(scheme="OIN", value=expected)
        )

    # -- header parts

    def extensions(self, root: Element) -> None:
        # An ExtensionContent holds exactly one element (xsd:any maxOccurs=1),
        # so each NL extension gets its own UBLExtension.
        contents: list[Element] = []
        inv = self.inv
        if inv.last_invoice_on_order is not None:
            element = etree.Element(qname("nl-cbc:LastInvoiceOnOrderIndicator"))
            element.text = "true" if inv.last_invoice_on_order else "false"
            contents.append(element)
        if inv.received_date is not None:
            element = etree.Element(qname("cbc:ReceivedDate"))
            element.text = inv.received_date.isoformat()
            contents.append(element)
        for i, line in enumerate(inv.lines):
            if line.period is not None:
                element = etree.Element(qname("nl-cac:InvoiceLine"))
                add(element, "cbc:ID", line.id)
                self.period(element, line.period, f"Invoice.lines[{i}].period")
                contents.append(element)
        if not contents:
            return
        extensions = add(root, "ext:UBLExtensions")
        for content in contents:
            add(add(extensions, "ext:UBLExtension"), "ext:ExtensionContent").append(content)

    def period(self, parent: Element, period: Period, role: str) -> None:
        if period.start is None or period.end is None:
            raise OhnlEncodeError(
                f"{role}: a UBL-OHNL period needs both a start and an end date"
            )
        code = period.description_code or codes.PERIOD_INVOICE
        if code not in codes.PERIOD_DESCRIPTION_CODES:
            raise OhnlEncodeError(
                f"{role}.description_code {code!r}: UBL-OHNL periods are I (invoice period) "
                "or D (delivery period)"
            )
        element = add(parent, "cac:InvoicePeriod")
        add_date(element, "cbc:StartDate", period.start)
        add_date(element, "cbc:EndDate", period.end)
        add(element, "cbc:DescriptionCode", code, codes.PERIOD_DESCRIPTION_CODE_LIST)

    def order_reference(self, root: Element, reference: OrderReference) -> None:
        element = add(root, "cac:OrderReference")
        add(element, "cbc:ID", reference.id)
        add_text(element, "cbc:SalesOrderID", reference.sales_order_id)
        add_date(element, "cbc:IssueDate", reference.issue_date)

    def billing_reference(self, root: Element) -> None:
        refs = self.inv.billing_references
        credit = self.inv.type is InvoiceType.CREDIT
        if credit and not refs:
            raise OhnlEncodeError(
                "Invoice.billing_references: a UBL-OHNL credit note must name the debit note "
                "it credits (BillingReference/DebitNoteDocumentReference)"
            )
        if len(refs) > 2:
            raise OhnlEncodeError(
                "Invoice.billing_references: UBL-OHNL has one BillingReference, with room for "
                "one invoice and one debit note reference"
            )
        if not refs:
            return
        # A credit note's first reference is the debit note it credits; an
        # invoice's first reference is the invoice it corrects.
        slots = ["cac:DebitNoteDocumentReference", "cac:InvoiceDocumentReference"]
        if not credit:
            slots.reverse()
        by_slot = dict(zip(slots, refs, strict=False))
        element = add(root, "cac:BillingReference")
        for tag in ("cac:InvoiceDocumentReference", "cac:DebitNoteDocumentReference"):
            if tag in by_slot:
                index = refs.index(by_slot[tag])
                self.document_reference(
                    element, tag, by_slot[tag], f"Invoice.billing_references[{index}]"
                )

    def document_reference(
        self, parent: Element, tag: str, reference: DocumentReference, role: str
    ) -> None:
        if reference.attachment is not None:
            raise OhnlEncodeError(
                f"{role}.attachment: UBL-OHNL allows no attachments inside an invoice; send "
                "the file as an envelope attachment (Invoice.attachments)"
            )
        element = add(parent, tag)
        add(element, "cbc:ID", reference.id)
        add_date(element, "cbc:IssueDate", reference.issue_date)
        add_text(element, "cbc:DocumentType", reference.type_code)

    def other_party(self, root: Element, tag: str, party: Party, role: str) -> None:
        # PayeeParty and TaxRepresentativeParty are PartyType themselves, not
        # wrappers around cac:Party; build one and rename it.
        wrapper = etree.Element("wrapper")
        add_party(wrapper, party, role, registration_address=False)
        element = wrapper[0]
        element.tag = qname(tag)
        root.append(element)

    def delivery(self, root: Element) -> None:
        delivery = self.inv.delivery
        assert delivery is not None  # check() made sure
        element = add(root, "cac:Delivery")
        add_date(element, "cbc:ActualDeliveryDate", delivery.date)
        if delivery.address is not None:
            add_address(element, "cac:DeliveryAddress", delivery.address,
                        "Invoice.delivery.address")
        if delivery.location_id is not None:
            location = add(element, "cac:DeliveryLocation")
            add(location, "cbc:ID", delivery.location_id.value,
                {"schemeID": delivery.location_id.scheme})
        if delivery.party_name is not None or delivery.contact is not None:
            party = add(element, "cac:DeliveryParty")
            if delivery.party_name is not None:
                add(add(party, "cac:PartyName"), "cbc:Name", delivery.party_name)
            if delivery.contact is not None:
                add_contact(party, delivery.contact, "Invoice.delivery.contact")
        terms = delivery.terms
        if terms is not None and (terms.code, terms.description, terms.location) != (None,) * 3:
            self.delivery_terms(root, terms)

    def delivery_terms(self, root: Element, terms: DeliveryTerms) -> None:
        element = add(root, "cac:DeliveryTerms")
        if terms.code is None:
            raise OhnlEncodeError(
                "Invoice.delivery.terms.code: UBL-OHNL delivery terms need an Incoterms code "
                f"({', '.join(sorted(codes.DELIVERY_TERMS_CODES))})"
            )
        if terms.code not in codes.DELIVERY_TERMS_CODES:
            raise OhnlEncodeError(
                f"Invoice.delivery.terms.code {terms.code!r} is not in the OHNL "
                "DeliveryTermsCode list (NL-1002)"
            )
        add(element, "cbc:ID", terms.code, codes.DELIVERY_TERMS_SCHEME)
        add_text(element, "cbc:SpecialTerms", terms.description)
        if terms.location is not None:
            add(add(element, "cac:DeliveryLocation"), "cbc:ID", terms.location)

    def payment_means(self, root: Element, means: PaymentMeans, role: str) -> None:
        if means.account_id is None:
            raise OhnlEncodeError(
                f"{role}.account_id: UBL-OHNL requires the payee's account "
                "(PaymentMeans/PayeeFinancialAccount/ID) on every payment means"
            )
        element = add(root, "cac:PaymentMeans")
        add(element, "cbc:PaymentMeansCode", means.code, codes.PAYMENT_MEANS_CODE_LIST)
        add_date(element, "cbc:PaymentDueDate", self.inv.due_date)
        add_text(element, "cbc:InstructionNote", means.text)
        add_text(element, "cbc:PaymentID", means.payment_id)
        if means.debited_account is not None:
            add(add(element, "cac:PayerFinancialAccount"), "cbc:ID", means.debited_account)
        account = add(element, "cac:PayeeFinancialAccount")
        add(account, "cbc:ID", means.account_id)
        add_text(account, "cbc:Name", means.account_name)
        if means.bic is not None:
            branch = add(account, "cac:FinancialInstitutionBranch")
            add(add(branch, "cac:FinancialInstitution"), "cbc:ID", means.bic)

    def allowance_charge(self, parent: Element, ac: AllowanceCharge, role: str) -> None:
        element = add(parent, "cac:AllowanceCharge")
        add_indicator(element, "cbc:ChargeIndicator", ac.is_charge)
        if ac.reason_code is not None:
            add(element, "cbc:AllowanceChargeReasonCode", ac.reason_code,
                codes.ALLOWANCE_REASON_CODE_LIST)
        add_text(element, "cbc:AllowanceChargeReason", ac.reason)
        if ac.percentage is not None:
            # UBL 2.0 defines MultiplierFactorNumeric as the factor the base
            # amount is multiplied by: 10 % is written 0.10.
            add_decimal(element, "cbc:MultiplierFactorNumeric", ac.percentage.scaleb(-2))
        add_amount(element, "cbc:Amount", ac.amount, self.currency)
        add_amount(element, "cbc:BaseAmount", ac.base_amount, self.currency)
        if ac.vat_category is not None:
            # OHNL states the VAT of a document allowance or charge in its own
            # TaxTotal (release notes 1.7), not in a bare TaxCategory.
            rate = ac.vat_rate
            tax = round_amount(ac.amount * rate / 100) if rate is not None else Decimal("0.00")
            total = add(element, "cac:TaxTotal")
            add_amount(total, "cbc:TaxAmount", tax, self.currency)
            subtotal = add(total, "cac:TaxSubtotal")
            add_amount(subtotal, "cbc:TaxableAmount", ac.amount, self.currency)
            add_amount(subtotal, "cbc:TaxAmount", tax, self.currency)
            add_decimal(subtotal, "cbc:Percent", rate)
            add_tax_category(subtotal, "cac:TaxCategory", ac.vat_category, rate, role)

    def tax_total(self, root: Element) -> None:
        element = add(root, "cac:TaxTotal")
        add_amount(element, "cbc:TaxAmount", self.inv.totals.tax_total, self.currency)
        for i, subtotal in enumerate(self.inv.tax_breakdown):
            self.tax_subtotal(element, subtotal, f"Invoice.tax_breakdown[{i}]")

    def tax_subtotal(self, parent: Element, subtotal: TaxSubtotal, role: str) -> None:
        element = add(parent, "cac:TaxSubtotal")
        add_amount(element, "cbc:TaxableAmount", subtotal.taxable_amount, self.currency)
        add_amount(element, "cbc:TaxAmount", subtotal.tax_amount, self.currency)
        add_decimal(element, "cbc:Percent", subtotal.rate)
        add_tax_category(
            element, "cac:TaxCategory", subtotal.category, subtotal.rate, role,
            exemption_reason=subtotal.exemption_reason,
            exemption_reason_code=subtotal.exemption_reason_code,
        )

    def monetary_total(self, root: Element) -> None:
        totals = self.inv.totals
        element = add(root, "cac:LegalMonetaryTotal")
        for name, value in (
            ("cbc:LineExtensionAmount", totals.line_extension),
            ("cbc:TaxExclusiveAmount", totals.tax_exclusive),
            ("cbc:TaxInclusiveAmount", totals.tax_inclusive),
            ("cbc:AllowanceTotalAmount", totals.allowance_total),
            ("cbc:ChargeTotalAmount", totals.charge_total),
            ("cbc:PrepaidAmount", totals.prepaid),
            ("cbc:PayableRoundingAmount", totals.rounding),
            ("cbc:PayableAmount", totals.payable),
        ):
            add_amount(element, name, value, self.currency)

    # -- lines

    def line(self, root: Element, line: InvoiceLine, role: str) -> None:
        if len(line.notes) > 1:
            raise OhnlEncodeError(f"{role}.notes: a UBL-OHNL invoice line has at most one note")
        self.check_unit(line.quantity, f"{role}.quantity")
        element = add(root, "cac:InvoiceLine")
        add(element, "cbc:ID", line.id)
        for note in line.notes:
            add(element, "cbc:Note", note)
        add(element, "cbc:InvoicedQuantity", decimal_text(line.quantity.value),
            {"unitCode": line.quantity.unit_code})
        add_amount(element, "cbc:LineExtensionAmount", line.net_amount, self.currency)
        add_text(element, "cbc:AccountingCostCode", line.accounting_cost)
        add_indicator(element, "cbc:FreeOfChargeIndicator", False)
        if line.order_line_reference is not None:
            order = self.inv.order_reference
            if order is None:
                raise OhnlEncodeError(
                    f"{role}.order_line_reference: UBL-OHNL's OrderLineReference names the "
                    "order too; give Invoice.order_reference"
                )
            reference = add(element, "cac:OrderLineReference")
            add(reference, "cbc:LineID", line.order_line_reference)
            add(add(reference, "cac:OrderReference"), "cbc:ID", order.id)
        for i, ac in enumerate(line.allowance_charges):
            self.allowance_charge(element, ac, f"{role}.allowance_charges[{i}]")
        if line.vat_amount is not None:
            total = add(element, "cac:TaxTotal")
            add_amount(total, "cbc:TaxAmount", line.vat_amount, self.currency)
            subtotal = add(total, "cac:TaxSubtotal")
            add_amount(subtotal, "cbc:TaxableAmount", line.net_amount, self.currency)
            add_amount(subtotal, "cbc:TaxAmount", line.vat_amount, self.currency)
            add_decimal(subtotal, "cbc:Percent", line.vat_rate)
            add_tax_category(subtotal, "cac:TaxCategory", line.vat_category, line.vat_rate, role)
        self.item(element, line, role)
        self.price(element, line, role)

    def check_unit(self, quantity: Quantity, role: str) -> None:
        if quantity.unit_code not in codes.UNITS:
            raise OhnlEncodeError(
                f"{role}.unit_code {quantity.unit_code!r} is not one of the units UBL-OHNL "
                f"allows ({', '.join(sorted(codes.UNITS))})"
            )

    def item(self, parent: Element, line: InvoiceLine, role: str) -> None:
        item = line.item
        element = add(parent, "cac:Item")
        description = item.description
        has_id = item.buyer_item_id or item.seller_item_id or item.standard_item_id
        if description is None and not has_id:
            # OHNL identifies an item by a description or an identification;
            # the seller's words for it are its name.
            description = item.name
        add_text(element, "cbc:Description", description)
        add_indicator(element, "cbc:CatalogueIndicator", False)
        add(element, "cbc:Name", item.name)
        if item.buyer_item_id is not None:
            add(add(element, "cac:BuyersItemIdentification"), "cbc:ID", item.buyer_item_id)
        if item.seller_item_id is not None:
            add(add(element, "cac:SellersItemIdentification"), "cbc:ID", item.seller_item_id)
        if item.standard_item_id is not None:
            add(add(element, "cac:StandardItemIdentification"), "cbc:ID",
                item.standard_item_id.value, {"schemeID": item.standard_item_id.scheme})
        if item.origin_country is not None:
            add_country(element, "cac:OriginCountry", item.origin_country)
        for classification in item.classifications:
            attributes = {"listID": classification.list_id}
            if classification.list_version is not None:
                attributes["listVersionID"] = classification.list_version
            add(add(element, "cac:CommodityClassification"), "cbc:ItemClassificationCode",
                classification.code, attributes)
        add_tax_category(
            element, "cac:ClassifiedTaxCategory", line.vat_category, line.vat_rate, role
        )
        for prop in item.properties:
            property_element = add(element, "cac:AdditionalItemProperty")
            add(property_element, "cbc:Name", prop.name)
            add(property_element, "cbc:Value", prop.value)

    def price(self, parent: Element, line: InvoiceLine, role: str) -> None:
        price = line.price
        element = add(parent, "cac:Price")
        add_amount(element, "cbc:PriceAmount", price.amount, self.currency)
        # OHNL requires a base quantity; one unit of the line is what an
        # absent one means.
        base = price.base_quantity or Quantity(
            value=Decimal("1"), unit_code=line.quantity.unit_code
        )
        self.check_unit(base, f"{role}.price.base_quantity")
        add(element, "cbc:BaseQuantity", decimal_text(base.value), {"unitCode": base.unit_code})
        if price.gross_amount is not None or price.discount is not None:
            discount = price.discount
            if discount is None:
                assert price.gross_amount is not None
                discount = price.gross_amount - price.amount
            ac = add(element, "cac:AllowanceCharge")
            add_indicator(ac, "cbc:ChargeIndicator", False)
            add_amount(ac, "cbc:Amount", discount, self.currency)
            add_amount(ac, "cbc:BaseAmount", price.gross_amount, self.currency)


