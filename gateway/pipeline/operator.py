"""What an operator may do to a message: retry, cancel, reroute.

Cancel and reroute are for outbound messages. Retry takes either direction:
an outbound message is queued again; an inbound one whose delivery to the
ERP was dead-lettered is delivered again, and one the gateway could not read
(rejected) is read again, say after a format plugin was installed.

Each action writes an event on the message and a record in the audit log:
who did it and why, in one transaction (:meth:`Store.change_audited`), so
an action the audit log cannot record is not done either. An action applies
only to the message as the operator's request found it: one changed
meanwhile (another operator's action, a worker's claim) is refused with
"changed meanwhile", not acted on from a stale reading. A message in flight
(``sending``) is never touched: a reroute or cancel goes through
``cancelled``, a move the store refuses while a worker holds the claim, so an
action and a send cannot overlap.
"""

from __future__ import annotations

import asyncio
from typing import Any

import attrs

from gateway.config.fit import channel_label, route_refusal
from gateway.config.model import GatewayConfig
from gateway.kinds import Direction, DocumentKind
from gateway.model.json import loads
from gateway.pipeline.context import configured_context
from gateway.pipeline.errors import OperatorActionError
from gateway.pipeline.validating import DocumentValidator, validate_payload
from gateway.registry import Registry
from gateway.routing import RouteDecision, RoutingError, route
from gateway.store import AuditRecord, MessageRecord, NewEvent, Store, TransportState
from gateway.store.base import Change
from gateway.store.errors import InvalidTransition, MessageNotFound, TimelineMoved

# Retrying: waiting out its backoff, perhaps an hour, when the operator has just fixed
# the cause; a retry makes it due at once.
RETRYABLE = frozenset({TransportState.FAILED, TransportState.CANCELLED,
                       TransportState.RETRYING})
# An inbound retry: what each state goes back to. Retrying: its delivery to the ERP waits
# out a backoff, which the operator who has just brought the ERP back cuts short.
INBOUND_RETRY = {TransportState.FAILED: TransportState.DECODED,
                 TransportState.RETRYING: TransportState.DECODED,
                 TransportState.REJECTED: TransportState.RECEIVED}
REROUTABLE = frozenset({TransportState.QUEUED, TransportState.RETRYING, TransportState.FAILED,
                        TransportState.CANCELLED})


async def _message(store: Store, message_id: str) -> tuple[MessageRecord, int]:
    """The message and the sequence number of its latest event, read before it.

    Read in that order, a change applied only while the timeline is still at
    that event (``expect_last_event``) applies to the message as read: every
    change an action could meet (a claim, a send's outcome, another action)
    adds an event.
    """
    events = await store.events(message_id)
    record = await store.get(message_id)
    if record is None:
        raise MessageNotFound(message_id)
    return record, events[-1].seq if events else 0


async def _outbound(store: Store, message_id: str) -> tuple[MessageRecord, int]:
    record, seen = await _message(store, message_id)
    if record.direction is not Direction.OUTBOUND:
        raise OperatorActionError(f"message {message_id} is inbound; only outbound messages "
                                  "are cancelled or rerouted")
    return record, seen


async def _act(
    store: Store, message_id: str, changes: list[Change], *, actor: str, action: str,
    reason: str | None, detail: dict[str, Any],
) -> MessageRecord:
    """Apply ``changes`` and write the audit entry of ``action``: both, or neither."""
    audit = AuditRecord(actor=actor, action=f"message.{action}", subject=message_id,
                        reason=reason, detail=detail)
    try:
        return await store.change_audited(message_id, changes, audit)
    except TimelineMoved as exc:
        raise OperatorActionError(
            f"message {message_id} changed meanwhile (another operator or a worker acted on "
            f"it); the {action} was not done: look at the message again") from exc
    except InvalidTransition as exc:
        raise OperatorActionError(str(exc)) from exc


