"""TIMECARD-HRXML: the SETU-OHNL 2.0 TimeCard, hours the agency approved.

The agency enters and approves the hours in its purchasing system and sends
the timecard to the supplier, who invoices them (FACTUUR-HRXML) and refers
back to the timecard id, the order number and the order lines. Encoding is
here so that simulators and tests can play the agency's side.

Mapping (canonical ← SETU):

- ``id`` ← ``Id/IdValue``; ``worker`` ← ``ReportedResource/Person`` (``Id``,
  ``PersonName/FormattedName``); ``period`` ← ``ReportedTime/PeriodStartDate``
  and ``PeriodEndDate``;
- each ``TimeInterval``: ``@type``, ``@billable`` (absent = billable, as the
  EPV counts it), ``Id``, ``StartDateTime``, ``EndDateTime``, ``Duration``,
  ``RateOrAmount`` (amount, ``@currency``, ``@type`` as ``rate_type``,
  ``@multiplier``), the order line in
  ``AdditionalData/StaffingAdditionalData/CustomerReportingRequirements/PurchaseOrderLineItem``,
  ``ApprovalInfo`` and ``Comment``;
- each ``Allowance`` on ``ReportedTime`` is an expense (``@type``, ``Id``,
  ``StartDate``/``EndDate``, ``Amount``, order line, ``Comment``);
- ``submitted_at`` ← ``SubmitterInfo/SubmittedDateTime``; ``approval`` ←
  ``ApprovalInfo``; ``order_reference`` ← ``PurchaseOrderNumber`` and the
  parties and ``assignment_id`` ← ``ReferenceInformation`` in the TimeCard's
  own ``AdditionalData/StaffingAdditionalData``;
- ``ReportedTime/@status`` (the OHNL Schematron allows ``rejected``,
  ``corrected`` or nothing): ``rejected`` gives ``status`` rejected, else
  approved; ``corrected`` makes the card a correction, ``corrects`` = its own
  ``Id``: OHNL has no element naming another timecard (it forbids
  ``ReferenceInformation/DocumentId``), so a correction keeps the id of the
  timecard it replaces. Any other status is refused: it might be hours not
  yet approved. ``@actionCode`` of a TimeInterval or Allowance (Add, Change,
  Void, Unchanged) is its ``action``.

Does not survive a round trip: the ``idOwner`` of the timecard, worker and
interval ids (written as ``StaffingCustomer``, the agency issues them);
status ``submitted`` (a TIMECARD-HRXML is approved unless it says rejected,
so ``submitted`` is not written and decodes as ``approved``); party names,
addresses and contacts (SETU identifies parties by id only; ``vat_id``
comes back as a ``BTW`` id); PersonName parts other than FormattedName
(reported as not mapped); a ``corrects`` other than the card's own id, or
on a rejected card (encoding refuses them); notes
(``TimeCard.notes`` has no SETU element: encoding refuses them). An
``EndDateTime`` before the ``StartDateTime`` (the EBF example has one) is
dropped with a warning, since the model refuses such an interval.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from gateway.formats import Sample
from gateway.kinds import Direction, DocumentKind
from gateway.model import (
    Approval,
    Party,
    Period,
    TimeCard,
    TimeCardAction,
    TimeCardExpense,
    TimeCardStatus,
    TimeInterval,
    Worker,
)
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.format import SetuFormat
from plugins.setu_ohnl.messages import TIMECARD
from plugins.setu_ohnl.references import (
    party_ids,
    read_ids,
    read_version,
    write_ids,
    write_version,
)
from plugins.setu_ohnl.xmltools import (
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
)
from plugins.ubl import path_of

ISSUER = "StaffingCustomer"
"""``idOwner`` of the ids the agency gives the timecard, worker and intervals."""

_LINE = "AdditionalData/StaffingAdditionalData/CustomerReportingRequirements/PurchaseOrderLineItem"

# The ReportedTime/@status values the OHNL TimeCard Schematron allows, besides none.
CORRECTED = "corrected"
REJECTED = "rejected"

_ACTIONS = {
    "Add": TimeCardAction.ADD,
    "Change": TimeCardAction.CHANGE,
    "Void": TimeCardAction.VOID,
    "Unchanged": TimeCardAction.UNCHANGED,
}
"""HR-XML ActionCodeType, the ``actionCode`` of a TimeInterval or Allowance."""
_ACTION_CODES = {action: code for code, action in _ACTIONS.items()}


# -- writing ------------------------------------------------------------------------------


def _entity_id(parent: Element, name: str, value: str | None) -> None:
    if value is not None:
        add(add(parent, name, idOwner=ISSUER), "IdValue", value)


def _person(parent: Element, name: str, person_name: str, person_id: str | None) -> None:
    person = add(parent, name)
    _entity_id(person, "Id", person_id)
    add(add(person, "PersonName"), "FormattedName", person_name)


def _approval(parent: Element, approval: Approval | None, field: str) -> None:
    if approval is None:
        return
    if approval.approver is None or approval.approved_at is None:
        raise SetuEncodeError(
            f"{field}: SETU ApprovalInfo needs both the approver and the moment of approval"
        )
    info = add(parent, "ApprovalInfo")
    _person(info, "Person", approval.approver, None)
    add(info, "ApprovedDateTime", format_when(approval.approved_at))


def _order_line(parent: Element, line: str | None) -> None:
    if line is not None:
        requirements = add(add(add(parent, "AdditionalData"), "StaffingAdditionalData"),
                           "CustomerReportingRequirements")
        add(requirements, "PurchaseOrderLineItem", line)


def _interval(parent: Element, interval: TimeInterval, field: str) -> None:
    node = add(
        parent, "TimeInterval", type=interval.type, billable=format_bool(interval.billable),
        actionCode=_action_code(interval.action),
    )
    _entity_id(node, "Id", interval.id)
    add(node, "StartDateTime", format_when(interval.start))
    opt(node, "EndDateTime", format_when(interval.end) if interval.end is not None else None)
    add(node, "Duration", format_number(interval.hours))
    if interval.rate is not None:
        if interval.multiplier is None:
            raise SetuEncodeError(
                f"{field}.multiplier: SETU-OHNL requires RateOrAmount/@multiplier with a rate "
                "(100.00 for the base rate)"
            )
        add(
            node, "RateOrAmount", format_number(interval.rate),
            multiplier=format_number(interval.multiplier),
            type=interval.rate_type or "hourly", currency=interval.currency,
        )
    elif interval.multiplier is not None or interval.rate_type is not None:
        raise SetuEncodeError(
            f"{field}: a multiplier or rate type travels on RateOrAmount, which needs the rate"
        )
    _order_line(node, interval.order_line_reference)
    if interval.approval is not None:
        # The OHNL Schematron forbids ApprovalInfo on an interval: the agency
        # approves the timecard as a whole.
        raise SetuEncodeError(
            f"{field}.approval: SETU-OHNL allows an approval on the timecard only"
        )
    opt(node, "Comment", interval.comment)


def _expense(parent: Element, expense: TimeCardExpense) -> None:
    node = add(parent, "Allowance", type=expense.type, actionCode=_action_code(expense.action))
    if expense.id is not None:
        add(add(node, "Id", idOwner=ISSUER), "IdValue", expense.id, name="expense")
    if expense.period is not None:
        start, end = expense.period.start, expense.period.end
        opt(node, "StartDate", format_when(start) if start is not None else None)
        opt(node, "EndDate", format_when(end) if end is not None else None)
    add(node, "Amount", format_number(expense.amount), currency=expense.currency)
    _order_line(node, expense.order_line_reference)
    opt(node, "Comment", expense.comment)


def _action_code(action: TimeCardAction | None) -> str | None:
    return _ACTION_CODES[action] if action is not None else None


def _reported_status(card: TimeCard) -> str | None:
    """``ReportedTime/@status``: one attribute says rejected or corrected, never both."""
    if card.corrects is not None and card.corrects != card.id:
        raise SetuEncodeError(
            f"TimeCard.corrects: SETU-OHNL has no element naming the timecard a correction "
            f"replaces; a correction keeps the timecard's id ({card.id!r}), not "
            f"{card.corrects!r}")
    if card.status is TimeCardStatus.REJECTED:
        if card.corrects is not None:
            raise SetuEncodeError(
                "TimeCard.corrects: SETU-OHNL marks a timecard rejected or corrected, "
                "not both")
        return REJECTED
    return CORRECTED if card.corrects is not None else None


def write_timecard(card: TimeCard) -> Element:
    if card.notes:
        raise SetuEncodeError("TimeCard.notes: a SETU-OHNL TimeCard has no element for notes")
    if card.order_reference is None and card.assignment_id is None:
        raise SetuEncodeError(
            "TimeCard.order_reference: SETU-OHNL needs the order number or the assignment id"
        )
    if card.period.start is None or card.period.end is None:
        raise SetuEncodeError("TimeCard.period: SETU needs PeriodStartDate and PeriodEndDate")
    root = make_root("TimeCard")
    _entity_id(root, "Id", card.id)
    _person(add(root, "ReportedResource"), "Person", card.worker.name, card.worker.id)
    reported = add(root, "ReportedTime", status=_reported_status(card))
    add(reported, "PeriodStartDate", format_when(card.period.start))
    add(reported, "PeriodEndDate", format_when(card.period.end))
    for index, interval in enumerate(card.intervals):
        _interval(reported, interval, f"TimeCard.intervals[{index}]")
    for expense in card.expenses:
        _expense(reported, expense)
    if card.submitted_at is not None:
        add(add(root, "SubmitterInfo"), "SubmittedDateTime", format_when(card.submitted_at))
    _approval(root, card.approval, "TimeCard.approval")
    staffing = add(add(root, "AdditionalData"), "StaffingAdditionalData")
    requirements = add(staffing, "CustomerReportingRequirements")
    opt(requirements, "PurchaseOrderNumber", card.order_reference)
    write_version(requirements)
    references = add(staffing, "ReferenceInformation")
    write_ids(references, "StaffingSupplierId", party_ids(card.supplier, "TimeCard.supplier"))
    write_ids(references, "StaffingCustomerId", party_ids(card.customer, "TimeCard.customer"))
    if card.assignment_id is not None:
        add(add(references, "AssignmentId", idOwner="StaffingCompany"), "IdValue",
            card.assignment_id)
    return root


# -- reading ------------------------------------------------------------------------------


class TimeCardReader:
    def __init__(self, root: Element) -> None:
        self.root = root
        self.r = SetuReader(root)
        self.warnings: list[str] = []

    def _required(self, node: Element, path: str) -> Element:
        found = self.r.first(node, hr(path))
        if found is None:
            raise SetuDecodeError(f"{path_of(node)}/{path} is required and missing")
        return found

    def _approval(self, node: Element) -> Approval | None:
        infos = self.r.all(node, hr("ApprovalInfo"))
        if not infos:
            return None
        # The model keeps one approval; further ones stay in the warnings.
        info = infos[0]
        approver = self.r.text(info, hr("Person/PersonName/FormattedName"))
        return Approval(approver=approver, approved_at=self._moment(info, "ApprovedDateTime"))

    def _moment(self, node: Element, path: str) -> dt.datetime | None:
        """A date-time field of the model; a bare date there is reported, not guessed at."""
        value = self.r.when(node, hr(path))
        if value is None or isinstance(value, dt.datetime):
            return value
        self.warnings.append(f"{path_of(node)}/{path} ({value}) is a date without a time; dropped")
        return None

    def _line(self, node: Element) -> str | None:
        return self.r.code(node, hr(_LINE))

    def _interval(self, node: Element) -> TimeInterval:
        kind = self.r.attr(node, "type")
        if kind is None:
            raise SetuDecodeError(f"{path_of(node)}/@type is required and missing")
        start = self.r.when(self._required(node, "StartDateTime"))
        assert start is not None
        end = self.r.when(node, hr("EndDateTime"))
        # A date and a datetime do not compare; the model checks only like with like too.
        if end is not None and _mixed_zones(start, end):
            self.warnings.append(
                f"{path_of(node)}/EndDateTime ({end.isoformat()}) and StartDateTime "
                "differ in having a time zone; EndDateTime dropped"
            )
            end = None
        if end is not None and _later(start, end):
            self.warnings.append(
                f"{path_of(node)}/EndDateTime ({end.isoformat()}) lies before StartDateTime; "
                "dropped"
            )
            end = None
        hours = self._hours(node, start, end)
        rate_node = self.r.first(node, hr("RateOrAmount"))
        rate = currency = rate_type = None
        multiplier: Decimal | None = None
        if rate_node is not None:
            rate = self.r.decimal(rate_node)
            currency = self.r.attr(rate_node, "currency")
            rate_type = self.r.attr(rate_node, "type")
            multiplier = self.r.decimal_attr(rate_node, "multiplier")
        billable = self.r.flag(node, "billable")
        return TimeInterval(
            id=self.r.id_value(node), type=kind, start=start, end=end,
            hours=hours if hours is not None else Decimal(0),
            billable=True if billable is None else billable,
            multiplier=multiplier, rate=rate, rate_type=rate_type, currency=currency,
            order_line_reference=self._line(node), approval=self._approval(node),
            comment=self.r.text(node, hr("Comment")), action=self._action(node),
        )

    def _hours(
        self, node: Element, start: dt.date | dt.datetime, end: dt.date | dt.datetime | None,
    ) -> Decimal | None:
        """``Duration`` (TimeCardDuration: decimal hours or an xsd:duration), else End - Start."""
        found = self.r.first(node, hr("Duration"))
        if found is not None:
            text = self.r.code(found)
            if text is not None and text.lstrip("+-").startswith("P"):
                return _duration_hours(text, path_of(found))
            return self.r.decimal(found)
        if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
            seconds = Decimal((end - start).total_seconds())
            return (seconds / 3600).quantize(Decimal("0.01"))
        raise SetuDecodeError(
            f"{path_of(node)}: neither Duration nor a StartDateTime/EndDateTime pair of "
            "moments to count the hours from"
        )

    def _expense(self, node: Element) -> TimeCardExpense:
        kind = self.r.attr(node, "type")
        if kind is None:
            raise SetuDecodeError(f"{path_of(node)}/@type is required and missing")
        amount_node = self._required(node, "Amount")
        amount = self.r.decimal(amount_node)
        currency = self.r.attr(amount_node, "currency")
        if amount is None or currency is None:
            raise SetuDecodeError(f"{path_of(amount_node)} needs an amount and @currency")
        start = self.r.when(node, hr("StartDate"))
        end = self.r.when(node, hr("EndDate"))
        period = None
        if start is not None or end is not None:
            period = Period(
                start=as_date(start) if start is not None else None,
                end=as_date(end) if end is not None else None,
            )
        return TimeCardExpense(
            id=self.r.id_value(node), type=kind, period=period, amount=amount,
            currency=currency, order_line_reference=self._line(node),
            comment=self.r.text(node, hr("Comment")), action=self._action(node),
        )

    def _action(self, node: Element) -> TimeCardAction | None:
        code = self.r.attr(node, "actionCode")
        if code is None:
            return None
        action = _ACTIONS.get(code.strip())
        if action is None:
            raise SetuDecodeError(
                f"{path_of(node)}/@actionCode: {code!r} is none of "
                f"{', '.join(_ACTIONS)}")
        return action

    def _status(self, reported: Element) -> str | None:
        """``rejected``, ``corrected`` or None; any other value could mean unapproved hours."""
        status = self.r.attr(reported, "status")
        value = status.strip() if status is not None else ""
        if value in ("", CORRECTED, REJECTED):
            return value or None
        raise SetuDecodeError(
            f"{path_of(reported)}/@status: {status!r} is not a status SETU-OHNL knows "
            f"(only {REJECTED!r}, {CORRECTED!r} or none)")

    def timecard(self) -> tuple[TimeCard, list[str]]:
        root = self.root
        self.r.attr(root, "idOwner")
        person = self._required(root, "ReportedResource/Person")
        name = self.r.text(person, hr("PersonName/FormattedName"))
        if name is None:
            raise SetuDecodeError(
                f"{path_of(person)}/PersonName/FormattedName: the worker's name is missing"
            )
        reported = self._required(root, "ReportedTime")
        more = self.r.peek_all(root, hr("ReportedTime"))[1:]
        if more:
            self.warnings.append(
                f"{len(more)} further ReportedTime blocks: only the first is mapped"
            )
        period_start = self.r.when(self._required(reported, "PeriodStartDate"))
        period_end = self.r.when(self._required(reported, "PeriodEndDate"))
        status = self._status(reported)
        intervals = tuple(self._interval(n) for n in self.r.all(reported, hr("TimeInterval")))
        expenses = tuple(self._expense(n) for n in self.r.all(reported, hr("Allowance")))
        staffing = self.r.first(root, hr("AdditionalData/StaffingAdditionalData"))
        requirements = (
            self.r.first(staffing, hr("CustomerReportingRequirements"))
            if staffing is not None else None
        )
        read_version(self.r, requirements)
        references = (
            self.r.first(staffing, hr("ReferenceInformation")) if staffing is not None else None
        )
        card_id = self._id(root)
        card = TimeCard(
            id=card_id,
            status=TimeCardStatus.REJECTED if status == REJECTED else TimeCardStatus.APPROVED,
            # SETU names no other timecard: a correction replaces the one with its own id.
            corrects=card_id if status == CORRECTED else None,
            order_reference=(
                self.r.code(requirements, hr("PurchaseOrderNumber"))
                if requirements is not None else None
            ),
            assignment_id=(
                self.r.id_value(references, "AssignmentId") if references is not None else None
            ),
            customer=Party(ids=read_ids(self.r, references, "StaffingCustomerId")),
            supplier=Party(ids=read_ids(self.r, references, "StaffingSupplierId")),
            worker=Worker(name=name, id=self.r.id_value(person)),
            period=Period(
                start=as_date(period_start) if period_start is not None else None,
                end=as_date(period_end) if period_end is not None else None,
            ),
            submitted_at=self._moment(root, "SubmitterInfo/SubmittedDateTime"),
            approval=self._approval(root),
            intervals=intervals,
            expenses=expenses,
        )
        return card, [*self.warnings, *self.r.unread()]

    def _id(self, root: Element) -> str:
        value = self.r.id_value(root)
        if value is None:
            raise SetuDecodeError("/TimeCard/Id/IdValue: the timecard id is missing")
        return value


_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def _duration_hours(text: str, where: str) -> Decimal:
    """An xsd:duration in hours; years and months have no fixed length and are refused."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in {"P", "PT"} or text.strip().endswith("T"):
        raise SetuDecodeError(f"{where}: {text!r} is not a duration in days, hours, minutes")
    parts = {k: Decimal(v) if v else Decimal(0) for k, v in match.groupdict().items()}
    return parts["days"] * 24 + parts["hours"] + parts["minutes"] / 60 + parts["seconds"] / 3600


