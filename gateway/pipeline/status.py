"""What happens to an outbound message after its channel accepted it.

Channels report what the other side said later (Digipoort's status codes,
Peppol receipts and Invoice Responses, e-mail bounces, a person closing a
portal task) as :class:`~gateway.channels.StatusReport`. Each report becomes
a ``status`` event on the message's timeline with the transport's own code
and text; its reading moves the business state, and a report of
non-delivery moves the transport state from ``sent`` to ``failed`` (the dead
letter) so an operator sees it.

A message waits for statuses while it is ``sent`` and its business state
is ``none`` or ``delivered-to-agency``: the agency has not yet said anything
about the content. That is what :meth:`StatusDesk.waiting` lists for a poller,
the undelivered first, a page at a time, going round them all. A final report
ends the waiting for good whatever the states say (Digipoort's
``polling-stopped``: delivered to the agency, whose answer no longer comes):
the store stops following the message, until it is sent again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from gateway.channels import SentMessage, StatusReport
from gateway.instruments import stage
from gateway.kinds import Direction, DocumentKind
from gateway.pipeline.keys import outbound_key
from gateway.store import (
    BusinessState,
    MessageRecord,
    NewEvent,
    Store,
    TimelineMoved,
    TransportState,
)

log = logging.getLogger(__name__)

WAITING_BUSINESS_STATES = (BusinessState.NONE.value, BusinessState.DELIVERED_TO_AGENCY.value)
# A try is lost only to a write on the same message between reading its timeline and
# recording the status on it.
RECORD_TRIES = 5


class StatusDesk:
    """Records channels' status reports on their messages and lists what still waits."""

    def __init__(self, store: Store, supplier_kvk: Callable[[], str]) -> None:
        self.store = store
        self.supplier_kvk = supplier_kvk
        # Per channel and list of business states, the last message a poller was
        # given (its state's place in the list, its id): the next call goes on after
        # it. Forgotten on restart, which starts the round anew.
        self._turn: dict[tuple[str, tuple[str, ...]], tuple[int, str]] = {}

    async def record(self, channel: str, report: StatusReport) -> str | None:
        """Append the report to its message; None (and a warning) if no message matches."""
        with stage("status", channel=channel) as recording:
            record = await self._find(channel, report)
            if record is None:
                recording.outcome = "unknown-message"
                log.warning("status %s from channel %s names no known message", report.code,
                            channel, extra={"transport_id": report.transport_id})
                return None
            recording.note(message_id=record.id)
            recording.set(kind=record.document_kind, agency_oin=record.agency_oin)
            detail: dict[str, Any] = {"channel": channel, "code": report.code,
                                      "text": report.text, "final": report.final,
                                      **report.detail}
            if report.at is not None:
                detail["at"] = report.at.isoformat()
            for tries_left in reversed(range(RECORD_TRIES)):
                try:
                    recording.outcome = await self._write(channel, record.id, report, detail)
                    return record.id
                except TimelineMoved:
                    # Another instance wrote on the message since its timeline was read
                    # (a poller's turn changing hands mid-round, a business response
                    # received there): decide again on what is there now, where the same
                    # status is a repeat.
                    if report.after_event is not None or not tries_left:
                        raise
            raise AssertionError("unreachable: the last try returns or raises")

    async def _write(self, channel: str, message_id: str, report: StatusReport,
                     detail: dict[str, Any]) -> str:
        """Record the report on the timeline as read now; its outcome for the metrics.

        Raises TimelineMoved when the timeline grew before the write: what was
        decided on it (a repeat or not, the transport and business state) may
        no longer hold.
        """
        events = await self.store.events(message_id)
        if report.after_event is not None and events and events[-1].seq != report.after_event:
            # Decided on a timeline that has moved since: the store would refuse it too.
            raise TimelineMoved(message_id, report.after_event, events[-1].seq)
        if _already_recorded(events, detail):
            return "repeat"
        business_state = report.business_state
        # Read after the timeline: a state newer than the timeline shows came with an
        # event, which makes the write below fail and the report be decided again.
        record = (await self.store.get(message_id)
                  if report.failed or report.final or business_state is not None else None)
        if business_state is not None and (
                _superseded(events, report)
                or (record is not None and _answered_since_send(events)
                    and _kept(record.business_state, report))):
            # An earlier word that arrived late (Invoice Responses are not ordered), or
            # one that would undo what the agency said: on the timeline, but it does
            # not undo the state a later or weightier one set.
            business_state = None
        # A report on an earlier send (Digipoort gives each delivery its own kenmerk) that
        # comes after the message was sent again belongs to that send's story: on the
        # timeline, but it neither fails the newer send nor stops following it.
        earlier_send = (record is not None and report.transport_id is not None
                        and record.transport_id not in (None, report.transport_id))
        fields: dict[str, Any] = {}
        if report.final and not earlier_send:
            # Nothing more is asked about this send: off the pollers' list, where it would
            # take a place every round for ever. Its next send follows it again.
            fields["status_followed"] = False
        transport_state = None
        if (report.failed and not earlier_send and record is not None
                and record.transport_state is TransportState.SENT):
            transport_state = TransportState.FAILED
            fields["last_error"] = (f"{channel} reports non-delivery: {report.code} "
                                    f"{report.text}")
        expected = report.after_event
        if expected is None and events:
            expected = events[-1].seq
        await self.store.transition(
            message_id, event=NewEvent("status", detail), transport_state=transport_state,
            business_state=business_state, expect_last_event=expected, **fields,
        )
        return "failed" if transport_state is not None else "recorded"

    async def waiting(
        self, channel: str, limit: int = 500, business_states: Sequence[str] | None = None,
    ) -> Sequence[SentMessage]:
        """Sent messages of ``channel`` the agency has not yet answered on, at most ``limit``.

        Not those with a final report since their latest send. Those not yet
        delivered come first, then those delivered to the agency,
        each oldest first (``business_states`` picks some of them, in its
        order). When more wait than ``limit``, each call goes on in that order
        after the last message the previous call gave, and starts again at
        the beginning after the end: a message that never gets a status (a
        lost process, an agency that never answers) must not keep a poller
        from the others, so each waiting message is asked about once in every
        ``waiting / limit`` rounds.
        """
        states = tuple(dict.fromkeys(business_states or WAITING_BUSINESS_STATES))
        for business_state in states:
            if business_state not in WAITING_BUSINESS_STATES:
                raise ValueError(f"sent messages in business state {business_state!r} wait for "
                                 f"nothing; waiting ones are {', '.join(WAITING_BUSINESS_STATES)}")
        found = await self._next_turn(channel, states, limit)
        return [
            SentMessage(message_id=r.id, transport_id=r.transport_id, agency_oin=r.agency_oin,
                        kind=r.document_kind, business_state=r.business_state,
                        created_at=r.created_at, last_change=r.updated_at)
            for r in found if r.transport_id is not None
        ]

    async def _next_turn(self, channel: str, states: tuple[str, ...],
                         limit: int) -> list[MessageRecord]:
        """Up to ``limit`` messages after the last turn's, in the order of ``states``, wrapping."""
        turn = (channel, states)
        first, after = self._turn.get(turn, (0, None))
        found: list[MessageRecord] = []
        for index in range(first, len(states)):
            if len(found) < limit:
                found += await self.store.waiting_for_status(
                    channel, states[index], limit - len(found), after if index == first else None)
        if turn in self._turn and len(found) < limit:
            # The end reached: on from the beginning, up to where this turn began.
            taken = {record.id for record in found}
            for index in range(first + 1):
                if len(found) < limit:
                    found += [record for record in await self.store.waiting_for_status(
                        channel, states[index], limit - len(found)) if record.id not in taken]
            if len(found) < limit:  # all of them fit: in their order, as without a turn
                found.sort(key=lambda record: (states.index(record.business_state), record.id))
        if found:
            self._turn[turn] = (states.index(found[-1].business_state), found[-1].id)
        else:
            self._turn.pop(turn, None)
        return found

    async def _find(self, channel: str, report: StatusReport) -> MessageRecord | None:
        if report.transport_id is not None:
            return await self.store.find_by_transport_id(channel, report.transport_id,
                                                         Direction.OUTBOUND)
        # StatusReport's own check guarantees these three when there is no transport id.
        key = outbound_key(self.supplier_kvk(), str(report.agency_oin),
                           DocumentKind(str(report.kind)), str(report.document_number))
        return await self.store.find_by_business_key(Direction.OUTBOUND, key)


