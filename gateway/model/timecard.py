"""Timecards: hours worked on a staffing order, as the agency approved them.

In SETU (HR-XML)-OHNL 2.0 the agency enters and approves the hours and sends
the timecard to the supplier (TIMECARD-HRXML); the supplier invoices them and
refers back to the timecard and its order lines.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import attrs

from gateway.model.common import Party, Period
from gateway.model.record import Record
from gateway.model.shape import CURRENCY_CODE, NON_NEGATIVE
from gateway.model.staffing import Worker


class TimeCardStatus(enum.StrEnum):
    """Where the timecard is in its approval; only approved hours may be invoiced."""

    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


class TimeCardAction(enum.StrEnum):
    """What a line of a corrected timecard does to the line of the same id sent before.

    The HR-XML ``actionCode`` (``Add``, ``Change``, ``Void``, ``Unchanged``).
    A voided line stays on the timecard to say its hours no longer stand.
    """

    ADD = "add"
    CHANGE = "change"
    VOID = "void"
    UNCHANGED = "unchanged"


@attrs.frozen(kw_only=True)
class Approval(Record):
    """Who approved hours or a timecard, and when."""

    approver: str | None = None
    approved_at: dt.datetime | None = None


@attrs.frozen(kw_only=True)
class TimeInterval(Record):
    """A stretch of work of one type.

    ``type`` is the SETU hour type as written (``Regular``, ``Overtime``,
    ``Shift``, ...). ``start`` and ``end`` are dates or moments, as the source
    gives them; ``hours`` the billable duration. ``multiplier`` is the rate
    percentage (100.00 = 100 %, 150.00 for overtime at time and a half),
    ``rate`` the amount per hour in ``currency`` with ``rate_type`` as SETU
    writes it (``hourly``, ``hourlyconsolidated``). ``order_line_reference``
    is the staffing order line (SETU PurchaseOrderLineItem). ``action`` says
    what a line of a correction does to the line sent before; a ``void``
    line's hours are not billable.
    """

    id: str | None = None
    type: str
    start: dt.date | dt.datetime
    end: dt.date | dt.datetime | None = None
    hours: Decimal = attrs.field(metadata=NON_NEGATIVE)
    billable: bool = True
    multiplier: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    rate: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    rate_type: str | None = None
    currency: str | None = attrs.field(default=None, metadata=CURRENCY_CODE)
    order_line_reference: str | None = None
    approval: Approval | None = None
    comment: str | None = None
    action: TimeCardAction | None = None

    def _check(self) -> None:
        if self.rate is not None and self.currency is None:
            raise self._fail("currency", "a rate needs a currency")
        # A date and a datetime do not compare; only check like with like.
        if (
            self.end is not None
            and isinstance(self.start, dt.datetime) == isinstance(self.end, dt.datetime)
            and self.end < self.start
        ):
            raise self._fail("end", f"ends ({self.end}) before it starts ({self.start})")


@attrs.frozen(kw_only=True)
class TimeCardExpense(Record):
    """An expense claimed on a timecard (SETU Allowance), e.g. travel or a meal."""

    id: str | None = None
    type: str
    period: Period | None = None
    amount: Decimal
    currency: str = attrs.field(metadata=CURRENCY_CODE)
    order_line_reference: str | None = None
    comment: str | None = None
    action: TimeCardAction | None = None


@attrs.frozen(kw_only=True)
class TimeCard(Record):
    """The hours (and expenses) of one worker over one period.

    ``order_reference`` is the staffing order (SETU PurchaseOrderNumber),
    ``assignment_id`` the supplier's placement number. ``customer`` is the
    agency, ``supplier`` the staffing company.

    ``corrects`` makes the timecard a correction: it replaces the timecard
    with that id as sent before. A SETU-OHNL correction keeps the timecard's
    own id (``ReportedTime/@status="corrected"``; SETU has no element naming
    another timecard), so there ``corrects`` equals ``id``. Which of two
    versions is the later one follows from ``submitted_at``, else the
    moment of ``approval``.
    """

    id: str
    status: TimeCardStatus
    order_reference: str | None = None
    assignment_id: str | None = None
    customer: Party
    supplier: Party
    worker: Worker
    period: Period
    submitted_at: dt.datetime | None = None
    approval: Approval | None = None
    intervals: tuple[TimeInterval, ...] = ()
    expenses: tuple[TimeCardExpense, ...] = ()
    notes: tuple[str, ...] = ()
    corrects: str | None = None

    @property
    def billable_hours(self) -> Decimal:
        """The hours of the billable intervals not voided: what the supplier may invoice."""
        return sum(
            (i.hours for i in self.intervals
             if i.billable and i.action is not TimeCardAction.VOID),
            Decimal(0))
