"""Dispatch: workers that claim due outbound messages and hand them to their channel.

Every attempt is a claim with a lease in the store, so the retry schedule
and the attempt count survive restarts, and a worker that dies mid-send
leaves a claim another worker takes over once the lease expires. A message
always goes out under the transport id it first got, so the receiving side
can recognise a repeat.

Two layers of retry: a few quick tries inside one attempt (tenacity, a few
hundred milliseconds) smooth over a dropped connection without touching the
store; anything longer becomes a stored retry with exponential backoff and
jitter, bounded by the message's ``max_attempts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
import tenacity

from gateway.channels import (
    Accepted,
    Channel,
    FinalError,
    OutboundMessage,
    RetryableError,
    SendOutcome,
)
from gateway.config.model import DispatchTable
from gateway.errors import GatewayError
from gateway.instruments import TRACEPARENT, Stage, count_attempt, link_to, stage
from gateway.kinds import DocumentKind
from gateway.pipeline.keys import number_from_key
from gateway.pipeline.workers import ClaimKeeper, WorkerGroup
from gateway.registry import Registry
from gateway.store import (
    Attempt,
    AttemptOutcome,
    ClaimLost,
    MessageRecord,
    NewEvent,
    Store,
    TransportState,
)
from gateway.store.errors import StoreError
from gateway.store.model import utc_now

log = logging.getLogger(__name__)

# Why a message goes back when the gateway stops: its last error, and the interrupted
# attempt's detail when the channel had it.
RELEASED = "the gateway stopped during this attempt"

# The longest a channel's retry_after may hold a message back.
MAX_RETRY_AFTER = timedelta(days=7)


@attrs.frozen
class DispatchSettings:
    """How hard and how often the dispatcher tries; every value is a setting, not a constant."""

    workers: int = 2
    batch: int = 1
    lease: timedelta = timedelta(minutes=5)
    idle_poll: float = 1.0
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_cap: timedelta = timedelta(hours=1)
    # Share of each delay drawn at random, so retries after an outage spread out.
    jitter: float = 0.5
    quick_tries: int = 3
    quick_wait: float = 0.1
    quick_budget: float = 0.5
    # How long stop() lets a send in progress finish before cancelling it.
    stop_grace: float = 10.0
    # How long one call of a channel's send may take; a channel that never answers
    # would otherwise keep its message "sending" for ever, the lease renewed.
    send_timeout: float = 300.0

    @classmethod
    def from_table(cls, table: DispatchTable) -> DispatchSettings:
        """The settings a ``[dispatch]`` table gives; the rest keep their defaults."""
        return cls(
            workers=table.workers, batch=table.batch, idle_poll=table.poll_interval,
            lease=timedelta(seconds=table.lease),
            backoff_base=timedelta(seconds=table.backoff_base),
            backoff_cap=timedelta(seconds=table.backoff_cap),
            send_timeout=table.send_timeout,
        )


def backoff_delay(attempt: int, settings: DispatchSettings, rng: random.Random) -> timedelta:
    """The wait after failed attempt ``attempt`` (from 1): base * 2^(n-1), capped, jittered."""
    exponent = min(max(attempt - 1, 0), 30)  # 2**30 times any base is past any sane cap
    full = min(settings.backoff_base * (1 << exponent), settings.backoff_cap)
    return full * (1 - settings.jitter * rng.random())


def media_extension(media_type: str) -> str:
    return ".json" if media_type.endswith("json") else ".xml"


class Dispatcher(WorkerGroup):
    """``workers`` tasks claiming and sending due messages until :meth:`stop`.

    ``channels`` is the service's live mapping of running channel instances;
    a message whose channel is not in it waits as a retryable failure, unless
    ``idle_channels`` names it: a channel configured here that is not running
    (disabled, or failed to start). Such a message is not claimed: it waits,
    its attempts unspent, for this or another instance to run its channel.
    """

    role = "dispatch"

    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        registry: Registry,
        settings: DispatchSettings | None = None,
        *,
        instance: str | None = None,
        rng: random.Random | None = None,
        metadata: Callable[[MessageRecord], Mapping[str, str]] | None = None,
        idle_channels: Callable[[], Collection[str]] | None = None,
    ) -> None:
        super().__init__(settings or DispatchSettings(), instance)
        self.store = store
        # What the channel needs from the live configuration (e.g. the agency's e-mail address).
        self.metadata = metadata
        self.channels = channels
        self.registry = registry
        self.rng = rng or random.Random()
        self.idle_channels = idle_channels
        self.missing_channels: set[str] = set()
        """Channels of messages claimed here that no running channel serves: configured
        nowhere (removed by a reload, say), so /health can count what waits for them."""

    async def _round(self, worker_id: str) -> int:
        claimed = await self._claim(worker_id)
        self._claimed(len(claimed))
        writes: list[tuple[MessageRecord, asyncio.Task[MessageRecord | None]]] = []
        keeper = ClaimKeeper(self.store, worker_id, self.settings.lease,
                             (record.id for record in claimed))
        try:
            for index, record in enumerate(claimed):
                if not keeper.holds(record.id):
                    continue  # its lease ran out while it waited: another worker sends it
                try:
                    outcome, attempt = await self._attempt(record, worker_id)
                except asyncio.CancelledError:
                    # Stopping: the messages of this batch not tried yet go back at once
                    # too, instead of waiting out the lease with an attempt counted.
                    await asyncio.shield(asyncio.gather(
                        *(self._release(rest, worker_id) for rest in claimed[index + 1:])))
                    raise
                except Exception:
                    # The claim stays and expires, so another attempt comes; the worker lives on.
                    log.exception("dispatcher %s failed on the message", worker_id,
                                  extra={"message_id": record.id, "worker": worker_id})
                    continue
                finally:
                    keeper.done(record.id)
                # Written while the next message is sent, so the store commits the
                # outcomes of a round together instead of one commit per message.
                writes.append((record, asyncio.create_task(
                    self._recorded(record, worker_id, outcome, attempt),
                    name=f"outcome:{record.id}")))
        finally:
            await keeper.stop()
            await _written(writes, worker_id)
        return len(claimed)

    async def run_once(self, worker_id: str = "dispatch-once") -> int:
        """Claim and send what is due now, one batch; returns how many were handled."""
        claimed = await self._claim(worker_id)
        keeper = ClaimKeeper(self.store, worker_id, self.settings.lease,
                             (record.id for record in claimed))
        try:
            for record in claimed:
                if keeper.holds(record.id):
                    await self._dispatch(record, worker_id, keeper)
        finally:
            await keeper.stop()
        return len(claimed)

    async def _claim(self, worker_id: str) -> list[MessageRecord]:
        # Not what waits for a channel configured here but not running: another gateway
        # instance on the database may run it, and a claim answered "not running" would
        # spend an attempt and a backoff. A channel configured nowhere is still claimed,
        # so its messages end in the dead letter saying so rather than wait unseen.
        idle = () if self.idle_channels is None else self.idle_channels()
        return await self.store.claim_due(worker_id, self.settings.batch, self.settings.lease,
                                          skip_channels=idle)

    # -- one attempt ---------------------------------------------------------------------------

    async def dispatch(self, record: MessageRecord, worker_id: str) -> MessageRecord | None:
        """Send one claimed message and record the outcome; None when the claim was lost."""
        keeper = ClaimKeeper(self.store, worker_id, self.settings.lease, [record.id])
        try:
            return await self._dispatch(record, worker_id, keeper)
        finally:
            await keeper.stop()

    async def _dispatch(
        self, record: MessageRecord, worker_id: str, keeper: ClaimKeeper,
    ) -> MessageRecord | None:
        try:
            outcome, attempt = await self._attempt(record, worker_id)
        finally:
            keeper.done(record.id)
        return await self._recorded(record, worker_id, outcome, attempt)

    async def _attempt(
        self, record: MessageRecord, worker_id: str,
    ) -> tuple[SendOutcome, Attempt]:
        """Send one claimed message: the channel's answer and the attempt it makes."""
        with stage("send", kind=record.document_kind, format=record.format_key,
                   channel=record.channel, agency_oin=record.agency_oin) as sending:
            sending.note(message_id=record.id, attempt=record.attempts)
            if sending.span.is_recording():
                # Only when traces are kept: it costs a read of the timeline.
                await link_to_event(self.store, record.id, "intake", sending)
            started = utc_now()
            try:
                outcome = await self._send(record)
            except asyncio.CancelledError:
                # Stopping mid-send: give the message back at once instead of leaving it
                # to wait for the lease; the next send reuses the same transport id.
                # The transport may have received it: the attempt is recorded, so that
                # an agency reporting it twice finds the cut-off send in the attempts.
                sending.outcome = AttemptOutcome.INTERRUPTED.value
                cut_off = Attempt(record.id, record.attempts, started, utc_now(),
                                  AttemptOutcome.INTERRUPTED, "gateway-stopped",
                                  f"{RELEASED}; the transport may have received it",
                                  record.transport_id)
                count_attempt("outbound", cut_off.outcome.value, channel=record.channel,
                              kind=record.document_kind)
                await asyncio.shield(self._release(record, worker_id, cut_off))
                raise
            attempt = Attempt.from_outcome(record.id, record.attempts, outcome,
                                           started_at=started, finished_at=utc_now())
            sending.outcome = attempt.outcome.value
            count_attempt("outbound", attempt.outcome.value, channel=record.channel,
                          kind=record.document_kind)
            return outcome, attempt

    async def _recorded(
        self, record: MessageRecord, worker_id: str, outcome: SendOutcome, attempt: Attempt,
    ) -> MessageRecord | None:
        try:
            return await self._record(record, worker_id, outcome, attempt)
        except ClaimLost:
            log.warning("claim lost during the attempt; the new owner sends it",
                        extra={"message_id": record.id, "worker": worker_id})
            return None

    async def _send(self, record: MessageRecord) -> SendOutcome:
        channel = self.channels.get(record.channel or "")
        if channel is None:
            self.missing_channels.add(record.channel or "")
            return RetryableError(
                f"channel {record.channel!r} is not running (not configured, disabled, or "
                "failed to start; see /health)", code="channel-unavailable")
        if record.raw_payload is None or record.format_key is None:
            return FinalError("the message has no encoded payload to send", code="no-payload")
        try:
            kind = DocumentKind(record.document_kind or "")
        except ValueError:
            return FinalError(f"unknown document kind {record.document_kind!r}", code="bad-kind")
        message = self._message(record, kind, record.raw_payload, record.format_key)
        began = time.monotonic()
        first = await self._call(channel, message)
        if self.settings.quick_tries <= 1 or not self._quick_retry(first):
            # Most sends end here: no retry machinery is built for a first answer that stands.
            return first
        return await self._quick_retries(channel, message, first, time.monotonic() - began)

    async def _quick_retries(
        self, channel: Channel, message: OutboundMessage, first: SendOutcome, spent: float,
    ) -> SendOutcome:
        """The quick tries after a first answer worth retrying at once.

        tenacity replays ``first`` as its attempt 1 rather than calling the channel
        again, so the waits and the attempt count are those of one tenacity run over
        all tries, and the time budget counts from the first call.
        """
        replay: list[SendOutcome] = [first]
        current = message
        last = first

        async def attempt() -> SendOutcome:
            nonlocal current, last
            if replay:
                return replay.pop()
            if current.transport_id is None and last.transport_id is not None:
                # The id an earlier try obtained: the transport must see a repeat.
                current = attrs.evolve(current, transport_id=last.transport_id)
            last = await self._call(channel, current)
            return last

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_result(self._quick_retry),
            stop=(tenacity.stop_after_attempt(max(1, self.settings.quick_tries))
                  | tenacity.stop_after_delay(self.settings.quick_budget - spent)),
            wait=tenacity.wait_exponential(multiplier=self.settings.quick_wait,
                                           max=self.settings.quick_budget),
            retry_error_callback=lambda state: state.outcome.result() if state.outcome else
            RetryableError("no attempt was made", code="no-attempt"),
            reraise=False,
        )
        outcome: SendOutcome = await retrying(attempt)
        return outcome

    def _quick_retry(self, outcome: SendOutcome) -> bool:
        """Retry within the attempt only what may pass in moments."""
        if not isinstance(outcome, RetryableError):
            return False
        wait = outcome.retry_after
        return wait is None or wait.total_seconds() <= self.settings.quick_budget

    async def _call(self, channel: Channel, message: OutboundMessage) -> SendOutcome:
        # A timeout scope rather than wait_for, which (on Python 3.11) makes every send
        # a task of its own: the commonest path of the dispatcher, once per message.
        deadline = asyncio.timeout(self.settings.send_timeout)
        try:
            async with deadline:
                outcome: object = await channel.send(message)
        except TimeoutError as exc:
            if not deadline.expired():  # the channel's own timeout, raised instead of answered
                return self._raised(channel, message, exc)
            log.error("channel %s did not answer a send within %s s", channel.name,
                      self.settings.send_timeout,
                      extra={"message_id": message.message_id, "channel": channel.name})
            return RetryableError(f"channel {channel.name} did not answer within "
                                  f"{self.settings.send_timeout:.0f} s", code="channel-timeout",
                                  transport_id=message.transport_id)
        except Exception as exc:  # channels must not raise; the core must not die when one does
            return self._raised(channel, message, exc)
        if not isinstance(outcome, Accepted | RetryableError | FinalError):
            return RetryableError(
                f"channel {channel.name} answered {type(outcome).__name__}, not a send outcome",
                code="channel-bug")
        return outcome

    @staticmethod
    def _raised(channel: Channel, message: OutboundMessage, exc: Exception) -> SendOutcome:
        log.error("channel %s raised while sending", channel.name, exc_info=exc,
                  extra={"message_id": message.message_id, "channel": channel.name})
        return RetryableError(f"channel {channel.name} raised {type(exc).__name__}: {exc}",
                              code="channel-exception")

    def _message(
        self, record: MessageRecord, kind: DocumentKind, payload: bytes, format_key: str,
    ) -> OutboundMessage:
        try:
            media_type = self.registry.format(format_key).media_type
        except GatewayError:  # an uninstalled format must not hold back bytes already encoded
            media_type = "application/xml"
        number = number_from_key(record.business_key or record.id)
        return OutboundMessage(
            message_id=record.id,
            agency_oin=record.agency_oin or "",
            kind=kind,
            format_key=format_key,
            payload=payload,
            media_type=media_type,
            filename=f"{number}{media_extension(media_type)}",
            business_key=record.business_key or "",
            transport_id=record.transport_id,
            attempt=record.attempts,
            metadata={} if self.metadata is None else self.metadata(record),
        )

    async def _record(
        self, record: MessageRecord, worker_id: str, outcome: SendOutcome, attempt: Attempt,
    ) -> MessageRecord:
        match outcome:
            case Accepted():
                fields: dict[str, Any] = {}
                if record.transport_id not in (None, outcome.transport_id) and any(
                    a.outcome is AttemptOutcome.ACCEPTED and a.transport_id == record.transport_id
                    for a in await self.store.attempts(record.id)
                ):
                    # Accepted before under record.transport_id, and now again under a
                    # new reference: that earlier submission failed (a retry after
                    # non-delivery), so statuses are asked about the new one, and its
                    # business state starts anew: "delivered-to-agency" was the earlier
                    # one's, and the new one's receipt is still to come.
                    fields["transport_id"] = outcome.transport_id
                    fields["business_state"] = "none"
                facts = {"channel": record.channel, "transport_id": outcome.transport_id,
                         "attempt": record.attempts, "detail": outcome.detail}
                if outcome.recipient is not None:
                    facts["recipient"] = outcome.recipient
                sent = await self.store.transition(
                    record.id, transport_state=TransportState.SENT, expect_claimed_by=worker_id,
                    attempt=attempt, event=NewEvent("sent", facts), last_error=None, **fields,
                )
                log.info("sent over %s as %s", record.channel, outcome.transport_id,
                         extra={"message_id": record.id, "channel": record.channel,
                                "attempt": record.attempts})
                return sent
            case RetryableError():
                due = self._next_attempt(record.attempts, outcome.retry_after)
                after = await self.store.schedule_retry(
                    record.id, due, _reason(outcome.reason, outcome.code),
                    expect_claimed_by=worker_id, attempt=attempt)
                if after.transport_state is TransportState.FAILED:
                    log.warning("dead-lettered: %s", after.last_error,
                                extra={"message_id": record.id, "channel": record.channel})
                return after
            case FinalError():
                failed = await self.store.dead_letter(
                    record.id, _reason(outcome.reason, outcome.code),
                    expect_claimed_by=worker_id, attempt=attempt)
                log.warning("dead-lettered: %s", failed.last_error,
                            extra={"message_id": record.id, "channel": record.channel})
                return failed

    def _next_attempt(self, attempt: int, retry_after: timedelta | None) -> datetime:
        delay = backoff_delay(attempt, self.settings, self.rng)
        if retry_after is not None and retry_after > delay:
            # The transport's wait is honoured beyond backoff_cap, but not without bound
            # (the inbound delivery worker caps it at backoff_cap).
            delay = min(retry_after, max(self.settings.backoff_cap, MAX_RETRY_AFTER))
        return utc_now() + delay

    async def _release(
        self, record: MessageRecord, worker_id: str, attempt: Attempt | None = None,
    ) -> None:
        """Give the claim back; ``attempt`` when the channel had the message, None when
        it was never handed over (the rest of a batch)."""
        with contextlib.suppress(StoreError):
            await self.store.release(record.id, RELEASED, expect_claimed_by=worker_id,
                                     attempt=attempt)


