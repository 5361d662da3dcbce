"""Hiring staff (inhuur): the agency's staffing order and the supplier's confirmation.

SETU (HR-XML)-OHNL 2.0: the agency sends a StaffingOrder (BESTELLING-HRXML),
the supplier answers with a HumanResource (BESTELLING-BEVESTIGING-HRXML).
Unlike UBL-OHNL, the answer may reject the order.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal

import attrs

from gateway.model.common import Address, Attachment, Contact, Party, Period
from gateway.model.record import Record
from gateway.model.shape import CURRENCY_CODE, NON_NEGATIVE


@attrs.frozen(kw_only=True)
class Worker(Record):
    """The person hired (or proposed): a display name and the id a party gave them."""

    name: str
    id: str | None = None


@attrs.frozen(kw_only=True)
class StaffingRate(Record):
    """A rate on a staffing order line.

    ``period`` is how the amount is counted (SETU ``rateAmountPeriod``,
    e.g. ``hourly``), ``rate_type`` what it is (``pay`` or ``bill``),
    ``multiplier`` a percentage of the base rate (100.00 = 100 %), for
    overtime and shift allowances. ``max_hours`` caps what may be invoiced.
    """

    order_line_id: str | None = None
    amount: Decimal = attrs.field(metadata=NON_NEGATIVE)
    currency: str = attrs.field(metadata=CURRENCY_CODE)
    period: str = "hourly"
    rate_type: str | None = None
    multiplier: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    max_hours: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    cost_centre: str | None = None
    description: str | None = None
    start_date: dt.date | None = None


@attrs.frozen(kw_only=True)
class StaffingOrder(Record):
    """An agency's order to hire a person through the supplier.

    ``order_type`` and ``order_status`` are SETU OrderClassification
    (``order``/``new``; ``RFQ`` for a request). ``customer`` is the agency,
    ``supplier`` the staffing company. ``offer_id`` is the supplier's offer
    the order follows; ``inclusive_rate`` says whether rates include costs
    (SETU NL extension). ``shift_hours`` per ``shift_period`` (e.g. 50 hours
    ``weekly``) is the expected working time.
    """

    order_id: str
    issue_date: dt.date | None = None
    order_type: str | None = None
    order_status: str | None = None
    master_order_id: str | None = None
    customer: Party
    supplier: Party
    contact: Contact | None = None
    position_description: str | None = None
    position_quantity: int | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    worker: Worker | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    rates: tuple[StaffingRate, ...] = ()
    work_site_name: str | None = None
    work_site: Address | None = None
    shift_hours: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    shift_period: str | None = None
    cost_centre: str | None = None
    offer_id: str | None = None
    inclusive_rate: bool | None = None
    notes: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()

    def _check(self) -> None:
        if (
            self.start_date is not None
            and self.end_date is not None
            and self.end_date < self.start_date
        ):
            raise self._fail(
                "end_date", f"ends ({self.end_date}) before it starts ({self.start_date})"
            )


class HumanResourceStatus(enum.StrEnum):
    """Whether the supplier takes on the staffing order (SETU HumanResourceStatus)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


@attrs.frozen(kw_only=True)
class HumanResource(Record):
    """The supplier's confirmation (or rejection) of a staffing order.

    ``id`` is the supplier's HumanResourceId, ``order_reference`` the staffing
    order number (SETU PurchaseOrderNumber), ``candidate`` the person
    proposed and ``availability`` when they can work.
    """

    id: str
    issue_date: dt.date | None = None
    order_reference: str
    status: HumanResourceStatus
    customer: Party
    supplier: Party
    candidate: Worker | None = None
    availability: Period | None = None
    offer_id: str | None = None
    notes: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