async def retry(
    store: Store, message_id: str, *, actor: str, reason: str | None = None,
    extra_attempts: int = 3,
) -> MessageRecord:
    """Queue a failed, cancelled or retrying message again, with ``extra_attempts`` left.

    The budget grows to leave at least ``extra_attempts`` attempts, never
    shrinks: a retrying message with attempts to spare keeps its budget, one on
    its last attempt gets more, so a blip right after the operator's fix does not
    dead-letter it. A retrying message keeps its attempt count and transport id,
    as failed and cancelled ones do: it is made due now instead of at its
    scheduled next attempt.

    An inbound message goes back to ``decoded`` (failed: delivered to the ERP
    again) or ``received`` (rejected: read again, by the caller or by the
    inbound pipeline's recovery).
    """
    record, seen = await _message(store, message_id)
    if record.direction is Direction.INBOUND:
        target = INBOUND_RETRY.get(record.transport_state)
        refused = ("only inbound messages that failed or wait to retry delivery, or were "
                   "rejected, can be retried")
    else:
        target = TransportState.QUEUED if record.transport_state in RETRYABLE else None
        refused = "only failed, cancelled or retrying messages can be retried"
    if target is None:
        raise OperatorActionError(f"message {message_id} is {record.transport_state}; {refused}")
    if extra_attempts < 1:
        raise OperatorActionError("a retry needs at least one more attempt")
    budget = max(record.max_attempts, record.attempts + extra_attempts)
    detail: dict[str, Any] = {"actor": actor, "reason": reason, "max_attempts": budget,
                              "previous_state": record.transport_state.value}
    if record.transport_state is TransportState.RETRYING and record.next_attempt_at is not None:
        # What the operator brought forward: the attempt the backoff had scheduled.
        detail["was_due_at"] = record.next_attempt_at.isoformat()
    # expect_last_event: a worker that claimed the message since it was read (it was
    # due, or another instance took it) adds an event, so this retry is refused rather
    # than queue a message that is being sent.
    change = Change(event=NewEvent("operator-retry", detail), transport_state=target,
                    expect_last_event=seen,
                    fields={"max_attempts": budget, "last_error": None})
    return await _act(store, message_id, [change], actor=actor, action="retry",
                      reason=reason, detail=detail)


async def cancel(
    store: Store, message_id: str, *, actor: str, reason: str | None = None,
) -> MessageRecord:
    """Stop a message that has not been sent: queued, retrying or failed."""
    record, seen = await _outbound(store, message_id)
    detail = {"actor": actor, "reason": reason,
              "previous_state": record.transport_state.value}
    change = Change(event=NewEvent("operator-cancel", detail),
                    transport_state=TransportState.CANCELLED, expect_last_event=seen)
    return await _act(store, message_id, [change], actor=actor, action="cancel",
                      reason=reason, detail=detail)


async def reroute(
    store: Store,
    registry: Registry,
    validator: DocumentValidator,
    message_id: str,
    *,
    actor: str,
    channel: str | None = None,
    format_key: str | None = None,
    reason: str | None = None,
    config: GatewayConfig | None = None,
    extra_attempts: int = 3,
) -> MessageRecord:
    """Send a message over another channel and/or in another format, then queue it.

    With neither ``channel`` nor ``format_key`` the message follows its
    agency's route for its kind as ``config`` has it now (after a switch, say):
    that route's channel and format, its fallback too. A message already on
    that route is refused: there is nothing to move.

    A new format re-encodes the stored canonical JSON and validates the
    result against the new format's layers; a result the encoder refuses or
    the validation rejects leaves the message as it was. A new channel
    starts without a transport id: the old one belongs to the old channel.

    ``config`` is the gateway's configuration: the new format gets what
    intake hands a format for this agency (our supplier identity, our
    supplier number there, its route's settings for the document's kind, a
    G-account say), and a new channel must be configured and enabled in it,
    as routing requires. Without it only the agency is known.
    """
    planned = await _plan_reroute(
        store, registry, validator, message_id, actor=actor, channel=channel,
        format_key=format_key, reason=reason, config=config, extra_attempts=extra_attempts)
    return await _act(store, message_id, planned.changes, actor=actor, action="reroute",
                      reason=reason, detail=planned.detail)


@attrs.frozen
class Planned:
    """A reroute worked out (encoded and validated anew where the format changes) but
    not yet applied: what a dry run reports."""

    record: MessageRecord
    changes: list[Change]
    detail: dict[str, Any]


