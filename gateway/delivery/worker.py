"""The delivery worker: claims decoded inbound documents and hands them to the ERP.

It works like the outbound dispatcher, on the inbound side of the store:
each delivery is a claim with a lease (``claim_deliverable``), so the retry
schedule and the attempt count survive restarts, a delivery cut off by a
crash is taken over when its lease runs out, and a failure is retried with
bounded exponential backoff and jitter until the message's budget (``[erp]
max_attempts`` when it arrived) is spent, then dead-lettered with the ERP's
last answer.

The configuration is read on every round, so switching ``[erp] delivery``
takes effect without a restart. With ``poll`` nothing is claimed: the
documents stay ``decoded`` until the ERP acknowledges them through the API,
and what a push delivery left behind (a claim whose worker died, a document
waiting for its retry) is handed back to ``decoded``, where the ERP's inbox
finds it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import timedelta

from gateway.channels import Accepted, FinalError, RetryableError, SendOutcome
from gateway.config.model import ErpSettings, GatewayConfig
from gateway.delivery.targets import Target, make_target
from gateway.instruments import count_attempt, stage
from gateway.kinds import Direction
from gateway.pipeline.dispatch import DispatchSettings, backoff_delay, link_to_event
from gateway.pipeline.workers import ClaimKeeper, WorkerGroup
from gateway.store import Attempt, ClaimLost, MessageRecord, NewEvent, Store, TransportState
from gateway.store.base import MAX_PAGE, exhausted_reason
from gateway.store.errors import StoreError, TimelineMoved
from gateway.store.model import utc_now

log = logging.getLogger(__name__)


class DeliveryWorker(WorkerGroup):
    """``settings.workers`` tasks delivering inbound documents until :meth:`stop`."""

    role = "deliver"

    def __init__(
        self,
        store: Store,
        config: Callable[[], GatewayConfig],
        settings: DispatchSettings | None = None,
        *,
        instance: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(settings or DispatchSettings(), instance)
        self.store = store
        self.config = config
        self.rng = rng or random.Random()
        self._target: Target | None = None
        self._target_settings: ErpSettings | None = None
        # Deliveries under way per target: a replaced target is closed when its last
        # one ends, since closing an HTTP session aborts the requests on it.
        self._in_use: collections.Counter[Target] = collections.Counter()
        self._retired: set[Target] = set()
        self._closing: set[asyncio.Task[None]] = set()
        # Poll mode: one task at a time hands documents back (the group's other tasks
        # would only race it for the same rows), and the documents waiting for a retry
        # are looked for once per entry into poll mode (see _hand_back_for_poll).
        self._handing_back = asyncio.Lock()
        self._retrying_handed_back = False
        # When poll mode next looks for expired claims (time.monotonic(); see
        # _hand_back_expired_claims).
        self._claims_looked_for_at = 0.0

    async def stop(self) -> None:
        """Let deliveries in progress finish (up to ``stop_grace``), then close the targets."""
        await super().stop()
        for target in {*self._retired, *([self._target] if self._target else [])}:
            await target.close()
        self._retired.clear()
        self._target, self._target_settings = None, None
        await asyncio.gather(*self._closing, return_exceptions=True)

    def target(self, settings: ErpSettings | None = None) -> Target | None:
        """The target for ``settings`` (default: ``[erp]`` in force), rebuilt when it changed."""
        settings = self.config().erp if settings is None else settings
        if settings != self._target_settings:
            old = self._target
            self._target, self._target_settings = make_target(settings), settings
            if old is not None:
                self._retired.add(old)
                self._close_if_idle(old)
        return self._target

    def _close_if_idle(self, target: Target) -> None:
        if self._in_use[target]:
            return
        del self._in_use[target]
        if target in self._retired:
            self._retired.discard(target)
            closing = asyncio.get_running_loop().create_task(target.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def _round(self, worker_id: str) -> int:
        return await self.run_once(worker_id)

    async def run_once(self, worker_id: str = "deliver-once") -> int:
        """Claim and deliver what is due now, one batch; returns how many were handled.

        In poll mode nothing is claimed; documents a push delivery left behind
        are handed back to ``decoded`` instead (:meth:`_hand_back_for_poll`).
        """
        erp = self.config().erp
        if self.target(erp) is None:
            return await self._hand_back_for_poll()
        # Pushing again: a later switch to poll must look for waiting retries, and for
        # the claims this push leaves, anew.
        self._retrying_handed_back = False
        self._claims_looked_for_at = 0.0
        lease = self._lease(erp)
        claimed = await self.store.claim_deliverable(worker_id, self.settings.batch, lease)
        self._claimed(len(claimed))
        keeper = ClaimKeeper(self.store, worker_id, lease, (record.id for record in claimed))
        try:
            for record in claimed:
                if not keeper.holds(record.id):
                    continue  # its lease ran out while it waited: another worker has it
                try:
                    await self.deliver(record, worker_id)
                except Exception:
                    # The claim stays and expires, so another attempt comes; the worker
                    # lives on.
                    log.exception("delivery of message %s failed", record.id,
                                  extra={"message_id": record.id})
                finally:
                    keeper.done(record.id)
        finally:
            await keeper.stop()
        return len(claimed)

    def _lease(self, erp: ErpSettings) -> timedelta:
        # A webhook call must finish well within its lease, or a second worker
        # would deliver the same document while the first still waits.
        timeout = timedelta(seconds=erp.webhook_timeout)
        return max(self.settings.lease, 3 * timeout)

    async def _hand_back_for_poll(self) -> int:
        """Poll mode: put back among the decoded documents what a push delivery left; how many.

        Nothing claims in poll mode, so without this a delivery cut off by a
        crash would stay ``delivering`` (its expired claim never taken over)
        and one waiting for a webhook retry ``retrying``, for ever: states the
        ERP's inbox does not list by default and ``gateway inbox list`` never.
        """
        if self._handing_back.locked():
            return 0  # another task of this group is at it
        async with self._handing_back:
            handed = 0
            if not self._retrying_handed_back:
                # Once per entry into poll mode (a switch, or a start): nothing enters
                # ``retrying`` while we push nothing, and 'retrying' is shared with
                # the outbound backlog, so a look every round would read all of that.
                handed += await self._hand_back_retrying()
                self._retrying_handed_back = True
            return handed + await self._hand_back_expired_claims()

    async def _hand_back_retrying(self) -> int:
        handed = 0
        cursor = None
        while True:
            page = await self.store.list_messages(
                direction=Direction.INBOUND, transport_state=TransportState.RETRYING,
                limit=MAX_PAGE, cursor=cursor)
            for record in page.items:
                if await self._retrying_to_decoded(record.id):
                    handed += 1
            if page.next_cursor is None:
                return handed
            cursor = page.next_cursor

    async def _hand_back_expired_claims(self) -> int:
        """Hand back the deliveries whose claims expired; how many.

        While a delivery is under way this looks every round, since its claim
        expires as time passes. A look that finds none waits a lease before the
        next: a claim taken later (by another instance on the database that
        still pushes) runs a lease at least, when the instances share their
        [dispatch] lease as they share a configuration; if not, such a document
        waits at most one lease of this instance longer. Poll mode may run a
        round every few milliseconds, and each look is a read.
        """
        if time.monotonic() < self._claims_looked_for_at:
            return 0
        page = await self.store.list_messages(
            direction=Direction.INBOUND, transport_state=TransportState.DELIVERING,
            limit=MAX_PAGE)
        if not page.items:
            self._claims_looked_for_at = (time.monotonic()
                                          + self.settings.lease.total_seconds())
            return 0
        now = utc_now()
        handed = 0
        for record in page.items:
            owner, expires = record.claimed_by, record.claim_expires_at
            if owner is None or expires is None or expires > now:
                # A live claim: its worker (here, mid-switch, or another instance on the
                # same database) is still delivering and records the outcome itself.
                continue
            reason = (f"{owner} did not finish its delivery before its claim expired at "
                      f"{expires.isoformat()}; [erp] delivery is poll now, the document "
                      "waits for the ERP to fetch it")
            if await self._wait_for_poll(record, owner, reason):
                handed += 1
        return handed

    async def _wait_for_poll(self, record: MessageRecord, owner: str, reason: str) -> bool:
        """Release ``owner``'s claim (no attempt spent) and make the document ``decoded``."""
        try:
            # ClaimLost here: another worker took the claim over meanwhile; it is theirs.
            await self.store.release(record.id, reason, expect_claimed_by=owner)
        except StoreError:
            return False
        # Released means retrying and due at once: a pushing instance may claim it first.
        await self._retrying_to_decoded(record.id)
        return True

    async def _retrying_to_decoded(self, message_id: str) -> bool:
        """Move a document to ``decoded`` only while it is still ``retrying``; whether it did.

        Another instance on the same database that still pushes may claim it
        at any moment and deliver or dead-letter it; the state machine allows
        ``failed`` -> ``decoded`` (an operator's requeue), so a plain move
        would put a document the ERP refused back in its inbox.
        """
        for _ in range(3):
            # The timeline before the state: a change after the timeline was read came
            # with an event, and the move below is refused (TimelineMoved).
            events = await self.store.events(message_id)
            current = await self.store.get(message_id)
            if (not events or current is None
                    or current.transport_state is not TransportState.RETRYING):
                return False
            try:
                await self.store.transition(
                    message_id, event=NewEvent("waits-for-poll", {}),
                    transport_state=TransportState.DECODED, expect_last_event=events[-1].seq)
            except TimelineMoved:
                continue  # the other instance acted meanwhile: look again
            except StoreError:
                return False
            return True
        return False  # still busy at the other instance: it is that delivery's

    async def deliver(self, record: MessageRecord, worker_id: str) -> MessageRecord | None:
        """Deliver one claimed message and record the outcome; None when the claim was lost."""
        # One snapshot of [erp] for the whole delivery: a reload while the webhook call is
        # under way must not record it as made by the new setting's target.
        erp = self.config().erp
        target = self.target(erp)
        to = erp.delivery
        with stage("deliver", kind=record.document_kind, target=to) as delivering:
            # agency_oin of an inbound message comes from the document: span only.
            delivering.note(message_id=record.id, attempt=record.attempts,
                            agency_oin=record.agency_oin)
            if delivering.span.is_recording():
                await link_to_event(self.store, record.id, "decoded", delivering)
            started = utc_now()
            if target is None:
                # Switched to poll since the claim: not an attempt. Back among the
                # decoded documents, where the ERP's inbox listing finds it.
                delivering.outcome = "released"
                await self._wait_for_poll(record, worker_id, "[erp] delivery is poll now; "
                                          "the document waits for the ERP to fetch it")
                return None
            else:
                self._in_use[target] += 1
                try:
                    outcome = await target.deliver(record)
                except asyncio.CancelledError:
                    # Stopping mid-delivery: give the message back at once, not after the lease.
                    delivering.outcome = "released"
                    await asyncio.shield(self._release(
                        record, worker_id, "the gateway stopped during this delivery"))
                    raise
                except Exception as exc:
                    # A target's bug: retried on the schedule, not left claimed until the
                    # lease runs out with nothing on the timeline.
                    log.exception("delivery of message %s failed", record.id,
                                  extra={"message_id": record.id})
                    outcome = RetryableError(
                        f"the delivery failed: {type(exc).__name__}: {exc}", code="error")
                finally:
                    self._in_use[target] -= 1
                    self._close_if_idle(target)
            attempt = Attempt.from_outcome(record.id, record.attempts, outcome,
                                           started_at=started, finished_at=utc_now())
            delivering.outcome = attempt.outcome.value
            count_attempt("inbound", attempt.outcome.value, target=to,
                          kind=record.document_kind)
            try:
                return await self._record(record, worker_id, outcome, attempt, to)
            except ClaimLost:
                log.warning("claim lost during the delivery; the new owner delivers it",
                            extra={"message_id": record.id})
                return None

    async def _record(
        self, record: MessageRecord, worker_id: str, outcome: SendOutcome, attempt: Attempt,
        to: str,
    ) -> MessageRecord:
        match outcome:
            case Accepted():
                delivered = await self.store.transition(
                    record.id, transport_state=TransportState.DELIVERED,
                    expect_claimed_by=worker_id, attempt=attempt, last_error=None,
                    event=NewEvent("delivered", {
                        "to": to, "reference": outcome.transport_id,
                        "attempt": record.attempts, "detail": outcome.detail}))
                log.info("delivered to the ERP by %s", to,
                         extra={"message_id": record.id})
                return delivered
            case RetryableError() if record.attempts >= record.max_attempts:
                reason = exhausted_reason(record.attempts, record.max_attempts,
                                          _reason(outcome.reason, outcome.code))
                failed = await self.store.dead_letter(
                    record.id, reason, expect_claimed_by=worker_id, attempt=attempt)
                log.warning("dead-lettered: %s", reason, extra={"message_id": record.id})
                return failed
            case RetryableError():
                delay = backoff_delay(record.attempts, self.settings, self.rng)
                if outcome.retry_after is not None and outcome.retry_after > delay:
                    delay = min(outcome.retry_after, self.settings.backoff_cap)
                after = await self.store.schedule_retry(
                    record.id, utc_now() + delay, _reason(outcome.reason, outcome.code),
                    expect_claimed_by=worker_id, attempt=attempt)
                if after.transport_state is TransportState.FAILED:
                    log.warning("dead-lettered: %s", after.last_error,
                                extra={"message_id": record.id})
                return after
            case FinalError():
                failed = await self.store.dead_letter(
                    record.id, _reason(outcome.reason, outcome.code),
                    expect_claimed_by=worker_id, attempt=attempt)
                log.warning("dead-lettered: %s", failed.last_error,
                            extra={"message_id": record.id})
                return failed

    async def _release(self, record: MessageRecord, worker_id: str, reason: str) -> None:
        with contextlib.suppress(StoreError):
            await self.store.release(record.id, reason, expect_claimed_by=worker_id)


def _reason(reason: str, code: str | None) -> str:
    return f"{reason} [{code}]" if code else reason