def _mixed_zones(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> bool:
    return (
        isinstance(start, dt.datetime) and isinstance(end, dt.datetime)
        and (start.tzinfo is None) != (end.tzinfo is None)
    )


def _later(start: dt.date | dt.datetime, end: dt.date | dt.datetime) -> bool:
    if isinstance(start, dt.datetime) and isinstance(end, dt.datetime):
        return start > end
    if not isinstance(start, dt.datetime) and not isinstance(end, dt.datetime):
        return start > end
    return False


# -- the format ---------------------------------------------------------------------------


class SetuTimeCard20(SetuFormat):
    key = "setu-ohnl:timecard:2.0"
    kind = DocumentKind.TIMECARD
    directions = frozenset({Direction.INBOUND, Direction.OUTBOUND})
    description = "SETU (HR-XML)-OHNL 2.0 TimeCard (TIMECARD-HRXML): hours approved by the agency"
    message = TIMECARD
    model = TimeCard
    noun = "timecards"
    subject = "the timecard"

    def write(self, document: Any) -> Element:
        return write_timecard(document)

    def read(self, root: Element) -> tuple[Any, list[str]]:
        return TimeCardReader(root).timecard()

    def samples(self) -> Sequence[Sample]:
        from plugins.setu_ohnl.samples import timecard_samples

        return timecard_samples()