async def _plan_reroute(
    store: Store,
    registry: Registry,
    validator: DocumentValidator,
    message_id: str,
    *,
    actor: str,
    channel: str | None = None,
    format_key: str | None = None,
    reason: str | None = None,
    config: GatewayConfig | None = None,
    extra_attempts: int = 3,
) -> Planned:
    """The changes of :func:`reroute`, and its audit detail, checked but not applied."""
    if channel is None and format_key is None and config is None:
        raise OperatorActionError("a reroute names a new channel, a new format, or both")
    if config is not None and channel is not None:
        refusal = channel_refusal(config, channel)
        if refusal is not None:
            raise OperatorActionError(refusal)
    record, seen = await _outbound(store, message_id)
    if record.transport_state not in REROUTABLE:
        raise OperatorActionError(
            f"message {message_id} is {record.transport_state}; only queued, retrying, failed "
            "or cancelled messages can be rerouted")
    followed: RouteDecision | None = None
    if channel is None and format_key is None:
        assert config is not None  # refused above without one
        followed = current_route(config, record)
        channel, format_key = followed.channel, followed.format
    fields: dict[str, Any] = {}
    new_format = format_key or record.format_key
    if config is not None:
        _refuse_unfit(config, registry, record, channel or record.channel, new_format)
    reencoded = False
    if format_key is not None and format_key != record.format_key:
        reencoded = True
        fields.update(await _reencode(store, registry, validator, record, format_key, config))
        # Another document: under the old id a transport takes it for a repeat of the
        # one it may hold already (an access point's dedup, Digipoort's earlier kenmerk).
        fields["transport_id"] = None
    new_channel = channel or record.channel
    if new_channel != record.channel:
        fields["channel"] = new_channel
        fields["transport_id"] = None
    routing = dict(record.routing or {})
    to_route = "" if followed is None else (
        f" as {followed.config_file} now routes {followed.kind.value} to "
        f"{followed.agency_name}")
    note = (f"rerouted by {actor} to channel {new_channel}, format {new_format}{to_route}"
            + (f": {reason}" if reason else ""))
    if followed is not None:
        # The route itself now holds, its fallback with it: it is the configuration's
        # choice, as at intake, not the operator's.
        routing.update(fallback_channel=followed.fallback_channel,
                       used_fallback=followed.used_fallback,
                       config_file=followed.config_file)
    elif new_channel != record.channel:
        # The fallback (and whether it was taken) belonged to the old channel's route:
        # the routing explanation would name a fallback the message no longer has. The
        # operator chose this channel; nothing falls back from that choice.
        dropped = routing.get("fallback_channel")
        if dropped:
            note += f"; fallback channel {dropped} belonged to the old route, none is used"
        routing.update(fallback_channel=None, used_fallback=False)
    routing.update(channel=new_channel, format=new_format,
                   explanation=[*routing.get("explanation", []), note,
                                *(followed.explanation[1:] if followed else ())])
    new_settings = config.channels.get(new_channel or "") if config is not None else None
    if new_settings is not None:
        # The type of the channel left behind would otherwise stay beside the new name.
        routing["channel_type"] = new_settings.type
    if reencoded:
        # Told to the channel (OutboundMessage.metadata): one that derives its transport
        # id from the message alone would otherwise send it under the old one.
        routing["reencoded"] = True
    if "transport_id" in fields:
        # Also told: without a transport id, one that derives it from the message may
        # derive the id of a transmission that failed before this reroute, or before an
        # earlier one (to another channel and back, or to a format and back).
        routing["rerouted"] = True
    fields["routing"] = routing
    fields["max_attempts"] = max(record.max_attempts, record.attempts + extra_attempts)
    detail: dict[str, Any] = {"actor": actor, "reason": reason,
                              "from": {"channel": record.channel, "format": record.format_key},
                              "to": {"channel": new_channel, "format": new_format}}
    if followed is not None:
        detail["followed_route"] = followed.config_file
    changes: list[Change] = []
    if record.transport_state is not TransportState.CANCELLED:
        # Through cancelled: queued cannot go to queued, and the store refuses the hold if a
        # worker claimed the message meanwhile.
        changes.append(Change(event=NewEvent("reroute-hold", detail),
                              transport_state=TransportState.CANCELLED))
    changes.append(Change(event=NewEvent("rerouted", detail),
                          transport_state=TransportState.QUEUED,
                          fields={"last_error": None, **fields}))
    # Only the first change checks the timeline: the hold adds an event of its own.
    changes[0] = attrs.evolve(changes[0], expect_last_event=seen)
    return Planned(record, changes, detail)


