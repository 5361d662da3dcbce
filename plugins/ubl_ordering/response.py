"""Peppol BIS Order Response (T76) to and from the canonical :class:`gateway.model.OrderResponse`.

T76 answers with one code (UNCL 4343 subset): AP accepted, RE rejected, AB
acknowledged, CA accepted with changes. Only CA carries lines (PEPPOL-T76-R007
to R010); each line gets a UNCL 1229 status: 5 accepted, 3 changed, 7 not
accepted. T76 parties carry only the electronic address, identifiers and the
legal name.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from gateway.model import (
    Delivery,
    LineResponse,
    LineStatus,
    OrderReference,
    OrderResponse,
    Party,
    Quantity,
    ResponseStatus,
)
from plugins.ubl import (
    TrackingReader,
    UBLReadError,
    element,
    format_date,
    format_decimal,
    make_root,
    path_of,
    sub,
    to_bytes,
)
from plugins.ubl_ordering.errors import UBLOrderingError
from plugins.ubl_ordering.order import Header
from plugins.ubl_ordering.parties import read_party, read_period, write_party, write_period

RESPONSE_CODES = {
    ResponseStatus.ACCEPTED: "AP",
    ResponseStatus.ACCEPTED_WITH_CHANGES: "CA",
    ResponseStatus.REJECTED: "RE",
    ResponseStatus.ACKNOWLEDGED: "AB",
}
LINE_STATUS_CODES = {LineStatus.ACCEPTED: "5", LineStatus.CHANGED: "3", LineStatus.REJECTED: "7"}
_STATUS_OF_CODE = {code: status for status, code in RESPONSE_CODES.items()}
_LINE_STATUS_OF_CODE = {code: status for status, code in LINE_STATUS_CODES.items()}


def line_item_name(line_id: str) -> str:
    """The item name written for a line: T76 requires one, the canonical line response has none."""
    return f"Order line {line_id}"


def check_response(response: OrderResponse, key: str) -> None:
    """Refuse what T76 cannot say, before anything is written."""
    if response.currency is None:
        raise UBLOrderingError(
            f"{key}: order response {response.number} has no currency; T76 requires "
            "DocumentCurrencyCode, take it from the order")
    for role, party in (("seller", response.seller), ("buyer", response.buyer)):
        if party.endpoint_id is None:
            raise UBLOrderingError(
                f"{key}: order response {response.number}: the {role} needs an electronic "
                "address (EndpointID)")
        if party.registration_name is None and not party.ids:
            raise UBLOrderingError(
                f"{key}: order response {response.number}: the {role} needs a registration "
                "name or an identifier (PEPPOL-T76-R001/R002)")
    changes = response.status is ResponseStatus.ACCEPTED_WITH_CHANGES
    if changes and not response.line_responses:
        raise UBLOrderingError(
            f"{key}: order response {response.number} accepts with changes but names no line; "
            "T76 code CA must carry the lines it changes (PEPPOL-T76-R007)")
    if not changes and response.line_responses:
        raise UBLOrderingError(
            f"{key}: order response {response.number} is {response.status.value} with line "
            f"responses; T76 allows lines only with code CA (PEPPOL-T76-R008 to R010): answer "
            "accepted-with-changes, or leave the lines out")
    for line in response.line_responses:
        if line.delivery_date is not None and line.delivery_period is not None:
            raise UBLOrderingError(
                f"{key}: line {line.line_id} has both a delivery date and a period; T76 has one "
                "promised delivery period")


def write_response(response: OrderResponse, header: Header) -> bytes:
    root = make_root("OrderResponse")
    sub(root, "cbc:CustomizationID", header.customization_id)
    sub(root, "cbc:ProfileID", header.profile_id)
    sub(root, "cbc:ID", response.number)
    sub(root, "cbc:SalesOrderID", response.order_reference.sales_order_id)
    sub(root, "cbc:IssueDate", format_date(response.issue_date))
    sub(root, "cbc:IssueTime", response.issue_time.isoformat() if response.issue_time else None)
    sub(root, "cbc:OrderResponseCode", RESPONSE_CODES[response.status])
    sub(root, "cbc:Note", response.note)
    sub(root, "cbc:DocumentCurrencyCode", response.currency)
    sub(element(root, "cac:OrderReference"), "cbc:ID", response.order_reference.id)
    write_party(root, "cac:SellerSupplierParty", response.seller, full=False)
    write_party(root, "cac:BuyerCustomerParty", response.buyer, full=False)
    delivery = response.delivery
    if delivery is not None and (delivery.date is not None or delivery.period is not None):
        write_period(element(root, "cac:Delivery"), "cac:PromisedDeliveryPeriod",
                     delivery.date, delivery.period)
    seen: dict[str, int] = {}
    for line in response.line_responses:
        order_line = element(root, "cac:OrderLine")
        node = element(order_line, "cac:LineItem")
        # An order line answered twice (e.g. split over two dates) still needs a
        # unique response line id (PEPPOL-T76-R003).
        seen[line.line_id] = seen.get(line.line_id, 0) + 1
        repeat = seen[line.line_id]
        sub(node, "cbc:ID", line.line_id if repeat == 1 else f"{line.line_id}-{repeat}")
        sub(node, "cbc:Note", line.note)
        sub(node, "cbc:LineStatusCode", LINE_STATUS_CODES[line.status])
        if line.quantity is not None:
            sub(node, "cbc:Quantity", format_decimal(line.quantity.value),
                unitCode=line.quantity.unit_code)
        if line.delivery_date is not None or line.delivery_period is not None:
            write_period(element(node, "cac:Delivery"), "cac:PromisedDeliveryPeriod",
                         line.delivery_date, line.delivery_period)
        sub(element(node, "cac:Item"), "cbc:Name", line_item_name(line.line_id))
        sub(element(order_line, "cac:OrderLineReference"), "cbc:LineID", line.line_id)
    return to_bytes(root)


def _code(reader: TrackingReader, node: etree._Element, path: str) -> str:
    value = reader.code(node, path)
    if value is None:
        raise UBLReadError(f"{path_of(node)}/{path} is required and missing or empty")
    return value


def _party(reader: TrackingReader, root: etree._Element, role: str) -> Party:
    node = reader.peek(root, f"{role}/cac:Party")
    if node is None:
        raise UBLReadError(f"{path_of(root)}/{role}/cac:Party is required")
    reader.mark(node)
    return read_party(reader, node)


def _read_line(reader: TrackingReader, order_line: etree._Element) -> LineResponse | None:
    node = reader.peek(order_line, "cac:LineItem")
    if node is None:
        raise UBLReadError(f"{path_of(order_line)}/cac:LineItem is required")
    status = _LINE_STATUS_OF_CODE.get(reader.peek_text(node, "cbc:LineStatusCode") or "")
    if status is None:
        # E.g. 1, a line the seller added: the canonical answer has no such line,
        # so the whole line stays unread and is reported.
        return None
    # OrderLineReference names the order line answered; LineItem/ID only numbers
    # the response's own lines (unique, PEPPOL-T76-R003) and is written afresh.
    item_id = _code(reader, node, "cbc:ID")
    line_id = reader.code(order_line, "cac:OrderLineReference/cbc:LineID") or item_id
    reader.code(node, "cbc:LineStatusCode")
    quantity = None
    quantity_node = reader.peek(node, "cbc:Quantity")
    if quantity_node is not None:
        value, unit = reader.decimal(quantity_node), reader.attr(quantity_node, "unitCode")
        if value is not None and unit is not None:
            quantity = Quantity(value=value, unit_code=unit)
    date = period = None
    delivery = reader.peek(node, "cac:Delivery")
    if delivery is not None:
        date, period = read_period(reader, reader.peek(delivery, "cac:PromisedDeliveryPeriod"))
    if reader.peek_text(node, "cac:Item/cbc:Name") == line_item_name(line_id):
        reader.text(node, "cac:Item/cbc:Name")  # the placeholder this writer puts there
    return LineResponse(line_id=line_id, status=status, quantity=quantity, delivery_date=date,
                        delivery_period=period, note=reader.text(node, "cbc:Note"))


def read_response(root: etree._Element) -> tuple[OrderResponse, list[str]]:
    """The order response in ``root`` and one warning per element the model has no place for."""
    reader = TrackingReader(root)
    for name in ("cbc:CustomizationID", "cbc:ProfileID"):
        reader.code(root, name)
    issue_date = reader.date(root, "cbc:IssueDate")
    if issue_date is None:
        raise UBLReadError(f"{path_of(root)}/cbc:IssueDate is required")
    code = _code(reader, root, "cbc:OrderResponseCode")
    status = _STATUS_OF_CODE.get(code)
    if status is None:
        raise UBLReadError(f"{path_of(root)}/cbc:OrderResponseCode: {code!r} is not "
                           "AP, CA, RE or AB")
    issue_time = reader.code(root, "cbc:IssueTime")
    try:
        time = dt.time.fromisoformat(issue_time) if issue_time is not None else None
    except ValueError:
        raise UBLReadError(f"{path_of(root)}/cbc:IssueTime: {issue_time!r} is not a time") from None
    delivery = None
    header_delivery = reader.peek(root, "cac:Delivery")
    if header_delivery is not None:
        date, period = read_period(reader, reader.peek(header_delivery,
                                                       "cac:PromisedDeliveryPeriod"))
        if date is not None or period is not None:
            delivery = Delivery(date=date, period=period)
    response = OrderResponse(
        number=_code(reader, root, "cbc:ID"),
        issue_date=issue_date,
        issue_time=time,
        order_reference=OrderReference(
            id=_code(reader, root, "cac:OrderReference/cbc:ID"),
            sales_order_id=reader.code(root, "cbc:SalesOrderID"),
        ),
        status=status,
        seller=_party(reader, root, "cac:SellerSupplierParty"),
        buyer=_party(reader, root, "cac:BuyerCustomerParty"),
        currency=reader.code(root, "cbc:DocumentCurrencyCode"),
        note=reader.text(root, "cbc:Note"),
        delivery=delivery,
        line_responses=tuple(line for each in reader.peek_all(root, "cac:OrderLine")
                             if (line := _read_line(reader, each)) is not None),
    )
    return response, reader.unread()
