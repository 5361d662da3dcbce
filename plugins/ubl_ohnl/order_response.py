"""The UBL-OHNL OrderResponse (BESTELLING-BEVESTIGING-UBL): the supplier confirms an order.

OHNL's OrderResponse is a full UBL OrderResponse: it repeats every order
line with item and price, and may change only the quantity and the
delivery date; it carries the supplier's sales order number. It has no
element to reject an order ("In het bericht OrderResponse is geen element
voor het afwijzen van een inkooporder"), so encoding refuses a canonical
response with status REJECTED or ACKNOWLEDGED, and a REJECTED line, naming
the reason and the other routes.

The canonical response holds only the answers, so the encoder needs two
things from its :class:`EncodeContext` beside it:

- ``answers``: the canonical :class:`Order` being answered, whose lines,
  items, prices, cost centres and delivery addresses the response repeats
  (the pipeline finds it among the orders the gateway received);
- ``supplier_number``: the supplier's number at the agency
  (``SellerSupplierParty/CustomerAssignedAccountID``, required by the
  Schematron), the agency's ``supplier_number`` in the agency directory.

A line without an answer is confirmed as ordered. The promised delivery
date is the line's answer, else the header's, else the order's requested
end date; OHNL wants it on the header or on every line, never mixed.

OHNL has no status element; the encoder marks each line with the optional
UBL ``LineStatusCode``: ``Revised`` for a CHANGED line, ``NoStatus`` for a
plain confirmation. Decoding reads them back (a response with a Revised line
is ACCEPTED_WITH_CHANGES). A line without a code (the published examples)
reads as ACCEPTED with the quantity and promised date as stated: whether
they differ from the order only the order tells. What the response repeats
from the order (items, prices, cost centres, delivery addresses and
parties, the supplier number) is taken as read; anything else not mapped is
reported by XPath.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, ClassVar, Final

import attrs

from gateway.formats import Decoded, Detection, EncodeContext, Format, Sample, ValidationLayer
from gateway.kinds import Direction, DocumentKind
from gateway.model import (
    Delivery,
    FieldProblem,
    LineResponse,
    LineStatus,
    Order,
    OrderLine,
    OrderReference,
    OrderResponse,
    Period,
    ResponseStatus,
)
from gateway.sniff import Sniffed
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.detect import detect_root
from plugins.ubl_ohnl.errors import OhnlAnsweredUnknown, OhnlDecodeError, OhnlEncodeError
from plugins.ubl_ohnl.order import parse_own
from plugins.ubl_ohnl.order_reader import OhnlReader, document_currency
from plugins.ubl_ohnl.order_writer import add_item, add_price, check_unit
from plugins.ubl_ohnl.parties import add_address, add_contact, add_party
from plugins.ubl_ohnl.samples import order_response_samples
from plugins.ubl_ohnl.versions import PROFILE_ID, UBL_VERSION, V1_8, V1_9, OhnlVersion
from plugins.ubl_ohnl.xmltools import (
    Element,
    add,
    add_date,
    add_text,
    decimal_text,
    root_element,
    serialize,
)

__all__ = [
    "BESTELLING_BEVESTIGING_UBL", "OhnlOrderResponse18", "OhnlOrderResponse19",
    "OhnlOrderResponseFormat",
]

DOCUMENT = "OrderResponse"
BESTELLING_BEVESTIGING_UBL: Final = "BESTELLING-BEVESTIGING-UBL"

_NO_REJECTION = (
    "a UBL-OHNL OrderResponse (BESTELLING-BEVESTIGING-UBL) cannot reject an order: it "
    "confirms the order and may change only quantities and delivery dates (OHNL "
    "Implementatiewijzer 4.5). Reject it in the DigiInkoop portal or with the agency "
    "directly, or route this agency to a format that can reject (Peppol BIS Order "
    "Response, ubl-ordering) if the agency accepts one"
)


class OrderResponseWriter:
    def __init__(self, version: OhnlVersion, response: OrderResponse,
                 context: EncodeContext) -> None:
        self.version = version
        self.resp = response
        order = context.answers
        if not isinstance(order, Order):
            raise OhnlAnsweredUnknown(
                "a UBL-OHNL OrderResponse repeats every order line (item, price, cost "
                f"centre), so it needs the order {response.order_reference.id!r} as the "
                "gateway received it, and no such order from this agency is known"
            )
        self.order = order
        number = context.supplier_number
        if not isinstance(number, str) or not number.strip():
            raise OhnlEncodeError(
                "UBL-OHNL requires the supplier's number at the agency "
                "(SellerSupplierParty/CustomerAssignedAccountID); set supplier_number "
                "in the agency's table of the agency directory"
            )
        self.supplier_number = number
        self.currency = response.currency or order.currency

    def check(self) -> dict[str, LineResponse]:
        resp, order = self.resp, self.order
        if resp.status is ResponseStatus.REJECTED:
            raise OhnlEncodeError(f"OrderResponse.status REJECTED: {_NO_REJECTION}")
        if resp.status is ResponseStatus.ACKNOWLEDGED:
            raise OhnlEncodeError(
                "OrderResponse.status ACKNOWLEDGED: a UBL-OHNL OrderResponse confirms the "
                "order; it cannot say 'received, not yet decided'. Send it once decided"
            )
        if resp.order_reference.id != order.number:
            raise OhnlEncodeError(
                f"OrderResponse.order_reference.id {resp.order_reference.id!r} is not the "
                f"number of the order it answers ({order.number!r})"
            )
        answers: dict[str, LineResponse] = {}
        known = {line.id for line in order.lines}
        for i, answer in enumerate(resp.line_responses):
            role = f"OrderResponse.line_responses[{i}]"
            if answer.status is LineStatus.REJECTED:
                raise OhnlEncodeError(f"{role}.status REJECTED: {_NO_REJECTION}")
            if answer.line_id not in known:
                raise OhnlEncodeError(
                    f"{role}.line_id {answer.line_id!r} is not a line of order {order.number}"
                )
            if answer.line_id in answers:
                raise OhnlEncodeError(f"{role}: line {answer.line_id!r} is answered twice")
            answers[answer.line_id] = answer
        changed = [a.line_id for a in answers.values() if a.status is LineStatus.CHANGED]
        if resp.status is ResponseStatus.ACCEPTED and changed:
            raise OhnlEncodeError(
                f"OrderResponse.status ACCEPTED, but lines {', '.join(changed)} are CHANGED; "
                "use ACCEPTED_WITH_CHANGES"
            )
        if resp.status is ResponseStatus.ACCEPTED_WITH_CHANGES and not changed:
            raise OhnlEncodeError(
                "OrderResponse.status ACCEPTED_WITH_CHANGES needs a CHANGED line: UBL-OHNL "
                "marks changes per line (LineStatusCode Revised)"
            )
        if resp.buyer.contact is None:
            raise OhnlEncodeError(
                "OrderResponse.buyer.contact: UBL-OHNL requires the buyer's contact"
            )
        delivery = resp.delivery
        if delivery is not None and delivery != Delivery(date=delivery.date,
                                                         period=delivery.period):
            raise OhnlEncodeError(
                "OrderResponse.delivery: a UBL-OHNL OrderResponse may change only the "
                "delivery date; give date or period only"
            )
        header = self.header_promise()
        dated = [a.delivery_date is not None or a.delivery_period is not None
                 for a in answers.values()]
        if header is not None and any(dated):
            raise OhnlEncodeError(
                "OrderResponse: a promised delivery date on the header and on lines; "
                "UBL-OHNL wants it on the header or on every line, never both"
            )
        return answers

    def header_promise(self) -> Period | None:
        delivery = self.resp.delivery
        if delivery is None:
            return None
        if delivery.period is not None:
            return delivery.period
        return Period(end=delivery.date) if delivery.date is not None else None

    def response(self) -> Element:
        answers = self.check()
        resp, order = self.resp, self.order
        root = root_element(DOCUMENT)
        add(root, "cbc:UBLVersionID", UBL_VERSION)
        add(root, "cbc:CustomizationID", self.version.customization_id)
        add(root, "cbc:ProfileID", PROFILE_ID)
        add(root, "cbc:ID", resp.number)
        add_text(root, "cbc:SalesOrderID", resp.order_reference.sales_order_id)
        add_date(root, "cbc:IssueDate", resp.issue_date)
        if resp.issue_time is not None:
            add(root, "cbc:IssueTime", resp.issue_time.isoformat())
        add_text(root, "cbc:Note", resp.note)
        add(root, "cbc:DocumentCurrencyCode", self.currency, codes.CURRENCY_CODE_LIST)
        add_text(root, "cbc:AccountingCostCode", order.accounting_cost)
        reference = add(root, "cac:OrderReference")
        add(reference, "cbc:ID", resp.order_reference.id)
        add_date(reference, "cbc:IssueDate", resp.order_reference.issue_date)
        seller = add(root, "cac:SellerSupplierParty")
        add(seller, "cbc:CustomerAssignedAccountID", self.supplier_number)
        add_party(seller, resp.seller, "OrderResponse.seller", registration_address=False)
        add_party(add(root, "cac:BuyerCustomerParty"), resp.buyer, "OrderResponse.buyer",
                  registration_address=False)
        header = add(root, "cac:Delivery")
        if order.delivery is not None and order.delivery.address is not None:
            add_address(header, "cac:DeliveryAddress", order.delivery.address,
                        "Order.delivery.address")
        promise = self.header_promise()
        if promise is not None:
            self.promised(header, promise, "OrderResponse.delivery")
        contacts = all(self.delivery_contact(line) is not None for line in order.lines)
        if resp.seller.contact is None and not contacts:
            raise OhnlEncodeError(
                "OrderResponse.seller.contact: UBL-OHNL requires the seller's contact unless "
                "every order line names a delivery contact"
            )
        for i, line in enumerate(order.lines):
            self.line(root, line, answers.get(line.id), promise is None,
                      f"Order.lines[{i}]")
        return root

    @staticmethod
    def delivery_contact(line: OrderLine) -> Any:
        # Only a line's own DeliveryParty/Contact is written (and counted by the
        # Schematron); the order header's delivery contact is not repeated.
        delivery = line.delivery
        if delivery is None or delivery.party_name is None:
            return None
        return delivery.contact

    def promised(self, parent: Element, period: Period, role: str) -> None:
        if period.end is None:
            raise OhnlEncodeError(f"{role}: UBL-OHNL requires the promised end date")
        element = add(parent, "cac:PromisedDeliveryPeriod")
        add_date(element, "cbc:StartDate", period.start)
        add_date(element, "cbc:EndDate", period.end)

    def line(self, root: Element, line: OrderLine, answer: LineResponse | None,
             dated: bool, role: str) -> None:
        order_line = add(root, "cac:OrderLine")
        if answer is not None:
            add_text(order_line, "cbc:Note", answer.note)
        element = add(order_line, "cac:LineItem")
        add(element, "cbc:ID", line.id)
        status = self.line_status(answer)
        if status is not None:
            add(element, "cbc:LineStatusCode", status, codes.LINE_STATUS_CODE_LIST)
        quantity = answer.quantity if answer is not None and answer.quantity else line.quantity
        check_unit(quantity, f"{role}.quantity")
        add(element, "cbc:Quantity", decimal_text(quantity.value),
            {"unitCode": quantity.unit_code})
        if self.order.accounting_cost is None:
            # Same rule as the order: every line, empty when the order has none.
            add(element, "cbc:AccountingCostCode", line.accounting_cost)
        own = line.delivery
        promise = self.line_promise(line, answer) if dated else None
        if dated and promise is None:
            raise OhnlEncodeError(
                f"{role}: no promised delivery date; give delivery_date in the line's answer "
                "or on the response header, or a requested period on the order"
            )
        if own is not None or promise is not None:
            delivery = add(element, "cac:Delivery")
            if own is not None and own.address is not None:
                add_address(delivery, "cac:DeliveryAddress", own.address,
                            f"{role}.delivery.address")
            if promise is not None:
                self.promised(delivery, promise, f"{role} promised delivery")
            if own is not None and own.party_name is not None:
                party = add(delivery, "cac:DeliveryParty")
                add(add(party, "cac:PartyName"), "cbc:Name", own.party_name)
                if own.contact is not None:
                    add_contact(party, own.contact, f"{role}.delivery.contact")
        add_price(element, line, self.currency, role)
        add_item(element, line, role)

    @staticmethod
    def line_status(answer: LineResponse | None) -> str | None:
        """Revised for a change; NoStatus for a plain confirmation, none when values are stated.

        An accepted answer that states quantity or date (as decoded from a
        response without status codes) is written without a code, so that it
        reads back the same.
        """
        if answer is not None and answer.status is LineStatus.CHANGED:
            return codes.LINE_REVISED
        if answer is not None and (answer.quantity or answer.delivery_date
                                   or answer.delivery_period):
            return None
        return codes.LINE_NO_STATUS

    def line_promise(self, line: OrderLine, answer: LineResponse | None) -> Period | None:
        if answer is not None and answer.delivery_period is not None:
            return answer.delivery_period
        if answer is not None and answer.delivery_date is not None:
            return Period(end=answer.delivery_date)
        # The requested period is on the line or on the order's header (OHNL: one or
        # the other); a line with its own delivery data may still take the header's.
        for requested in (line.delivery, self.order.delivery):
            if requested is not None and requested.period is not None:
                return Period(end=requested.period.end)
        return None


class OrderResponseReader(OhnlReader):
    def __init__(self, root: Element) -> None:
        super().__init__(root, document_currency(root, DOCUMENT))

    def response(self) -> tuple[OrderResponse, list[str]]:
        r, root = self.r, self.root
        header_node = r.first(root, "cac:Delivery")
        promised = self.promise(header_node)
        notes = r.texts(root, "cbc:Note")
        self.repeated(root, "cbc:AccountingCostCode", "cac:SellerSupplierParty/"
                      "cbc:CustomerAssignedAccountID", "cac:Delivery/cac:DeliveryAddress")
        sales_order = r.text(root, "cbc:SalesOrderID") or r.text(
            root, "cac:OrderReference/cbc:SalesOrderID")
        reference = self.required(r.first(root, "cac:OrderReference"), root,
                                  "cac:OrderReference")
        response = OrderResponse(
            number=self.required(r.text(root, "cbc:ID"), root, "cbc:ID"),
            issue_date=self.required(r.date(root, "cbc:IssueDate"), root, "cbc:IssueDate"),
            issue_time=self.time(root, "cbc:IssueTime"),
            order_reference=OrderReference(
                id=self.required(r.text(reference, "cbc:ID"), reference, "cbc:ID"),
                sales_order_id=sales_order,
                issue_date=r.date(reference, "cbc:IssueDate"),
            ),
            status=ResponseStatus.ACCEPTED,  # set below from the lines
            seller=self.party(root, "cac:SellerSupplierParty/cac:Party"),
            buyer=self.party(root, "cac:BuyerCustomerParty/cac:Party"),
            currency=self.r.currency,
            note=notes[0] if notes else None,
            delivery=self.header_delivery(promised),
            line_responses=tuple(self.line(node) for node in r.all(root, "cac:OrderLine")),
        )
        if any(a.status is LineStatus.CHANGED for a in response.line_responses):
            response = attrs.evolve(response, status=ResponseStatus.ACCEPTED_WITH_CHANGES)
        return response, [*r.warnings, *r.unmapped_warnings()]

    def repeated(self, parent: Element, *paths: str) -> None:
        """Mark what the response repeats from the order: the order holds it, not the model."""
        for path in paths:
            for node in self.r.all(parent, path):
                self.r.mark_tree(node)

    def promise(self, delivery: Element | None) -> Period | None:
        if delivery is None:
            return None
        return self.period(self.r.first(delivery, "cac:PromisedDeliveryPeriod"))

    @staticmethod
    def header_delivery(period: Period | None) -> Delivery | None:
        if period is None:
            return None
        if period.start is None and period.end is not None:
            return Delivery(date=period.end)
        return Delivery(period=period)

    def line(self, node: Element) -> LineResponse:
        r = self.r
        item = self.required(r.first(node, "cac:LineItem"), node, "cac:LineItem")
        self.repeated(item, "cbc:AccountingCostCode", "cac:Delivery/cac:DeliveryAddress",
                      "cac:Delivery/cac:DeliveryParty", "cac:Price", "cac:Item")
        period = self.promise(r.first(item, "cac:Delivery"))
        date: dt.date | None = None
        if period is not None and period.start is None:
            date, period = period.end, None
        quantity = self.quantity(item, "cbc:Quantity")
        code = r.token(item, "cbc:LineStatusCode")
        line_id = self.required(r.token(item, "cbc:ID"), item, "cbc:ID")
        note = r.text(node, "cbc:Note")
        if code == codes.LINE_NO_STATUS:
            return LineResponse(line_id=line_id, status=LineStatus.ACCEPTED, note=note)
        if code not in (None, codes.LINE_REVISED):
            status_node = r.first(item, "cbc:LineStatusCode")
            assert status_node is not None
            r.warn(status_node, f"line status {code!r} is not used by OHNL responses; "
                                "read as a confirmation with the stated values")
        return LineResponse(
            line_id=line_id,
            status=LineStatus.CHANGED if code == codes.LINE_REVISED else LineStatus.ACCEPTED,
            quantity=quantity,
            delivery_date=date,
            delivery_period=period,
            note=note,
        )


class OhnlOrderResponseFormat(Format):
    """UBL-OHNL OrderResponse of one release; subclasses name the release."""

    version: ClassVar[OhnlVersion]
    kind = DocumentKind.ORDER_RESPONSE
    directions = frozenset({Direction.OUTBOUND, Direction.INBOUND})

    def detect(self, doc: Sniffed) -> Detection:
        return detect_root(doc.root, DOCUMENT, self.version)

    def layers(self) -> Sequence[ValidationLayer]:
        return self.version.layers(DOCUMENT)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, OrderResponse):
            raise OhnlEncodeError(
                f"{self.key} encodes order responses, not {type(document).__name__}"
            )
        if document.status is ResponseStatus.REJECTED:
            # Before anything else: the route is wrong, not the document.
            raise OhnlEncodeError(f"{self.key}: {_NO_REJECTION}")
        return serialize(OrderResponseWriter(self.version, document, context).response())

    def decode(self, data: bytes) -> Decoded:
        root = parse_own(self, data, DOCUMENT, self.version, "order response")
        try:
            response, warnings = OrderResponseReader(root).response()
        except FieldProblem as exc:
            raise OhnlDecodeError(
                f"{self.key}: the order response does not fit the canonical model: {exc}"
            ) from None
        return Decoded(response, tuple(warnings))

    def samples(self) -> Sequence[Sample]:
        return order_response_samples()


class OhnlOrderResponse19(OhnlOrderResponseFormat):
    key = "ubl-ohnl:order-response:1.9"
    version = V1_9
    description = (
        "UBL-OHNL 1.9 OrderResponse (BESTELLING-BEVESTIGING-UBL): confirms an order, "
        "may change quantity and delivery date, cannot reject"
    )


class OhnlOrderResponse18(OhnlOrderResponseFormat):
    key = "ubl-ohnl:order-response:1.8"
    version = V1_8
    description = "UBL-OHNL 1.8 OrderResponse (BESTELLING-BEVESTIGING-UBL), for agencies on 1.8"