class AlreadyOnRoute(OperatorActionError):
    """A reroute to the agency's route for a message that is on it."""


def current_route(config: GatewayConfig, record: MessageRecord) -> RouteDecision:
    """The route ``config`` has for the message's agency and kind; OperatorActionError when
    it has none, or when the message is on it already."""
    kind = record.document_kind or "?"
    try:
        decision = route(config, record.agency_oin or "", kind)
    except RoutingError as exc:
        raise OperatorActionError(
            f"message {record.id} cannot follow its agency's route: {exc}") from None
    if (decision.channel, decision.format) == (record.channel, record.format_key):
        raise AlreadyOnRoute(
            f"message {record.id} is on the route {decision.config_file} has for {kind} to "
            f"{decision.agency_name} already (channel {decision.channel}, format "
            f"{decision.format}): nothing to reroute; name a channel or a format to send it "
            "elsewhere")
    return decision


def channel_refusal(config: GatewayConfig, channel: str) -> str | None:
    """Why a reroute to ``channel`` is refused, or None: it must run here, as routing wants.

    A message queued for a channel that does not run would spend its attempts on
    "channel not running" until it is dead-lettered again. The API asks this
    first, to answer 400 naming the field; :func:`reroute` asks again for
    every other caller.
    """
    settings = config.channels.get(channel)
    if settings is None:
        return (f"channel {channel} is not configured (configured: "
                f"{', '.join(sorted(config.channels)) or 'none'})")
    if not settings.enabled:
        return (f"channel {channel} is disabled ([channels.{channel}] enabled = false); "
                "enable it or reroute to another channel")
    return None


def _refuse_unfit(config: GatewayConfig, registry: Registry, record: MessageRecord,
                  channel: str | None, format_key: str | None) -> None:
    """OperatorActionError when ``channel`` cannot carry ``format_key`` to the message's
    agency: the message would only fail again at its next send."""
    try:
        agency = config.agency(record.agency_oin or "")
    except ValueError:  # a malformed OIN has no directory entry
        agency = None
    if agency is None or channel is None or format_key is None:
        return
    refusal = route_refusal(config, registry.channels, channel, format_key, agency,
                            formats=registry.formats)
    if refusal is not None:
        raise OperatorActionError(
            f"message {record.id} ({record.document_kind} in format {format_key} for agency "
            f"{agency.label}) cannot go over {channel_label(config, channel)}: {refusal}; "
            "the message is unchanged")


async def _reencode(
    store: Store, registry: Registry, validator: DocumentValidator, record: MessageRecord,
    format_key: str, config: GatewayConfig | None,
) -> dict[str, Any]:
    fmt = registry.format(format_key)
    kind = DocumentKind(record.document_kind or "")
    if not fmt.serves(kind) or Direction.OUTBOUND not in fmt.directions:
        raise OperatorActionError(f"format {format_key} does not send {kind.value} documents")
    if record.canonical_json is None:
        raise OperatorActionError(f"message {record.id} has no canonical JSON to re-encode")
    document = loads(record.canonical_json)
    context = await configured_context(
        store, config, document, agency_oin=record.agency_oin or "", kind=kind,
        agency_name=(record.routing or {}).get("agency", {}).get("name"),
        source_json=record.canonical_json)
    try:
        payload = await asyncio.to_thread(fmt.encode, document, context)
    except Exception as exc:  # a plugin's refusal, as at intake: the operator must hear why
        raise OperatorActionError(
            f"{format_key} cannot encode message {record.id}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(payload, bytes):  # a plugin bug; the store would keep text or fail
        raise OperatorActionError(
            f"{format_key} gave {type(payload).__name__}, not bytes: a bug in its plugin "
            f"({registry.owner('format', format_key)})")
    report = await validate_payload(validator, payload, fmt.layers(), fmt.key)
    if not report.valid:
        raise OperatorActionError(
            f"re-encoded as {format_key} the document is {report.summary()}: "
            f"{report.by_severity()[0]}")
    return {"format_key": fmt.key, "raw_payload": payload, "validation": report.to_json()}



# What a reroute of an agency's messages takes unless told otherwise: what waits to be
# sent. A failed message may have been given up on, a cancelled one was stopped on
# purpose ("sent by post"); either is rerouted only when the operator names its state.
BULK_STATES = (TransportState.QUEUED, TransportState.RETRYING)


@attrs.frozen
class BulkOutcome:
    """What became of one message in a reroute of an agency's messages.

    ``outcome``: ``rerouted`` (``would-reroute`` in a dry run), ``unchanged``
    (on the agency's route already) or ``refused`` (``detail`` says why: the
    new format refuses the document, a worker claimed it meanwhile, ...).
    """

    message_id: str
    kind: str | None
    outcome: str
    source: dict[str, str | None]
    target: dict[str, str | None] | None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.message_id, "kind": self.kind, "outcome": self.outcome,
                "from": self.source, "to": self.target, "detail": self.detail}