async def _written(
    writes: list[tuple[MessageRecord, asyncio.Task[MessageRecord | None]]], worker_id: str,
) -> None:
    """Wait until every outcome of a round is written, also when the round is cancelled.

    An outcome left unwritten would leave its message claimed, to be sent again
    once the lease expires; the writes are short, so stopping waits for them.
    """
    cancelled = False
    for record, task in writes:
        while not task.done():
            try:
                await asyncio.wait([task])
            except asyncio.CancelledError:
                cancelled = True
        error = None if task.cancelled() else task.exception()
        if error is not None:
            log.error("dispatcher %s failed on the message", worker_id, exc_info=error,
                      extra={"message_id": record.id, "worker": worker_id})
    if cancelled:
        raise asyncio.CancelledError


async def link_to_event(store: Store, message_id: str, event_kind: str, current: Stage) -> None:
    """Link ``current``'s span to the trace stored in the message's ``event_kind`` event."""
    try:
        events = await store.events(message_id)
    except StoreError:
        return
    for event in events:
        if event.kind == event_kind:
            link = link_to(event.detail.get(TRACEPARENT))
            if link is not None:
                current.span.add_link(link.context, {"wissel.link": event_kind})
            return


def _reason(reason: str, code: str | None) -> str:
    return f"{reason} [{code}]" if code else reason
