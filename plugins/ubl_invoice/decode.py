"""UBL 2.1 Invoice or CreditNote to a canonical invoice, amounts as stated.

The decoder reads what the EN 16931 UBL binding defines (and the UBL places
the encoder uses for data EN 16931 has no term for) and reports everything
else as a warning naming its XPath; see :class:`plugins.ubl.TrackingReader`.
Totals, the VAT breakdown and line amounts are taken as written, never
recomputed, so a foreign invoice is held exactly; where they disagree with
the EN 16931 arithmetic that is a warning too.

Input that cannot be held at all (a required element missing, a malformed
number or date, a VAT category outside EN 16931) raises
:class:`plugins.ubl.UBLReadError` naming the element.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from decimal import Decimal

import attrs
from lxml import etree

from gateway.formats import Decoded
from gateway.model import (
    Address,
    AllowanceCharge,
    Attachment,
    Contact,
    Delivery,
    DeliveryTerms,
    DocumentReference,
    FieldProblem,
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
from plugins.ubl import TrackingReader, UBLReadError, path_of
from plugins.ubl_invoice.documents import UBLDocumentType
from plugins.ubl_invoice.encode import GACCOUNT_MEANS_ID, PROJECT_REFERENCE_TYPE
from plugins.ubl_invoice.schemes import NO_SCHEME

_TRUE = {"true", "1"}
_FALSE = {"false", "0"}


@attrs.frozen
class ReadOptions:
    """What differs between the formats that read the same UBL.

    ``profile_id`` is the ProfileID the format writes itself: a document
    carrying exactly that loses nothing when it is left out of the canonical
    invoice. ``gaccount`` reads the G-account extension: its second payment
    means and the split of the amount due are route settings, not canonical
    data, and are reported rather than mapped.
    """

    profile_id: str | None = None
    gaccount: bool = False


def read_invoice(root: etree._Element, doc: UBLDocumentType, options: ReadOptions) -> Decoded:
    """The canonical invoice in ``root`` (a checked Invoice or CreditNote) and the warnings."""
    reader = _Reader(root, doc, options)
    try:
        invoice = reader.invoice()
    except FieldProblem as exc:
        raise UBLReadError(f"the {doc.root} cannot be held as a canonical invoice: {exc}") from None
    warnings = [
        *reader.warnings,
        *reader.unread(),
        *(f"arithmetic: {v.rule}: {v.message}" for v in invoice.arithmetic_errors()),
    ]
    return Decoded(invoice, tuple(warnings))


class _Reader(TrackingReader):
    def __init__(self, root: etree._Element, doc: UBLDocumentType, options: ReadOptions) -> None:
        super().__init__(root)
        self.doc = doc
        self.options = options
        self.warnings: list[str] = []
        self.currency = ""

    # -- values ----------------------------------------------------------------------

    def amount(self, node: etree._Element | None, path: str,
               currency: str | None = None) -> Decimal | None:
        """An amount; one in another currency than expected is kept, with a warning."""
        if node is None:
            return None
        found = self.first(node, path)
        if found is None:
            return None
        value = self.decimal(found)
        expected = currency or self.currency
        stated = self.attr(found, "currencyID")
        if value is not None and stated is not None and stated != expected:
            self.warnings.append(
                f"{path_of(found)}/@currencyID is {stated}, not {expected}: "
                f"the amount is held as a {expected} amount"
            )
        return value

    def required_amount(self, node: etree._Element, path: str) -> Decimal:
        value = self.amount(node, path)
        if value is None:
            raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
        return value

    def boolean(self, node: etree._Element, path: str) -> bool | None:
        text = self.code(node, path)
        if text is None:
            return None
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise UBLReadError(f"{path_of(node)}/{path}: {text!r} is not true or false")

    def category(self, node: etree._Element, path: str) -> VatCategory:
        code = self.code(node, path)
        found = self.peek(node, path)
        if found is not None and found.get("schemeID") == "UNCL5305":
            self.attr(found, "schemeID")  # names the code list the category is from anyway
        if code is None:
            raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
        try:
            return VatCategory(code)
        except ValueError:
            known = ", ".join(c.value for c in VatCategory)
            raise UBLReadError(
                f"{path_of(node)}/{path}: VAT category {code!r} is not one of EN 16931 ({known})"
            ) from None

    def party_id(self, node: etree._Element | None) -> PartyId | None:
        if node is None:
            return None
        value = self.code(node)
        if value is None:
            return None
        return PartyId(scheme=self.attr(node, "schemeID") or NO_SCHEME, value=value)

    def period(self, node: etree._Element | None) -> Period | None:
        if node is None:
            return None
        start = self.date(node, "cbc:StartDate")
        end = self.date(node, "cbc:EndDate")
        if start is None and end is None:
            # A code alone (BT-8 without dates) has no canonical place; left
            # unread, it is reported as not mapped.
            return None
        return Period(start=start, end=end, description_code=self.code(node, "cbc:DescriptionCode"))

    # -- the document --------------------------------------------------------------------

    def invoice(self) -> Invoice:
        root, doc = self.root, self.doc
        self.mark(root)
        self.first(root, "cbc:CustomizationID")  # checked by detection
        profile = self.peek(root, "cbc:ProfileID")
        if profile is not None and (profile.text or "").strip() == self.options.profile_id:
            self.mark(profile)
        self.currency = self.code(root, "cbc:DocumentCurrencyCode") or ""
        if not self.currency:
            raise UBLReadError(f"/{doc.root}/cbc:DocumentCurrencyCode is required and missing")
        tax_currency = self.code(root, "cbc:TaxCurrencyCode")
        type_code = self.code(root, doc.type_code)
        means = self.payment_means()
        attachments, others, project = self.additional_references()
        if not doc.is_credit_note:
            project = self.code(root, "cac:ProjectReference/cbc:ID")
        lines = tuple(self.line(node) for node in self.all(root, doc.line))
        if not lines:
            raise UBLReadError(f"/{doc.root} has no {doc.line}")
        tax_total, breakdown, in_tax_currency = self.tax_totals(tax_currency)
        return Invoice(
            number=self.required_code(root, "cbc:ID"),
            issue_date=self.required_date(root, "cbc:IssueDate"),
            type=InvoiceType.CREDIT if doc.is_credit_note else InvoiceType.DEBIT,
            # The plain code says nothing the type does not; keeping it would
            # make an invoice the ERP built differ from itself after a round trip.
            type_code=None if type_code == doc.default_type_code else type_code,
            currency=self.currency,
            tax_currency=tax_currency,
            tax_point_date=self.date(root, "cbc:TaxPointDate"),
            due_date=means.due_date if doc.is_credit_note else self.date(root, "cbc:DueDate"),
            buyer_reference=self.text(root, "cbc:BuyerReference"),
            order_reference=self.order_reference(),
            billing_references=tuple(
                ref for node in self.all(root, "cac:BillingReference")
                if (ref := self.document_reference(
                    self.first(node, "cac:InvoiceDocumentReference"))) is not None
            ),
            contract_reference=self.code(root, "cac:ContractDocumentReference/cbc:ID"),
            project_reference=project,
            tender_reference=self.code(root, "cac:OriginatorDocumentReference/cbc:ID"),
            receipt_reference=self.code(root, "cac:ReceiptDocumentReference/cbc:ID"),
            despatch_references=tuple(
                value for node in self.all(root, "cac:DespatchDocumentReference")
                if (value := self.code(node, "cbc:ID")) is not None
            ),
            other_references=others,
            seller=self.party(self.first(root, "cac:AccountingSupplierParty/cac:Party")),
            buyer=self.party(self.first(root, "cac:AccountingCustomerParty/cac:Party")),
            payee=self.optional_party(self.first(root, "cac:PayeeParty")),
            tax_representative=self.optional_party(self.first(root, "cac:TaxRepresentativeParty")),
            delivery=self.delivery(self.first(root, "cac:Delivery")),
            invoice_period=self.period(self.first(root, "cac:InvoicePeriod")),
            payment_means=means.means,
            payment_terms=means.terms,
            notes=tuple(
                text for node in self.all(root, "cbc:Note") if (text := self.text(node))
            ),
            accounting_cost=self.text(root, "cbc:AccountingCost"),
            attachments=attachments,
            lines=lines,
            allowance_charges=tuple(
                self.allowance_charge(node) for node in self.all(root, "cac:AllowanceCharge")
            ),
            tax_breakdown=breakdown,
            totals=self.totals(tax_total),
            tax_total_in_tax_currency=in_tax_currency,
        )

    def required_code(self, node: etree._Element, path: str) -> str:
        value = self.code(node, path)
        if value is None:
            raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
        return value

    def required_date(self, node: etree._Element, path: str) -> dt.date:
        value = self.date(node, path)
        if value is None:
            raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
        return value

    # -- references ----------------------------------------------------------------------

    def order_reference(self) -> OrderReference | None:
        node = self.first(self.root, "cac:OrderReference")
        if node is None:
            return None
        return OrderReference(
            id=self.required_code(node, "cbc:ID"),
            sales_order_id=self.code(node, "cbc:SalesOrderID"),
            issue_date=self.date(node, "cbc:IssueDate"),
        )

    def document_reference(self, node: etree._Element | None) -> DocumentReference | None:
        if node is None:
            return None
        attachment, description = self.attachment(self.first(node, "cac:Attachment"))
        return DocumentReference(
            id=self.required_code(node, "cbc:ID"),
            type_code=self.code(node, "cbc:DocumentTypeCode"),
            issue_date=self.date(node, "cbc:IssueDate"),
            description=self.text(node, "cbc:DocumentDescription"),
            attachment=attrs.evolve(attachment, description=description)
            if attachment is not None else None,
        )

    def attachment(self, node: etree._Element | None) -> tuple[Attachment | None, str | None]:
        """The file an Attachment element holds, and the description of its external reference."""
        if node is None:
            return None, None
        content = mime = filename = None
        embedded = self.first(node, "cbc:EmbeddedDocumentBinaryObject")
        if embedded is not None:
            text = self.text(embedded)
            if text is not None:
                try:
                    content = base64.b64decode("".join(text.split()), validate=True)
                except (binascii.Error, ValueError):
                    raise UBLReadError(
                        f"{path_of(embedded)}: the embedded document is not valid base64"
                    ) from None
            mime = self.attr(embedded, "mimeCode")
            filename = self.attr(embedded, "filename")
        external = self.first(node, "cac:ExternalReference")
        uri = description = None
        if external is not None:
            uri = self.text(external, "cbc:URI")
            description = self.text(external, "cbc:Description")
            if embedded is None:
                mime = self.code(external, "cbc:MimeCode")
                filename = self.text(external, "cbc:FileName")
        if content is None and uri is None:
            return None, description
        return Attachment(
            content=content, mime_type=mime, filename=filename, uri=uri
        ), description

    def additional_references(
        self,
    ) -> tuple[tuple[Attachment, ...], tuple[DocumentReference, ...], str | None]:
        """Attached files, other supporting documents, and a credit note's project reference.

        A supporting document whose id is its own file name (or address),
        with no type and no date, is a file that travels with the invoice:
        that is how the encoder writes canonical attachments.
        """
        files: list[Attachment] = []
        others: list[DocumentReference] = []
        project = None
        for node in self.all(self.root, "cac:AdditionalDocumentReference"):
            reference = self.document_reference(node)
            assert reference is not None
            attachment = reference.attachment
            if (self.doc.is_credit_note and project is None
                    and reference.type_code == PROJECT_REFERENCE_TYPE
                    and attachment is None and reference.issue_date is None
                    and reference.description is None):
                project = reference.id
            elif (attachment is not None and reference.type_code is None
                  and reference.issue_date is None and attachment.description is None
                  and reference.id in (attachment.filename, attachment.uri)):
                files.append(attrs.evolve(attachment, description=reference.description))
            else:
                others.append(reference)
        return tuple(files), tuple(others), project

    # -- parties -------------------------------------------------------------------------

    def optional_party(self, node: etree._Element | None) -> Party | None:
        return self.party(node) if node is not None else None

    def party(self, node: etree._Element | None) -> Party:
        if node is None:
            return Party()
        vat_id = tax_id = None
        for scheme in self.all(node, "cac:PartyTaxScheme"):
            company = self.code(scheme, "cbc:CompanyID")
            kind = (self.code(scheme, "cac:TaxScheme/cbc:ID") or "").upper()
            if kind == "VAT" and vat_id is None:
                vat_id = company
            elif kind != "VAT" and tax_id is None:
                tax_id = company
        legal = self.first(node, "cac:PartyLegalEntity")
        contact = self.contact(self.first(node, "cac:Contact"))
        return Party(
            name=self.text(node, "cac:PartyName/cbc:Name"),
            registration_name=self.text(legal, "cbc:RegistrationName")
            if legal is not None else None,
            ids=tuple(
                pid for each in self.all(node, "cac:PartyIdentification")
                if (pid := self.party_id(self.first(each, "cbc:ID"))) is not None
            ),
            legal_id=self.party_id(self.first(legal, "cbc:CompanyID"))
            if legal is not None else None,
            legal_form=self.text(legal, "cbc:CompanyLegalForm") if legal is not None else None,
            vat_id=vat_id,
            tax_registration_id=tax_id,
            address=self.address(self.first(node, "cac:PostalAddress")),
            contact=contact,
            endpoint_id=self.party_id(self.first(node, "cbc:EndpointID")),
        )

    def contact(self, node: etree._Element | None) -> Contact | None:
        if node is None:
            return None
        contact = Contact(
            name=self.text(node, "cbc:Name"),
            telephone=self.text(node, "cbc:Telephone"),
            email=self.text(node, "cbc:ElectronicMail"),
        )
        return contact if contact != Contact() else None

    def address(self, node: etree._Element | None) -> Address | None:
        if node is None:
            return None
        return Address(
            street=self.text(node, "cbc:StreetName"),
            additional_street=self.text(node, "cbc:AdditionalStreetName"),
            address_line=self.text(node, "cac:AddressLine/cbc:Line"),
            building_number=self.text(node, "cbc:BuildingNumber"),
            postbox=self.text(node, "cbc:Postbox"),
            postal_zone=self.text(node, "cbc:PostalZone"),
            city=self.text(node, "cbc:CityName"),
            country_subdivision=self.text(node, "cbc:CountrySubentity"),
            country_code=self.code(node, "cac:Country/cbc:IdentificationCode"),
        )

    def delivery(self, node: etree._Element | None) -> Delivery | None:
        if node is None:
            return None
        location = self.first(node, "cac:DeliveryLocation")
        party = self.first(node, "cac:DeliveryParty")
        terms = self.first(node, "cac:DeliveryTerms")
        return Delivery(
            date=self.date(node, "cbc:ActualDeliveryDate"),
            period=self.period(self.first(node, "cac:PromisedDeliveryPeriod")),
            address=self.address(self.first(location, "cac:Address"))
            if location is not None else None,
            location_id=self.party_id(self.first(location, "cbc:ID"))
            if location is not None else None,
            party_name=self.text(party, "cac:PartyName/cbc:Name") if party is not None else None,
            contact=self.contact(self.first(party, "cac:Contact")) if party is not None else None,
            terms=DeliveryTerms(
                code=self.code(terms, "cbc:ID"),
                description=self.text(terms, "cbc:SpecialTerms"),
                location=self.text(terms, "cac:DeliveryLocation/cbc:ID"),
            ) if terms is not None else None,
        )

    # -- payment -------------------------------------------------------------------------

    def payment_means(self) -> _Payment:
        gaccount = self.options.gaccount
        means: list[PaymentMeans] = []
        due_date = None
        for index, node in enumerate(self.peek_all(self.root, "cac:PaymentMeans")):
            if gaccount:
                # The G-account itself comes from the route settings on the
                # way out; left unread, it is reported with its account.
                if self.peek_text(node, "cbc:ID") == GACCOUNT_MEANS_ID:
                    continue
                self.code(node, "cbc:ID")
            self.mark(node)
            if index == 0 and self.doc.is_credit_note:
                due_date = self.date(node, "cbc:PaymentDueDate")
            account = self.first(node, "cac:PayeeFinancialAccount")
            mandate = self.first(node, "cac:PaymentMandate")
            means.append(PaymentMeans(
                code=self.required_code(node, "cbc:PaymentMeansCode"),
                text=self.attr(self.first(node, "cbc:PaymentMeansCode"), "name"),
                payment_id=self.text(node, "cbc:PaymentID"),
                account_id=self.code(account, "cbc:ID") if account is not None else None,
                account_name=self.text(account, "cbc:Name") if account is not None else None,
                bic=self.code(account, "cac:FinancialInstitutionBranch/cbc:ID")
                if account is not None else None,
                mandate_reference=self.code(mandate, "cbc:ID") if mandate is not None else None,
                debited_account=self.code(mandate, "cac:PayerFinancialAccount/cbc:ID")
                if mandate is not None else None,
            ))
        terms = None
        for node in self.peek_all(self.root, "cac:PaymentTerms"):
            note = self.peek_text(node, "cbc:Note")
            if note is None:
                continue
            if gaccount and self.peek_text(node, "cbc:PaymentMeansID") == GACCOUNT_MEANS_ID:
                continue
            if gaccount:
                self.code(node, "cbc:PaymentMeansID")
            terms = PaymentTerms(note=self.text(node, "cbc:Note") or note)
            break
        return _Payment(tuple(means), terms, due_date)

    # -- amounts ---------------------------------------------------------------------------

    def allowance_charge(self, node: etree._Element) -> AllowanceCharge:
        indicator = self.boolean(node, "cbc:ChargeIndicator")
        if indicator is None:
            raise UBLReadError(f"{path_of(node)}/cbc:ChargeIndicator is required and missing")
        category = self.first(node, "cac:TaxCategory")
        if category is not None:
            self.code(category, "cac:TaxScheme/cbc:ID")
        return AllowanceCharge(
            is_charge=indicator,
            amount=self.required_amount(node, "cbc:Amount"),
            base_amount=self.amount(node, "cbc:BaseAmount"),
            percentage=self.decimal(node, "cbc:MultiplierFactorNumeric"),
            reason=self.text(node, "cbc:AllowanceChargeReason"),
            reason_code=self.code(node, "cbc:AllowanceChargeReasonCode"),
            vat_category=self.category(category, "cbc:ID") if category is not None else None,
            vat_rate=self.decimal(category, "cbc:Percent") if category is not None else None,
        )

    def tax_totals(
        self, tax_currency: str | None
    ) -> tuple[Decimal, tuple[TaxSubtotal, ...], Decimal | None]:
        """The VAT total, its breakdown, and the VAT total in accounting currency (BT-111)."""
        main = other = None
        for node in self.peek_all(self.root, "cac:TaxTotal"):
            amount_node = self.peek(node, "cbc:TaxAmount")
            currency = amount_node.get("currencyID") if amount_node is not None else None
            if main is None and (currency in (None, self.currency)
                                 or self.peek(node, "cac:TaxSubtotal") is not None):
                main = self.mark(node)
            elif other is None and tax_currency is not None and currency == tax_currency:
                other = self.mark(node)
        if main is None:
            raise UBLReadError(f"/{self.doc.root}/cac:TaxTotal is required and missing")
        breakdown = tuple(
            self.tax_subtotal(node) for node in self.all(main, "cac:TaxSubtotal")
        )
        in_tax_currency = (
            self.amount(other, "cbc:TaxAmount", tax_currency) if other is not None else None
        )
        return self.required_amount(main, "cbc:TaxAmount"), breakdown, in_tax_currency

    def tax_subtotal(self, node: etree._Element) -> TaxSubtotal:
        category = self.first(node, "cac:TaxCategory")
        if category is None:
            raise UBLReadError(f"{path_of(node)}/cac:TaxCategory is required and missing")
        self.code(category, "cac:TaxScheme/cbc:ID")
        return TaxSubtotal(
            category=self.category(category, "cbc:ID"),
            rate=self.decimal(category, "cbc:Percent"),
            taxable_amount=self.required_amount(node, "cbc:TaxableAmount"),
            tax_amount=self.required_amount(node, "cbc:TaxAmount"),
            exemption_reason=self.text(category, "cbc:TaxExemptionReason"),
            exemption_reason_code=self.code(category, "cbc:TaxExemptionReasonCode"),
        )

    def totals(self, tax_total: Decimal) -> InvoiceTotals:
        node = self.first(self.root, "cac:LegalMonetaryTotal")
        if node is None:
            raise UBLReadError(f"/{self.doc.root}/cac:LegalMonetaryTotal is required and missing")
        return InvoiceTotals(
            line_extension=self.required_amount(node, "cbc:LineExtensionAmount"),
            allowance_total=self.amount(node, "cbc:AllowanceTotalAmount"),
            charge_total=self.amount(node, "cbc:ChargeTotalAmount"),
            tax_exclusive=self.required_amount(node, "cbc:TaxExclusiveAmount"),
            tax_total=tax_total,
            tax_inclusive=self.required_amount(node, "cbc:TaxInclusiveAmount"),
            prepaid=self.amount(node, "cbc:PrepaidAmount"),
            rounding=self.amount(node, "cbc:PayableRoundingAmount"),
            payable=self.required_amount(node, "cbc:PayableAmount"),
        )

    # -- lines -----------------------------------------------------------------------------

    def line(self, node: etree._Element) -> InvoiceLine:
        quantity_node = self.first(node, self.doc.quantity)
        if quantity_node is None:
            raise UBLReadError(f"{path_of(node)}/{self.doc.quantity} is required and missing")
        quantity_value = self.decimal(quantity_node)
        unit = self.attr(quantity_node, "unitCode")
        if quantity_value is None or unit is None:
            raise UBLReadError(
                f"{path_of(quantity_node)} needs a quantity and a unitCode attribute"
            )
        quantity = Quantity(value=quantity_value, unit_code=unit)
        item_node = self.first(node, "cac:Item")
        if item_node is None:
            raise UBLReadError(f"{path_of(node)}/cac:Item is required and missing")
        tax = self.first(item_node, "cac:ClassifiedTaxCategory")
        if tax is None:
            raise UBLReadError(
                f"{path_of(item_node)}/cac:ClassifiedTaxCategory is required and missing"
            )
        self.code(tax, "cac:TaxScheme/cbc:ID")
        return InvoiceLine(
            id=self.required_code(node, "cbc:ID"),
            quantity=quantity,
            price=self.price(node, unit),
            allowance_charges=tuple(
                self.allowance_charge(each) for each in self.all(node, "cac:AllowanceCharge")
            ),
            net_amount=self.required_amount(node, "cbc:LineExtensionAmount"),
            item=self.item(item_node),
            vat_category=self.category(tax, "cbc:ID"),
            vat_rate=self.decimal(tax, "cbc:Percent"),
            vat_amount=self.amount(node, "cac:TaxTotal/cbc:TaxAmount"),
            order_line_reference=self.code(node, "cac:OrderLineReference/cbc:LineID"),
            period=self.period(self.first(node, "cac:InvoicePeriod")),
            notes=tuple(text for each in self.all(node, "cbc:Note") if (text := self.text(each))),
            accounting_cost=self.text(node, "cbc:AccountingCost"),
        )

    def price(self, line: etree._Element, unit: str) -> Price:
        node = self.first(line, "cac:Price")
        if node is None:
            raise UBLReadError(f"{path_of(line)}/cac:Price is required and missing")
        amount = self.required_amount(node, "cbc:PriceAmount")
        base = self.first(node, "cbc:BaseQuantity")
        base_value = self.decimal(base) if base is not None else None
        discount = gross = None
        for charge in self.peek_all(node, "cac:AllowanceCharge"):
            # A charge on the price is not EN 16931 (PEPPOL-EN16931-R044): left unread.
            if (self.peek_text(charge, "cbc:ChargeIndicator") or "").lower() in _FALSE:
                self.boolean(charge, "cbc:ChargeIndicator")
                discount = self.amount(charge, "cbc:Amount")
                gross = self.amount(charge, "cbc:BaseAmount")
                break
        return Price(
            amount=amount,
            base_quantity=Quantity(
                value=base_value, unit_code=self.attr(base, "unitCode") or unit
            ) if base_value is not None else None,
            gross_amount=gross,
            discount=discount,
        )

    def item(self, node: etree._Element) -> Item:
        name = self.text(node, "cbc:Name")
        description = self.text(node, "cbc:Description")
        if name is None and description is None:
            raise UBLReadError(f"{path_of(node)} has neither a cbc:Name nor a cbc:Description")
        standard = self.first(node, "cac:StandardItemIdentification/cbc:ID")
        standard_value = self.code(standard) if standard is not None else None
        classifications = []
        for each in self.peek_all(node, "cac:CommodityClassification"):
            code_node = self.peek(each, "cbc:ItemClassificationCode")
            if code_node is None or not code_node.get("listID") or not (code_node.text or ""):
                continue  # left unread: reported as not mapped
            classifications.append(ItemClassification(
                code=self.code(code_node) or "",
                list_id=self.attr(code_node, "listID") or "",
                list_version=self.attr(code_node, "listVersionID"),
            ))
        properties = []
        for each in self.peek_all(node, "cac:AdditionalItemProperty"):
            if self.peek_text(each, "cbc:Name") and self.peek_text(each, "cbc:Value"):
                properties.append(ItemProperty(
                    name=self.text(each, "cbc:Name") or "", value=self.text(each, "cbc:Value") or ""
                ))
        return Item(
            name=name or description or "",
            description=description,
            seller_item_id=self.code(node, "cac:SellersItemIdentification/cbc:ID"),
            buyer_item_id=self.code(node, "cac:BuyersItemIdentification/cbc:ID"),
            standard_item_id=StandardItemId(
                scheme=self.attr(standard, "schemeID") or NO_SCHEME, value=standard_value
            ) if standard is not None and standard_value is not None else None,
            classifications=tuple(classifications),
            properties=tuple(properties),
            origin_country=self.code(node, "cac:OriginCountry/cbc:IdentificationCode"),
        )


@attrs.frozen
class _Payment:
    means: tuple[PaymentMeans, ...]
    terms: PaymentTerms | None
    due_date: dt.date | None