@attrs.frozen
class BulkPage:
    items: tuple[BulkOutcome, ...]
    # The last message looked at, when more may match: the next call goes on after it.
    next_cursor: str | None


async def reroute_agency(
    store: Store,
    registry: Registry,
    validator: DocumentValidator,
    config: GatewayConfig,
    agency_oin: str,
    *,
    actor: str,
    reason: str | None = None,
    kind: str | None = None,
    states: tuple[TransportState, ...] = BULK_STATES,
    dry_run: bool = False,
    limit: int = 100,
    cursor: str | None = None,
) -> BulkPage:
    """Reroute one page of an agency's outbound messages to its route as ``config`` has it.

    Each message is rerouted on its own, as :func:`reroute` without a channel
    or format does, with an audit entry of its own; one refused stays as it
    was and is reported, and the others go on. Messages are taken by id, oldest
    first, ``limit`` at a time: a backlog of thousands is worked through page
    by page (``cursor``: the previous page's ``next_cursor``), each page a
    bounded piece of work, and a message rerouted from failed to queued is not
    met again. A message a worker claims between the listing and its reroute
    is refused (it is being sent), never rerouted under the worker. A dry run
    encodes and validates as the reroute would, and changes nothing.
    """
    unknown = [state for state in states if state not in REROUTABLE]
    if unknown:
        raise OperatorActionError(
            f"only queued, retrying, failed or cancelled messages can be rerouted, not "
            f"{', '.join(state.value for state in unknown)}")
    candidates: list[MessageRecord] = []
    more = False
    for state in dict.fromkeys(states):
        page = await store.list_messages(
            direction=Direction.OUTBOUND, transport_state=state, agency_oin=agency_oin,
            kind=kind, limit=limit, cursor=cursor, oldest_first=True)
        candidates.extend(page.items)
        more = more or page.next_cursor is not None
    candidates.sort(key=lambda record: record.id)
    if len(candidates) > limit:
        more, candidates = True, candidates[:limit]
    outcomes = [await _reroute_one(store, registry, validator, config, record, actor=actor,
                                   reason=reason, dry_run=dry_run)
                for record in candidates]
    return BulkPage(tuple(outcomes), candidates[-1].id if more and candidates else None)


async def _reroute_one(
    store: Store, registry: Registry, validator: DocumentValidator, config: GatewayConfig,
    record: MessageRecord, *, actor: str, reason: str | None, dry_run: bool,
) -> BulkOutcome:
    source = {"channel": record.channel, "format": record.format_key}
    try:
        planned = await _plan_reroute(store, registry, validator, record.id, actor=actor,
                                      reason=reason, config=config)
        # As the reroute found it, which may be newer than the listing.
        source, target = planned.detail["from"], planned.detail["to"]
        if dry_run:
            return BulkOutcome(record.id, record.document_kind, "would-reroute", source, target)
        await _act(store, record.id, planned.changes, actor=actor, action="reroute",
                   reason=reason, detail=planned.detail)
    except AlreadyOnRoute:
        return BulkOutcome(record.id, record.document_kind, "unchanged", source, None)
    except (OperatorActionError, MessageNotFound) as exc:
        return BulkOutcome(record.id, record.document_kind, "refused", source, None, str(exc))
    return BulkOutcome(record.id, record.document_kind, "rerouted", source, target)