def _already_recorded(events: Sequence[Any], detail: dict[str, Any]) -> bool:
    """Whether the message has this status since its latest send.

    Pollers hand over whole histories; a status seen before is not news. But a
    message sent again under the same transport id (an e-mail Message-ID, a
    Peppol instance) may get the very same words again, and those are news.
    """
    seen = False
    for event in events:
        if event.kind == "sent":
            seen = False
        elif event.kind == "status" and all(
            event.detail.get(k) == detail.get(k) for k in ("channel", "code", "text", "at")
        ):
            seen = True
    return seen


# What the transport says (a receipt: delivered, or not yet): any word of the agency on
# the content implies it, whatever the times. The other states are the agency's answers.
TRANSPORT_BUSINESS_STATES = frozenset(WAITING_BUSINESS_STATES)
# The agency's last word on the content: a later report that is not final (an acceptance
# dated the same day as the payment, delivered after it) does not undo it.
FINAL_BUSINESS_STATES = frozenset({BusinessState.PAID.value, BusinessState.REJECTED.value})


def _answered_since_send(events: Sequence[Any]) -> bool:
    """Whether a status since the message's latest send set its business state: what an
    earlier send was answered does not hold back the answers to the send after it."""
    answered = False
    for event in events:
        if event.kind == "sent":
            answered = False
        elif event.kind == "status" and event.business_state is not None:
            answered = True
    return answered


def _kept(current: str, report: StatusReport) -> bool:
    """Whether the message's business state ``current`` stands against ``report``'s."""
    if report.business_state in TRANSPORT_BUSINESS_STATES:
        # A receipt arriving after a response (or a late copy of one) says less.
        return current not in TRANSPORT_BUSINESS_STATES
    return current in FINAL_BUSINESS_STATES and not report.final


def _superseded(events: Sequence[Any], report: StatusReport) -> bool:
    """Whether a status dated after ``report`` already set the business state.

    Only a status of the same rank counts: a receipt's time says nothing about the
    order of the agency's answers, whose times may be a date alone (a T111 without
    IssueTime reads as 00:00, before the receipt of that morning).
    """
    if report.at is None:
        return False
    answer = report.business_state not in TRANSPORT_BUSINESS_STATES
    for event in events:
        at = event.detail.get("at") if event.kind == "status" else None
        if event.business_state is None or not isinstance(at, str):
            continue
        if answer and event.business_state in TRANSPORT_BUSINESS_STATES:
            continue
        with contextlib.suppress(ValueError):
            if datetime.fromisoformat(at) > report.at:
                return True
    return False
