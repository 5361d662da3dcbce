"""Peppol BIS Order (T01) to and from the canonical :class:`gateway.model.Order`.

The T01 rules are closed-world: an element outside the Peppol data model is
fatal, so the writer writes only what T01 knows, in UBL 2.1 sequence order.
The reader maps what the model holds; the rest becomes a warning per XPath.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from lxml import etree

from gateway.model import (
    AllowanceCharge,
    AnticipatedTotals,
    Delivery,
    DeliveryTerms,
    DocumentReference,
    Item,
    ItemClassification,
    ItemProperty,
    Order,
    OrderLine,
    Party,
    PaymentTerms,
    Period,
    Price,
    Quantity,
    StandardItemId,
    VatCategory,
)
from plugins.ubl import (
    TrackingReader,
    UBLReadError,
    element,
    format_amount,
    format_date,
    format_decimal,
    make_root,
    path_of,
    sub,
    to_bytes,
)
from plugins.ubl_ordering.parties import (
    read_address,
    read_contact,
    read_party,
    read_party_id,
    read_period,
    scheme_attribute,
    write_address,
    write_contact,
    write_party,
    write_period,
)


@attrs.frozen
class Header:
    customization_id: str
    profile_id: str


# -- writing -----------------------------------------------------------------------


def _amount(parent: etree._Element, name: str, value: Decimal | None, currency: str) -> None:
    if value is not None:
        sub(parent, name, format_amount(value), currencyID=currency)


def _write_allowance_charge(parent: etree._Element, charge: AllowanceCharge, currency: str,
                            *, with_tax: bool) -> None:
    node = element(parent, "cac:AllowanceCharge")
    sub(node, "cbc:ChargeIndicator", "true" if charge.is_charge else "false")
    sub(node, "cbc:AllowanceChargeReasonCode", charge.reason_code)
    sub(node, "cbc:AllowanceChargeReason", charge.reason)
    if charge.percentage is not None:
        sub(node, "cbc:MultiplierFactorNumeric", format_decimal(charge.percentage))
    _amount(node, "cbc:Amount", charge.amount, currency)
    _amount(node, "cbc:BaseAmount", charge.base_amount, currency)
    if with_tax and charge.vat_category is not None:
        _write_tax_category(node, "cac:TaxCategory", charge.vat_category, charge.vat_rate)


def _write_tax_category(parent: etree._Element, name: str, category: VatCategory,
                        rate: Decimal | None) -> None:
    node = element(parent, name)
    sub(node, "cbc:ID", category.value)
    sub(node, "cbc:Percent", format_decimal(rate) if rate is not None else None)
    sub(element(node, "cac:TaxScheme"), "cbc:ID", "VAT")


def _write_delivery(parent: etree._Element, delivery: Delivery) -> None:
    node = element(parent, "cac:Delivery")
    if delivery.address is not None or delivery.location_id is not None:
        location = element(node, "cac:DeliveryLocation")
        if delivery.location_id is not None:
            sub(location, "cbc:ID", delivery.location_id.value,
                schemeID=scheme_attribute(delivery.location_id))
        if delivery.address is not None:
            write_address(location, "cac:Address", delivery.address)
    write_period(node, "cac:RequestedDeliveryPeriod", delivery.date, delivery.period)
    if delivery.party_name is not None:
        party = element(node, "cac:DeliveryParty")
        sub(element(party, "cac:PartyName"), "cbc:Name", delivery.party_name)
        if delivery.contact is not None:
            write_contact(party, delivery.contact)


def _write_line(parent: etree._Element, line: OrderLine, currency: str) -> None:
    order_line = element(parent, "cac:OrderLine")
    for note in line.notes:
        sub(order_line, "cbc:Note", note)
    node = element(order_line, "cac:LineItem")
    sub(node, "cbc:ID", line.id)
    sub(node, "cbc:Quantity", format_decimal(line.quantity.value),
        unitCode=line.quantity.unit_code)
    _amount(node, "cbc:LineExtensionAmount", line.line_amount, currency)
    if line.partial_delivery_allowed is not None:
        sub(node, "cbc:PartialDeliveryIndicator",
            "true" if line.partial_delivery_allowed else "false")
    sub(node, "cbc:AccountingCost", line.accounting_cost)
    if line.delivery is not None:
        delivery = element(node, "cac:Delivery")
        write_period(delivery, "cac:RequestedDeliveryPeriod", line.delivery.date,
                     line.delivery.period)
    for charge in line.allowance_charges:
        _write_allowance_charge(node, charge, currency, with_tax=False)
    if line.price is not None:
        _write_price(node, line.price, currency)
    _write_item(node, line)


def _write_price(parent: etree._Element, price: Price, currency: str) -> None:
    node = element(parent, "cac:Price")
    sub(node, "cbc:PriceAmount", format_decimal(price.amount), currencyID=currency)
    if price.base_quantity is not None:
        sub(node, "cbc:BaseQuantity", format_decimal(price.base_quantity.value),
            unitCode=price.base_quantity.unit_code)
    if price.discount is not None or price.gross_amount is not None:
        charge = element(node, "cac:AllowanceCharge")
        sub(charge, "cbc:ChargeIndicator", "false")
        _amount(charge, "cbc:Amount", price.discount or Decimal(0), currency)
        _amount(charge, "cbc:BaseAmount", price.gross_amount, currency)


def _write_item(parent: etree._Element, line: OrderLine) -> None:
    item = line.item
    node = element(parent, "cac:Item")
    sub(node, "cbc:Description", item.description)
    sub(node, "cbc:Name", item.name)
    for name, value in (("cac:BuyersItemIdentification", item.buyer_item_id),
                        ("cac:SellersItemIdentification", item.seller_item_id)):
        if value is not None:
            sub(element(node, name), "cbc:ID", value)
    if item.standard_item_id is not None:
        sub(element(node, "cac:StandardItemIdentification"), "cbc:ID",
            item.standard_item_id.value, schemeID=item.standard_item_id.scheme)
    for classification in item.classifications:
        sub(element(node, "cac:CommodityClassification"), "cbc:ItemClassificationCode",
            classification.code, listID=classification.list_id,
            listVersionID=classification.list_version)
    if line.vat_category is not None:
        _write_tax_category(node, "cac:ClassifiedTaxCategory", line.vat_category, line.vat_rate)
    for prop in item.properties:
        property_node = element(node, "cac:AdditionalItemProperty")
        sub(property_node, "cbc:Name", prop.name)
        sub(property_node, "cbc:Value", prop.value)


def unwritable(order: Order) -> list[str]:
    """What ``order`` holds that T01 has no element for, one phrase per field.

    Writing without it would drop data in silence, and a simulator that sends
    less than it was given tests nothing.
    """
    found = []
    for name in ("buyer_reference", "attachments", "tax_breakdown"):
        if getattr(order, name):
            found.append(name)
    if order.validity_period is not None and order.validity_period.start is not None:
        found.append("validity_period.start (T01 has only the end date)")
    if any(ref.type_code or ref.issue_date or ref.attachment for ref in order.other_references):
        found.append("other_references type code, issue date or attachment")
    parties = [("buyer", order.buyer), ("seller", order.seller)]
    if order.invoicee is not None:
        parties.append(("invoicee", order.invoicee))
    for role, party in parties:
        for name in ("legal_form", "tax_registration_id"):
            if getattr(party, name) is not None:
                found.append(f"{role}.{name}")
        if party.address is not None:
            for name in ("building_number", "building_addition", "postbox"):
                if getattr(party.address, name) is not None:
                    found.append(f"{role}.address.{name}")
    for line in order.lines:
        if line.vat_amount is not None:
            found.append(f"line {line.id} vat_amount")
        if line.item.origin_country is not None:
            found.append(f"line {line.id} item origin_country")
        delivery = line.delivery
        if delivery is not None and attrs.evolve(delivery, date=None, period=None) != Delivery():
            found.append(f"line {line.id} delivery beyond its date or period")
    return found


def write_order(order: Order, header: Header) -> bytes:
    root = make_root("Order")
    currency = order.currency
    sub(root, "cbc:CustomizationID", header.customization_id)
    sub(root, "cbc:ProfileID", header.profile_id)
    sub(root, "cbc:ID", order.number)
    sub(root, "cbc:IssueDate", format_date(order.issue_date))
    sub(root, "cbc:IssueTime", order.issue_time.isoformat() if order.issue_time else None)
    sub(root, "cbc:OrderTypeCode", order.order_type)
    # T01 has one order note; several canonical notes share it, a line each.
    sub(root, "cbc:Note", "\n".join(order.notes) if order.notes else None)
    sub(root, "cbc:DocumentCurrencyCode", currency)
    sub(root, "cbc:CustomerReference", order.customer_reference)
    sub(root, "cbc:AccountingCost", order.accounting_cost)
    if order.validity_period is not None and order.validity_period.end is not None:
        sub(element(root, "cac:ValidityPeriod"), "cbc:EndDate",
            format_date(order.validity_period.end))
    if order.quotation_reference is not None:
        sub(element(root, "cac:QuotationDocumentReference"), "cbc:ID",
            order.quotation_reference)
    for reference in order.other_references:
        node = element(root, "cac:AdditionalDocumentReference")
        sub(node, "cbc:ID", reference.id)
        sub(node, "cbc:DocumentType", reference.description)
    if order.contract_reference is not None:
        sub(element(root, "cac:Contract"), "cbc:ID", order.contract_reference)
    if order.project_reference is not None:
        sub(element(root, "cac:ProjectReference"), "cbc:ID", order.project_reference)
    write_party(root, "cac:BuyerCustomerParty", order.buyer, full=True)
    write_party(root, "cac:SellerSupplierParty", order.seller, full=True)
    if order.invoicee is not None:
        write_party(root, "cac:AccountingCustomerParty", order.invoicee, full=True)
    if order.delivery is not None:
        _write_delivery(root, order.delivery)
    terms = order.delivery.terms if order.delivery is not None else None
    if terms is not None:
        node = element(root, "cac:DeliveryTerms")
        sub(node, "cbc:ID", terms.code)
        sub(node, "cbc:SpecialTerms", terms.description)
        if terms.location is not None:
            sub(element(node, "cac:DeliveryLocation"), "cbc:ID", terms.location)
    if order.payment_terms is not None:
        sub(element(root, "cac:PaymentTerms"), "cbc:Note", order.payment_terms.note)
    for charge in order.allowance_charges:
        _write_allowance_charge(root, charge, currency, with_tax=True)
    totals = order.totals
    if totals is not None and totals.tax_total is not None:
        _amount(element(root, "cac:TaxTotal"), "cbc:TaxAmount", totals.tax_total, currency)
    if totals is not None:
        node = element(root, "cac:AnticipatedMonetaryTotal")
        line_extension = totals.line_extension
        if line_extension is None:
            # Required by T01 within the total; the sum of the lines is what it means.
            line_extension = sum((line.line_amount or Decimal(0) for line in order.lines),
                                 Decimal(0))
        _amount(node, "cbc:LineExtensionAmount", line_extension, currency)
        _amount(node, "cbc:TaxExclusiveAmount", totals.tax_exclusive, currency)
        _amount(node, "cbc:TaxInclusiveAmount", totals.tax_inclusive, currency)
        _amount(node, "cbc:AllowanceTotalAmount", totals.allowance_total, currency)
        _amount(node, "cbc:ChargeTotalAmount", totals.charge_total, currency)
        _amount(node, "cbc:PrepaidAmount", totals.prepaid, currency)
        _amount(node, "cbc:PayableRoundingAmount", totals.rounding, currency)
        _amount(node, "cbc:PayableAmount", totals.payable, currency)
    for line in order.lines:
        _write_line(root, line, currency)
    return to_bytes(root)


# -- reading --------------------------------------------------------------------------


def _required(reader: TrackingReader, node: etree._Element, path: str) -> str:
    value = reader.code(node, path)
    if value is None:
        raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
    return value


def _bool(reader: TrackingReader, node: etree._Element, path: str) -> bool | None:
    text = reader.code(node, path)
    if text is None:
        return None
    if text not in ("true", "false", "1", "0"):
        raise UBLReadError(f"{path_of(node)}/{path}: {text!r} is not a boolean")
    return text in ("true", "1")


def _vat(reader: TrackingReader, node: etree._Element | None
         ) -> tuple[VatCategory | None, Decimal | None]:
    if node is None:
        return None, None
    code = reader.peek_text(node, "cbc:ID")
    try:
        category = VatCategory(code) if code is not None else None
    except ValueError:
        return None, None  # an unknown category stays unread and is reported
    reader.code(node, "cbc:ID")
    if reader.peek_text(node, "cac:TaxScheme/cbc:ID") == "VAT":
        reader.code(node, "cac:TaxScheme/cbc:ID")
    return category, reader.decimal(node, "cbc:Percent")


def _read_allowance_charge(reader: TrackingReader, node: etree._Element) -> AllowanceCharge:
    is_charge = _bool(reader, node, "cbc:ChargeIndicator")
    if is_charge is None:
        raise UBLReadError(f"{path_of(node)}/cbc:ChargeIndicator is required")
    amount = reader.first(node, "cbc:Amount")
    if amount is not None:
        reader.attr(amount, "currencyID")
    base = reader.peek(node, "cbc:BaseAmount")
    if base is not None:
        reader.attr(base, "currencyID")
    category, rate = _vat(reader, reader.peek(node, "cac:TaxCategory"))
    return AllowanceCharge(
        is_charge=is_charge,
        amount=reader.required_decimal(node, "cbc:Amount"),
        base_amount=reader.decimal(node, "cbc:BaseAmount"),
        percentage=reader.decimal(node, "cbc:MultiplierFactorNumeric"),
        reason=reader.text(node, "cbc:AllowanceChargeReason"),
        reason_code=reader.code(node, "cbc:AllowanceChargeReasonCode"),
        vat_category=category,
        vat_rate=rate,
    )


def _money(reader: TrackingReader, node: etree._Element, path: str) -> Decimal | None:
    found = reader.peek(node, path)
    if found is None:
        return None
    reader.attr(found, "currencyID")
    return reader.decimal(found)


def _quantity(reader: TrackingReader, node: etree._Element | None) -> Quantity | None:
    if node is None:
        return None
    value = reader.decimal(node)
    unit = reader.attr(node, "unitCode")
    if value is None:
        return None
    if unit is None:
        raise UBLReadError(f"{path_of(node)}/@unitCode is required")
    return Quantity(value=value, unit_code=unit)


def _read_price(reader: TrackingReader, node: etree._Element) -> Price:
    amount = _money(reader, node, "cbc:PriceAmount")
    if amount is None:
        raise UBLReadError(f"{path_of(node)}/cbc:PriceAmount is required")
    discount = gross = None
    charge = reader.peek(node, "cac:AllowanceCharge")
    if charge is not None and reader.peek_text(charge, "cbc:ChargeIndicator") == "false":
        reader.code(charge, "cbc:ChargeIndicator")
        discount = _money(reader, charge, "cbc:Amount")
        gross = _money(reader, charge, "cbc:BaseAmount")
    base = _quantity(reader, reader.peek(node, "cbc:BaseQuantity"))
    return Price(amount=amount, base_quantity=base, gross_amount=gross, discount=discount)


def _read_item(reader: TrackingReader, node: etree._Element) -> Item:
    standard = reader.peek(node, "cac:StandardItemIdentification/cbc:ID")
    standard_id = None
    if standard is not None:
        value, scheme = reader.code(standard), reader.attr(standard, "schemeID")
        if value is not None and scheme is not None:
            standard_id = StandardItemId(scheme=scheme, value=value)
    classifications = []
    for code in reader.peek_all(node, "cac:CommodityClassification/cbc:ItemClassificationCode"):
        value, list_id = reader.code(code), reader.attr(code, "listID")
        if value is not None and list_id is not None:
            classifications.append(ItemClassification(
                code=value, list_id=list_id, list_version=reader.attr(code, "listVersionID")))
    properties = []
    for prop in reader.peek_all(node, "cac:AdditionalItemProperty"):
        name, value = reader.peek_text(prop, "cbc:Name"), reader.peek_text(prop, "cbc:Value")
        if name is not None and value is not None:
            properties.append(ItemProperty(name=reader.text(prop, "cbc:Name") or name,
                                           value=reader.text(prop, "cbc:Value") or value))
    return Item(
        name=reader.required_text(node, "cbc:Name"),
        description=reader.text(node, "cbc:Description"),
        buyer_item_id=reader.code(node, "cac:BuyersItemIdentification/cbc:ID"),
        seller_item_id=reader.code(node, "cac:SellersItemIdentification/cbc:ID"),
        standard_item_id=standard_id,
        classifications=tuple(classifications),
        properties=tuple(properties),
    )


def _read_line(reader: TrackingReader, order_line: etree._Element) -> OrderLine:
    notes = tuple(note for each in reader.peek_all(order_line, "cbc:Note")
                  if (note := reader.text(each)) is not None)
    node = reader.first(order_line, "cac:LineItem")
    if node is None:
        raise UBLReadError(f"{path_of(order_line)}/cac:LineItem is required")
    quantity = _quantity(reader, reader.peek(node, "cbc:Quantity"))
    if quantity is None:
        raise UBLReadError(f"{path_of(node)}/cbc:Quantity is required")
    delivery = None
    line_delivery = reader.peek(node, "cac:Delivery")
    if line_delivery is not None:
        requested = reader.peek(line_delivery, "cac:RequestedDeliveryPeriod")
        date, period = read_period(reader, requested)
        if date is not None or period is not None:
            delivery = Delivery(date=date, period=period)
    price = reader.peek(node, "cac:Price")
    item = reader.peek(node, "cac:Item")
    if item is None:
        raise UBLReadError(f"{path_of(node)}/cac:Item is required")
    category, rate = _vat(reader, reader.peek(item, "cac:ClassifiedTaxCategory"))
    return OrderLine(
        id=_required(reader, node, "cbc:ID"),
        quantity=quantity,
        price=_read_price(reader, price) if price is not None else None,
        line_amount=_money(reader, node, "cbc:LineExtensionAmount"),
        item=_read_item(reader, item),
        vat_category=category,
        vat_rate=rate,
        allowance_charges=tuple(_read_allowance_charge(reader, each)
                                for each in reader.peek_all(node, "cac:AllowanceCharge")),
        delivery=delivery,
        partial_delivery_allowed=_bool(reader, node, "cbc:PartialDeliveryIndicator"),
        accounting_cost=reader.text(node, "cbc:AccountingCost"),
        notes=notes,
    )


def _read_delivery(reader: TrackingReader, root: etree._Element) -> Delivery | None:
    node = reader.peek(root, "cac:Delivery")
    terms_node = reader.peek(root, "cac:DeliveryTerms")
    terms = None
    if terms_node is not None:
        terms = DeliveryTerms(
            code=reader.code(terms_node, "cbc:ID"),
            description=reader.text(terms_node, "cbc:SpecialTerms"),
            location=reader.text(terms_node, "cac:DeliveryLocation/cbc:ID"),
        )
        terms = terms if terms != DeliveryTerms() else None
    if node is None:
        return Delivery(terms=terms) if terms is not None else None
    location = reader.peek(node, "cac:DeliveryLocation")
    location_id = address = None
    if location is not None:
        location_id = read_party_id(reader, reader.peek(location, "cbc:ID"))
        address_node = reader.first(location, "cac:Address")
        address = read_address(reader, address_node) if address_node is not None else None
    date, period = read_period(reader, reader.peek(node, "cac:RequestedDeliveryPeriod"))
    party = reader.peek(node, "cac:DeliveryParty")
    party_name = contact = None
    if party is not None:
        party_name = reader.text(party, "cac:PartyName/cbc:Name")
        contact = read_contact(reader, reader.peek(party, "cac:Contact"))
    delivery = Delivery(date=date, period=period, address=address, location_id=location_id,
                        party_name=party_name, contact=contact, terms=terms)
    return delivery if delivery != Delivery() else None


def _read_totals(reader: TrackingReader, root: etree._Element) -> AnticipatedTotals | None:
    node = reader.peek(root, "cac:AnticipatedMonetaryTotal")
    if node is None:
        # The model keeps the tax total inside the anticipated totals; without
        # them TaxTotal stays unread and is reported, not dropped in silence.
        return None
    tax_total = None
    tax = reader.peek(root, "cac:TaxTotal")
    if tax is not None:
        tax_total = _money(reader, tax, "cbc:TaxAmount")
    payable = _money(reader, node, "cbc:PayableAmount")
    if payable is None:
        raise UBLReadError(f"{path_of(node)}/cbc:PayableAmount is required")
    return AnticipatedTotals(
        line_extension=_money(reader, node, "cbc:LineExtensionAmount"),
        allowance_total=_money(reader, node, "cbc:AllowanceTotalAmount"),
        charge_total=_money(reader, node, "cbc:ChargeTotalAmount"),
        tax_exclusive=_money(reader, node, "cbc:TaxExclusiveAmount"),
        tax_total=tax_total,
        tax_inclusive=_money(reader, node, "cbc:TaxInclusiveAmount"),
        prepaid=_money(reader, node, "cbc:PrepaidAmount"),
        rounding=_money(reader, node, "cbc:PayableRoundingAmount"),
        payable=payable,
    )


def _party(reader: TrackingReader, root: etree._Element, role: str) -> Party | None:
    node = reader.peek(root, f"{role}/cac:Party")
    if node is None:
        return None
    reader.mark(node)
    return read_party(reader, node)


def _required_party(reader: TrackingReader, root: etree._Element, role: str) -> Party:
    party = _party(reader, root, role)
    if party is None:
        raise UBLReadError(f"{path_of(root)}/{role}/cac:Party is required")
    return party


def read_order(root: etree._Element) -> tuple[Order, list[str]]:
    """The order in ``root`` and one warning per element or attribute the model has no place for."""
    reader = TrackingReader(root)
    for name in ("cbc:CustomizationID", "cbc:ProfileID"):
        reader.code(root, name)
    issue_date = reader.date(root, "cbc:IssueDate")
    if issue_date is None:
        raise UBLReadError(f"{path_of(root)}/cbc:IssueDate is required")
    issue_time = reader.text(root, "cbc:IssueTime")
    note = reader.text(root, "cbc:Note")
    validity_end = reader.date(root, "cac:ValidityPeriod/cbc:EndDate")
    references = []
    for node in reader.peek_all(root, "cac:AdditionalDocumentReference"):
        if reader.peek(node, "cac:Attachment") is not None:
            continue  # the attachment needs more than the model's reference holds: reported
        references.append(_read_reference(reader, node))
    order_lines = reader.peek_all(root, "cac:OrderLine")
    if not order_lines:
        raise UBLReadError(f"{path_of(root)}/cac:OrderLine is required")
    payment_note = reader.text(root, "cac:PaymentTerms/cbc:Note")
    order = Order(
        number=_required(reader, root, "cbc:ID"),
        issue_date=issue_date,
        issue_time=_time(issue_time, root),
        order_type=reader.code(root, "cbc:OrderTypeCode"),
        currency=_required(reader, root, "cbc:DocumentCurrencyCode"),
        buyer=_required_party(reader, root, "cac:BuyerCustomerParty"),
        seller=_required_party(reader, root, "cac:SellerSupplierParty"),
        invoicee=_party(reader, root, "cac:AccountingCustomerParty"),
        customer_reference=reader.text(root, "cbc:CustomerReference"),
        contract_reference=reader.text(root, "cac:Contract/cbc:ID"),
        quotation_reference=reader.text(root, "cac:QuotationDocumentReference/cbc:ID"),
        project_reference=reader.text(root, "cac:ProjectReference/cbc:ID"),
        other_references=tuple(references),
        validity_period=Period(end=validity_end) if validity_end is not None else None,
        delivery=_read_delivery(reader, root),
        payment_terms=PaymentTerms(note=payment_note) if payment_note is not None else None,
        notes=tuple(note.split("\n")) if note is not None else (),
        accounting_cost=reader.text(root, "cbc:AccountingCost"),
        lines=tuple(_read_line(reader, each) for each in order_lines),
        allowance_charges=tuple(_read_allowance_charge(reader, each)
                                for each in reader.peek_all(root, "cac:AllowanceCharge")),
        totals=_read_totals(reader, root),
    )
    return order, reader.unread()


def _read_reference(reader: TrackingReader, node: etree._Element) -> DocumentReference:
    return DocumentReference(id=_required(reader, node, "cbc:ID"),
                             description=reader.text(node, "cbc:DocumentType"))


def _time(text: str | None, root: etree._Element) -> dt.time | None:
    if text is None:
        return None
    try:
        return dt.time.fromisoformat(text.strip())
    except ValueError:
        raise UBLReadError(f"{path_of(root)}/cbc:IssueTime: {text!r} is not a time") from None

