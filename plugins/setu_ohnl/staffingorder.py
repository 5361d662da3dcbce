"""BESTELLING-HRXML: the SETU-OHNL 2.0 StaffingOrder, the agency's order to hire a person.

The agency sends it; the supplier answers with a HumanResource
(BESTELLING-BEVESTIGING-HRXML). Encoding is here so that simulators and tests
can play the agency's side.

Mapping (canonical ← SETU):

- ``order_id`` ← ``OrderId/IdValue`` (``issue_date`` ← its ``@validFrom``);
  ``master_order_id``, ``customer`` and ``supplier`` ids ←
  ``ReferenceInformation``; ``cost_centre`` ← the order's
  ``CustomerReportingRequirements/CostCenterCode`` (next to the VersionId);
- ``order_type``/``order_status`` ← ``OrderClassification``; ``contact`` ←
  the ``OrderContact`` placed by (name, telephone, e-mail); ``notes`` ←
  ``OrderComments``; ``position_quantity`` ← ``PositionQuantity``;
- of the one ``StaffingPosition``: ``position_description`` and the
  requested ``worker`` (``RequestedPerson``; read, not written) ←
  ``PositionHeader``; ``start_date``/``end_date`` ←
  ``PositionDateRange`` (``StartDate``/``ExpectedEndDate``); ``rates`` ←
  ``Rates`` (``@rateType``, ``Amount`` with ``@rateAmountPeriod`` and
  ``@currency``, ``Multiplier``, ``StartDate``, ``Description``);
  ``work_site_name``/``work_site`` ← ``WorkSite``; ``shift_hours``/
  ``shift_period`` ← ``StaffingShift``;
- ``offer_id`` and ``inclusive_rate`` ← ``UserArea/StaffingOrderAdditionalNL``.

Does not survive a round trip: ``MultiVendorDistribution`` (written false; a
true value is reported as not mapped), ``Rates/@rateStatus``
(written as ``proposed``, as in the example) and ``Rates/Class`` (written
empty), the ``SETUVersionId`` (written as 1.2), and the ``idOwner`` of the
order ids (written as StaffingCustomer). Encoding refuses a rate's
``order_line_id``, ``max_hours`` and ``cost_centre`` (SETU-OHNL 2.0 gives
them no element in ``Rates`` that we could confirm), attachments, and the
elements SETU requires that the order lacks (type and status, position
quantity, start date, contact, shift hours and period) and a requested
``worker`` (HR-XML wants the supplying company with the person).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from gateway.formats import Sample
from gateway.kinds import Direction, DocumentKind
from gateway.model import (
    Address,
    Contact,
    Party,
    StaffingOrder,
    StaffingRate,
    Worker,
)
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.format import SetuFormat
from plugins.setu_ohnl.humanresource import SETU_VERSION, nl
from plugins.setu_ohnl.messages import SETU_NL_NS, STAFFING_ORDER
from plugins.setu_ohnl.references import (
    party_ids,
    read_ids,
    read_version,
    write_ids,
    write_version,
)
from plugins.setu_ohnl.xmltools import (
    HR_NS,
    Element,
    SetuReader,
    add,
    as_date,
    format_bool,
    format_number,
    format_when,
    hr,
    make_root,
    opt,
    parse_bool,
    parse_when,
)
from plugins.ubl import path_of

PLACED_BY = "placed by"
RATE_STATUS = "proposed"


def _refuse(field: str, why: str) -> SetuEncodeError:
    return SetuEncodeError(f"StaffingOrder.{field}: {why}")


def write_staffing_order(order: StaffingOrder) -> Element:
    _check(order)
    assert order.order_type is not None
    assert order.order_status is not None
    assert order.contact is not None
    assert order.position_quantity is not None
    assert order.start_date is not None
    root = make_root("StaffingOrder")
    order_id = add(root, "OrderId", idOwner="StaffingCustomer",
                   validFrom=order.issue_date.isoformat() if order.issue_date else None)
    add(order_id, "IdValue", order.order_id)
    references = add(root, "ReferenceInformation")
    if order.master_order_id is not None:
        add(add(references, "MasterOrderId", idOwner="StaffingCustomer"), "IdValue",
            order.master_order_id)
    write_ids(references, "StaffingCustomerId", party_ids(order.customer, "StaffingOrder.customer"))
    write_ids(references, "StaffingSupplierId", party_ids(order.supplier, "StaffingOrder.supplier"))
    requirements = add(root, "CustomerReportingRequirements")
    opt(requirements, "CostCenterCode", order.cost_centre)
    write_version(requirements)
    add(root, "OrderClassification", orderType=order.order_type, orderStatus=order.order_status)
    _contact(add(root, "OrderContact", contactType=PLACED_BY), order.contact)
    for note in order.notes:
        add(root, "OrderComments", note)
    add(root, "PositionQuantity", str(order.position_quantity))
    # Required by the XSD; false (its default) says nothing the model would hold.
    add(root, "MultiVendorDistribution", "false")
    _position(add(root, "StaffingPosition"), order, order.start_date)
    additional = add(add(root, "UserArea"), "StaffingOrderAdditionalNL", ns=SETU_NL_NS)
    add(additional, "SETUVersionId", SETU_VERSION)
    if order.offer_id is not None:
        add(add(additional, "OfferId", idOwner="StaffingCompany"), "IdValue", order.offer_id,
            ns=HR_NS)
    if order.inclusive_rate is not None:
        add(additional, "InclusiveRate", format_bool(order.inclusive_rate))
    return root


def _check(order: StaffingOrder) -> None:
    if order.attachments:
        raise _refuse("attachments", "attachments are not written yet")
    required = {
        "order_type": order.order_type, "order_status": order.order_status,
        "contact": order.contact, "position_quantity": order.position_quantity,
        "start_date": order.start_date, "shift_hours": order.shift_hours,
        "shift_period": order.shift_period,
    }
    for field, value in required.items():
        if value is None:
            raise _refuse(field, "SETU-OHNL requires it")
    if order.worker is not None:
        # RequestedPerson needs the supplying company's details in HR-XML; the
        # model has no place for them, so a requested person is not written.
        raise _refuse("worker", "writing a requested person is not supported")
    if order.rates and order.inclusive_rate is None:
        # StaffingOrder.sch: InclusiveRate is mandatory if Rates are included.
        raise _refuse("inclusive_rate", "SETU-OHNL requires it when the order has rates")
    if order.contact is not None and order.contact.name is None:
        raise _refuse("contact.name", "SETU-OHNL requires the name of who placed the order")
    for index, rate in enumerate(order.rates):
        for name in ("order_line_id", "max_hours", "cost_centre"):
            if getattr(rate, name) is not None:
                raise _refuse(
                    f"rates[{index}].{name}",
                    "SETU-OHNL 2.0 Rates have no element we could confirm for it",
                )
        if rate.rate_type is None:
            raise _refuse(f"rates[{index}].rate_type", "SETU requires pay or bill")


def _contact(parent: Element, contact: Contact) -> None:
    info = add(parent, "ContactInfo")
    add(add(info, "PersonName"), "FormattedName", contact.name)
    method = add(info, "ContactMethod")
    if contact.telephone is not None:
        add(add(method, "Telephone"), "FormattedNumber", contact.telephone)
    opt(method, "InternetEmailAddress", contact.email)


def _position(position: Element, order: StaffingOrder, start: dt.date) -> None:
    header = add(position, "PositionHeader")
    # PositionId is required and the agency has none to give: empty, as in the example.
    add(add(header, "PositionId"), "Id")
    opt(header, "PositionDescription", order.position_description)

    add(position, "CustomerReportingRequirements")
    dates = add(position, "PositionDateRange")
    add(dates, "StartDate", format_when(start))
    opt(dates, "ExpectedEndDate", format_when(order.end_date) if order.end_date else None)
    for rate in order.rates:
        node = add(position, "Rates", rateType=rate.rate_type, rateStatus=RATE_STATUS)
        add(node, "Amount", format_number(rate.amount), rateAmountPeriod=rate.period,
            currency=rate.currency)
        add(node, "Class", "")
        if rate.multiplier is not None:
            add(node, "Multiplier", format_number(rate.multiplier))
        add(node, "StartDate", format_when(rate.start_date or start))
        opt(node, "Description", rate.description)
    # WorkSite is required; without data it stays empty.
    site = add(position, "WorkSite")
    add(site, "WorkSiteName", order.work_site_name or "")
    if order.work_site is not None:
        _postal_address(site, order.work_site)
    assert order.shift_hours is not None  # checked in _check
    shift = add(position, "StaffingShift", shiftPeriod=order.shift_period)
    add(add(shift, "Id"), "IdValue", "")
    add(shift, "Hours", format_number(order.shift_hours))


def _postal_address(parent: Element, address: Address) -> None:
    if address.country_code is None:
        raise _refuse("work_site.country_code", "an HR-XML PostalAddress needs the country")
    postal = add(parent, "PostalAddress")
    add(postal, "CountryCode", address.country_code)
    opt(postal, "PostalCode", address.postal_zone)
    opt(postal, "Municipality", address.city)
    if address.street is not None or address.building_number is not None:
        delivery = add(postal, "DeliveryAddress")
        opt(delivery, "StreetName", address.street)
        opt(delivery, "BuildingNumber", address.building_number)


class StaffingOrderReader:
    def __init__(self, root: Element) -> None:
        self.root = root
        self.r = SetuReader(root)

    def _empty(self, parent: Element, path: str) -> None:
        found = self.r.peek(parent, hr(path))
        if found is not None and not "".join(found.itertext()).strip():
            self.r.mark_all(found)

    def staffing_order(self) -> tuple[StaffingOrder, list[str]]:
        root = self.root
        order_node = self.r.first(root, hr("OrderId"))
        if order_node is None:
            raise SetuDecodeError("/StaffingOrder/OrderId is required and missing")
        self.r.attr(order_node, "idOwner")
        issued = self.r.attr(order_node, "validFrom")
        order_id = self.r.code(order_node, hr("IdValue"))
        if order_id is None:
            raise SetuDecodeError("/StaffingOrder/OrderId/IdValue is empty")
        references = self.r.first(root, hr("ReferenceInformation"))
        master = self.r.id_value(references, "MasterOrderId") if references is not None else None
        requirements = self.r.first(root, hr("CustomerReportingRequirements"))
        read_version(self.r, requirements)
        classification = self.r.first(root, hr("OrderClassification"))
        contact = None
        for node in self.r.peek_all(root, hr("OrderContact")):
            if node.get("contactType") == PLACED_BY and contact is None:
                self.r.mark(node)
                self.r.attr(node, "contactType")
                contact = self._contact(node)
        position = self.r.first(root, hr("StaffingPosition"))
        if position is None:
            raise SetuDecodeError("/StaffingOrder/StaffingPosition is required and missing")
        header = self.r.first(position, hr("PositionHeader"))
        if header is not None:
            self._empty(header, "PositionId")
        self._empty(position, "CustomerReportingRequirements")
        worker = None
        person = self.r.first(header, hr("RequestedPerson")) if header is not None else None
        if person is not None:
            name = self.r.text(person, hr("PersonName/FormattedName"))
            if name is not None:
                worker = Worker(name=name, id=self.r.code(person, hr("PersonId/IdValue")))
        dates = self.r.first(position, hr("PositionDateRange"))
        start = self.r.when(dates, hr("StartDate")) if dates is not None else None
        end = self.r.when(dates, hr("ExpectedEndDate")) if dates is not None else None
        site = self.r.first(position, hr("WorkSite"))
        shift = self.r.first(position, hr("StaffingShift"))
        if shift is not None:
            self._empty(shift, "Id")
        additional = self.r.first(root, hr("UserArea") + "/" + nl("StaffingOrderAdditionalNL"))
        offer_id = inclusive = None
        if additional is not None:
            self.r.code(additional, nl("SETUVersionId"))
            offer = self.r.first(additional, nl("OfferId"))
            if offer is not None:
                self.r.attr(offer, "idOwner")
                offer_id = self.r.code(offer, hr("IdValue"))
            flag = self.r.code(additional, nl("InclusiveRate"))
            inclusive = parse_bool(flag, "InclusiveRate") if flag is not None else None
        quantity = self.r.code(root, hr("PositionQuantity"))
        if self.r.peek_text(root, hr("MultiVendorDistribution")) in {"false", "0"}:
            self.r.code(root, hr("MultiVendorDistribution"))
        order = StaffingOrder(
            order_id=order_id,
            issue_date=(
                as_date(parse_when(issued, "/StaffingOrder/OrderId/@validFrom"))
                if issued else None
            ),
            order_type=self.r.attr(classification, "orderType"),
            order_status=self.r.attr(classification, "orderStatus"),
            master_order_id=master,
            customer=Party(ids=read_ids(self.r, references, "StaffingCustomerId")),
            supplier=Party(ids=read_ids(self.r, references, "StaffingSupplierId")),
            contact=contact,
            position_description=(
                self.r.text(header, hr("PositionDescription")) if header is not None else None
            ),
            position_quantity=_integer(quantity) if quantity is not None else None,
            worker=worker,
            start_date=as_date(start) if start is not None else None,
            end_date=as_date(end) if end is not None else None,
            rates=tuple(self._rate(node) for node in self.r.all(position, hr("Rates"))),
            work_site_name=self.r.text(site, hr("WorkSiteName")) if site is not None else None,
            work_site=self._address(site) if site is not None else None,
            shift_hours=self.r.decimal(shift, hr("Hours")) if shift is not None else None,
            shift_period=self.r.attr(shift, "shiftPeriod") if shift is not None else None,
            cost_centre=(
                self.r.code(requirements, hr("CostCenterCode")) if requirements is not None
                else None
            ),
            offer_id=offer_id,
            inclusive_rate=inclusive,
            notes=tuple(t for n in self.r.all(root, hr("OrderComments")) if (t := self.r.text(n))),
        )
        return order, self.r.unread()

    def _contact(self, node: Element) -> Contact:
        info = self.r.first(node, hr("ContactInfo"))
        if info is None:
            return Contact()
        method = self.r.peek(info, hr("ContactMethod"))
        telephone = email = None
        if method is not None:
            if not "".join(method.itertext()).strip():
                self.r.mark(method)
            telephone = self.r.code(method, hr("Telephone/FormattedNumber"))
            email = self.r.code(method, hr("InternetEmailAddress"))
        return Contact(
            name=self.r.text(info, hr("PersonName/FormattedName")),
            telephone=telephone, email=email,
        )

    def _rate(self, node: Element) -> StaffingRate:
        amount = self.r.first(node, hr("Amount"))
        if amount is None:
            raise SetuDecodeError(f"{path_of(node)}/Amount: a rate without an amount")
        value = self.r.decimal(amount)
        currency = self.r.attr(amount, "currency")
        if value is None or currency is None:
            raise SetuDecodeError(f"{path_of(amount)} needs an amount and @currency")
        if node.get("rateStatus") == RATE_STATUS:
            self.r.attr(node, "rateStatus")
        self._empty(node, "Class")
        multiplier = self.r.first(node, hr("Multiplier"))
        if multiplier is not None:
            self.r.attr(multiplier, "percentIndicator")
        start = self.r.when(node, hr("StartDate"))
        return StaffingRate(
            amount=value, currency=currency,
            period=self.r.attr(amount, "rateAmountPeriod") or "hourly",
            rate_type=self.r.attr(node, "rateType"),
            multiplier=self.r.decimal(multiplier) if multiplier is not None else None,
            description=self.r.text(node, hr("Description")),
            start_date=as_date(start) if start is not None else None,
        )

    def _address(self, site: Element) -> Address | None:
        postal = self.r.first(site, hr("PostalAddress"))
        if postal is None:
            return None
        return Address(
            country_code=self.r.code(postal, hr("CountryCode")),
            postal_zone=self.r.code(postal, hr("PostalCode")),
            city=self.r.text(postal, hr("Municipality")),
            street=self.r.text(postal, hr("DeliveryAddress/StreetName")),
            building_number=self.r.code(postal, hr("DeliveryAddress/BuildingNumber")),
        )


def _integer(text: str) -> int:
    try:
        return int(Decimal(text))
    except ArithmeticError:
        raise SetuDecodeError(
            f"/StaffingOrder/PositionQuantity: {text!r} is not a number"
        ) from None


class SetuStaffingOrder20(SetuFormat):
    key = "setu-ohnl:staffing-order:2.0"
    kind = DocumentKind.STAFFING_ORDER
    directions = frozenset({Direction.INBOUND, Direction.OUTBOUND})
    description = (
        "SETU (HR-XML)-OHNL 2.0 StaffingOrder (BESTELLING-HRXML): the agency orders a person"
    )
    message = STAFFING_ORDER
    model = StaffingOrder
    noun = "staffing orders"
    subject = "the staffing order"

    def write(self, document: Any) -> Element:
        return write_staffing_order(document)

    def read(self, root: Element) -> tuple[Any, list[str]]:
        return StaffingOrderReader(root).staffing_order()

    def samples(self) -> Sequence[Sample]:
        from plugins.setu_ohnl.samples import staffing_order_samples

        return staffing_order_samples()
