"""Reading messages, and the operator's retry, cancel and reroute."""

from __future__ import annotations

import re
from collections.abc import Awaitable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from gateway.api.auth import OPERATE, READ
from gateway.api.body import UNSTORABLE, check_keys, optional_text, read_json_object
from gateway.api.context import (
    max_request_bytes,
    principal_of,
    service_of,
    store_of,
    workers_died,
)
from gateway.api.operations import Answer, Operation, Param, ref
from gateway.api.problems import (
    STARTING_RETRY_AFTER,
    bad_request,
    conflict,
    not_found,
    unavailable,
)
from gateway.api.render import detail, summary
from gateway.api.schemas import CURSOR_PATTERN, REROUTABLE_STATES
from gateway.identifiers import OIN, InvalidIdentifier
from gateway.kinds import KINDS, Direction
from gateway.pipeline import OperatorActionError, operator
from gateway.store import InvalidTransition, MessageNotFound, MessageRecord, TransportState
from gateway.store.base import MAX_PAGE, storable
from gateway.validation.pool import ValidationWorkerDied

DEFAULT_LIMIT = 50
_CURSOR = re.compile(CURSOR_PATTERN)
# An ISO 8601 date, T (or a space, as RFC 3339 allows), and a time with an optional zone.
_DATE_TIME = re.compile(r"[0-9W-]+[Tt ][0-9:.,+\-Z]+")


def check_query(request: web.Request, params: tuple[Param, ...]) -> None:
    """Refuse a query parameter the operation does not know, or one given twice.

    Ignoring them would answer a typo (``stat=failed``) or ``state=a&state=b``
    with a list the caller takes for the filtered one, or act on a submission
    without the ``agnecy=`` its caller meant. The app runs this check for every
    core API route, with its operation's parameters, before the handler.
    """
    known = [p.name for p in params if p.location == "query"]
    for name in request.query:
        if name not in known:
            takes = f"known: {', '.join(known)}" if known else "this route takes none"
            raise bad_request(f"unknown query parameter {name!r} ({takes})", name)
        if len(request.query.getall(name)) > 1:
            raise bad_request(f"query parameter {name!r} is given more than once; it takes "
                              "one value", name)


def text_param(request: web.Request, name: str) -> str | None:
    """A free-text filter; one no store can hold is refused instead of failing the query."""
    value = request.query.get(name)
    if value is not None and not storable(value):
        raise bad_request(f"{name} {UNSTORABLE}", name)
    return value


def message_id_of(request: web.Request) -> str:
    """The message id in the path; one no store can hold names no message."""
    message_id = request.match_info["id"]
    if not storable(message_id):
        raise not_found(f"no message with id {message_id!r}")
    return message_id


def limit_param(request: web.Request) -> int:
    text = request.query.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_PAGE:
        raise bad_request(f"limit must be a whole number from 1 to {MAX_PAGE}, got {text!r}",
                          "limit")
    return int(text)


def cursor_param(request: web.Request) -> str | None:
    cursor = request.query.get("cursor")
    if cursor is not None and not _CURSOR.match(cursor):
        raise bad_request("cursor must be a next_cursor value from an earlier page", "cursor")
    return cursor


def choice_param(request: web.Request, name: str, allowed: list[str]) -> str | None:
    value = request.query.get(name)
    if value is not None and value not in allowed:
        raise bad_request(f"{name} must be one of {', '.join(allowed)}, got {value!r}", name)
    return value


def time_param(request: web.Request, name: str, *, end: bool) -> datetime | None:
    """An ISO date or date-time; a plain date as ``to`` includes that whole day."""
    text = request.query.get(name)
    if text is None:
        return None
    try:
        try:
            day = date.fromisoformat(text)  # also the basic format, 20261129
        except ValueError:
            day = None
        if day is not None:
            start = datetime.combine(day, time(), tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        # datetime.fromisoformat takes any character between date and time:
        # 2026-11-29-13:00 would pass for 13:00 where the caller may have meant a zone.
        if not _DATE_TIME.fullmatch(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)  # overflows here, not later in the store
    except (ValueError, OverflowError):
        # An unencoded "+01:00" in a URL arrives as " 01:00".
        hint = " (a + in a URL reads as a space: write it %2B)" if " " in text else ""
        raise bad_request(f"{name} must be an ISO 8601 date (2026-11-29) or date-time "
                          f"(2026-11-29T13:00:00Z), got {text!r}{hint}", name) from None


def page_json(items: list[dict[str, Any]], next_cursor: str | None) -> dict[str, Any]:
    return {"items": items, "next_cursor": next_cursor}


async def list_messages(request: web.Request) -> web.Response:
    """Messages matching every filter given, newest first."""
    states = [s.value for s in TransportState]
    direction = choice_param(request, "direction", [d.value for d in Direction])
    page = await store_of(request).list_messages(
        direction=None if direction is None else Direction(direction),
        transport_state=choice_param(request, "state", states),
        business_state=text_param(request, "business_state"),
        agency_oin=text_param(request, "agency"),
        business_key=text_param(request, "business_key"),
        number=text_param(request, "number"),
        kind=choice_param(request, "kind", KINDS), channel=text_param(request, "channel"),
        created_from=time_param(request, "from", end=False),
        created_to=time_param(request, "to", end=True),
        limit=limit_param(request), cursor=cursor_param(request),
    )
    return web.json_response(page_json([summary(r) for r in page.items], page.next_cursor))


async def get_message(request: web.Request) -> web.Response:
    """One message with its timeline, attempts, validation report and routing."""
    store = store_of(request)
    message_id = message_id_of(request)
    # Blank parts (a trailing comma, a space) ask for nothing.
    include = {part.strip() for part in request.query.get("include", "").split(",")} - {""}
    unknown = include - {"payload"}
    if unknown:
        raise bad_request(f"include knows only 'payload', got {', '.join(sorted(unknown))}",
                          "include")
    record = await store.get(message_id)
    if record is None:
        raise not_found(f"no message with id {message_id}")
    events = await store.events(message_id)
    attempts = await store.attempts(message_id)
    return web.json_response(detail(record, events, attempts,
                                    include_payload="payload" in include))


async def _action_body(request: web.Request, known: tuple[str, ...]) -> dict[str, Any]:
    body = await read_json_object(request, max_request_bytes(request))
    check_keys(body, known)
    return body


def _actor(request: web.Request, body: dict[str, Any]) -> str:
    """Who to record: the person the caller names, and always the token they came with."""
    principal = principal_of(request).name
    named = optional_text(body, "actor")
    return f"{named} (token {principal})" if named else f"token {principal}"


async def _acted(request: web.Request, record: MessageRecord) -> web.Response:
    if record.transport_state in (TransportState.QUEUED, TransportState.DECODED):
        service_of(request).work_waits(record.direction)
    store = store_of(request)
    return web.json_response(detail(record, await store.events(record.id),
                                     await store.attempts(record.id), include_payload=False))


async def retry_message(request: web.Request) -> web.Response:
    """Queue a failed, cancelled or retrying outbound message again; deliver or read an
    inbound one again.

    A retrying message (waiting out its backoff) is made due at once, under its
    transport id, with its attempt count. An inbound message that failed
    delivery to the ERP, or waits out the backoff before its next try, is
    delivered again now; one the gateway rejected is read again at once (after
    a format plugin was installed, say).
    """
    body = await _action_body(request, ("reason", "actor"))
    reason = optional_text(body, "reason", required=True)
    service = service_of(request)

    async def retry_and_read() -> MessageRecord:
        again = await operator.retry(store_of(request), message_id_of(request),
                                     actor=_actor(request, body), reason=reason)
        if again.transport_state is TransportState.RECEIVED and service.inbound is not None:
            try:
                again = await service.inbound.process(again)
            except InvalidTransition:  # the inbound recovery read it meanwhile
                again = await store_of(request).get(again.id) or again
        return again

    return await _operate(request, retry_and_read())


async def cancel_message(request: web.Request) -> web.Response:
    """Stop an outbound message that has not been sent."""
    body = await _action_body(request, ("reason", "actor"))
    reason = optional_text(body, "reason", required=True)
    return await _operate(request, operator.cancel(
        store_of(request), message_id_of(request), actor=_actor(request, body), reason=reason))


async def reroute_message(request: web.Request) -> web.Response:
    """Send an outbound message over another configured channel, in another format, or both;
    with neither, over the channel and in the format its agency's route now names."""
    body = await _action_body(request, ("reason", "actor", "channel", "format"))
    reason = optional_text(body, "reason", required=True)
    channel = optional_text(body, "channel")
    format_key = optional_text(body, "format")
    service = service_of(request)
    config = service.config
    refusal = None if channel is None else operator.channel_refusal(config, channel)
    if refusal is not None:
        raise bad_request(refusal, "$.channel")
    if format_key is not None and format_key not in service.registry.formats:
        raise bad_request(f"format {format_key!r} is not provided by any plugin here "
                          f"(`gateway formats` lists them)", "$.format")
    if service.validation is None:
        raise unavailable("the validation pool is not running yet: the gateway is starting",
                          retry_after=STARTING_RETRY_AFTER)
    try:
        return await _operate(request, operator.reroute(
            store_of(request), service.registry, service.validation, message_id_of(request),
            actor=_actor(request, body), channel=channel, format_key=format_key,
            reason=reason, config=config))
    except ValidationWorkerDied as exc:
        # As at intake: no verdict on the document, and nothing was changed.
        raise workers_died(request, f"the message could not be rerouted now: {exc}; the "
                                    "message is unchanged") from None


BULK_OUTCOMES = ["rerouted", "would-reroute", "unchanged", "refused"]
BULK_LIMIT = 100


async def reroute_agency_messages(request: web.Request) -> web.Response:
    """Reroute one page of an agency's outbound messages to its route as configured now."""
    body = await _action_body(request, ("reason", "actor", "agency", "kind", "states",
                                        "dry_run", "limit", "cursor"))
    reason = optional_text(body, "reason", required=True)
    service = service_of(request)
    config = service.config
    text = optional_text(body, "agency", required=True)
    assert text is not None
    try:
        agency = config.agency(OIN(text))
    except InvalidIdentifier as exc:
        raise bad_request(f"agency {text!r} is not a valid OIN: {exc.reason}",
                          "$.agency") from None
    if agency is None:
        configured = "; ".join(a.label for a in config.agencies.values()) or "none"
        raise bad_request(f"no agency with OIN {text} in {config.path} (configured: "
                          f"{configured})", "$.agency")
    kind = optional_text(body, "kind")
    if kind is not None and kind not in KINDS:
        raise bad_request(f"kind must be one of {', '.join(KINDS)}, got {kind!r}", "$.kind")
    states = body.get("states", [s.value for s in operator.BULK_STATES])
    if (not isinstance(states, list) or not states
            or not all(isinstance(state, str) for state in states)):
        raise bad_request("states must be a non-empty list of transport states", "$.states")
    for index, state in enumerate(states):
        if state not in REROUTABLE_STATES:
            raise bad_request(f"states[{index}] must be one of {', '.join(REROUTABLE_STATES)} "
                              f"(what has not been sent), got {state!r}", f"$.states[{index}]")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise bad_request("dry_run must be true or false", "$.dry_run")
    limit = body.get("limit", BULK_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise bad_request(f"limit must be a whole number from 1 to {MAX_PAGE}", "$.limit")
    cursor = body.get("cursor")
    if cursor is not None and not (isinstance(cursor, str) and _CURSOR.match(cursor)):
        raise bad_request("cursor must be a next_cursor value from an earlier page",
                          "$.cursor")
    if service.validation is None:
        raise unavailable("the validation pool is not running yet: the gateway is starting",
                          retry_after=STARTING_RETRY_AFTER)
    try:
        page = await operator.reroute_agency(
            store_of(request), service.registry, service.validation, config, str(agency.oin),
            actor=_actor(request, body), reason=reason, kind=kind,
            states=tuple(TransportState(state) for state in states), dry_run=dry_run,
            limit=limit, cursor=cursor)
    except ValidationWorkerDied as exc:
        # Each message is rerouted on its own: those before it in the page may have
        # moved. The same request again finds those on their route (unchanged) and
        # goes on with the rest.
        service.work_waits(Direction.OUTBOUND)
        raise workers_died(request, f"the page could not be rerouted now: {exc}; messages "
                                    "before it in the page may have been rerouted, and the "
                                    "same request again goes on with the rest") from None
    if any(item.outcome == "rerouted" for item in page.items):
        service.work_waits(Direction.OUTBOUND)
    counts = {outcome: 0 for outcome in BULK_OUTCOMES}
    for item in page.items:
        counts[item.outcome] += 1
    return web.json_response({"dry_run": dry_run, "items": [i.to_json() for i in page.items],
                              "summary": counts, "next_cursor": page.next_cursor})


async def _operate(request: web.Request, action: Awaitable[MessageRecord]) -> web.Response:
    """Carry out an operator action; an unknown message is 404, a refused action 409."""
    try:
        record = await action
    except MessageNotFound as exc:
        raise not_found(str(exc)) from None
    except OperatorActionError as exc:
        raise conflict(str(exc)) from None
    return await _acted(request, record)


ID_PARAM = Param("id", "path", "The message id.")
# What text_param takes: no NUL (the one character no store keeps that a URL can carry).
TEXT_FILTER = {"type": "string", "pattern": "^[^\\u0000]*$"}
# What time_param takes. The zone may be left out (UTC), which RFC 3339's date-time
# requires; basic-format and week dates (20261129, 2026-W48-7) are taken too.
TIME_FILTER = {"type": "string", "anyOf": [{"format": "date-time"}, {"format": "date"}],
               "examples": ["2026-11-29T13:00:00Z", "2026-11-29T14:00:00+01:00",
                            "2026-11-29"]}
CURSOR_PARAM = Param("cursor", "query", "next_cursor of the previous page.",
                     {"type": "string", "pattern": CURSOR_PATTERN})
_FILTERS = (
    Param("direction", "query", "outbound or inbound.", {"enum": ["outbound", "inbound"]}),
    Param("state", "query", "Transport state.", {"enum": [s.value for s in TransportState]}),
    Param("business_state", "query", "Business state (accepted, rejected, paid, ...).",
          TEXT_FILTER),
    Param("agency", "query", "Agency OIN.", TEXT_FILTER),
    Param("business_key", "query", "The business key (exact).", TEXT_FILTER),
    Param("number", "query", "The document number the issuer gave it (exact; invoice "
          "number, order id, timecard id), outbound or inbound, whatever the agency and "
          "kind. A corrected timecard, a closed staffing order and a staffing "
          "confirmation match their own number.",
          TEXT_FILTER),
    Param("kind", "query", "Document kind (invoice, order, ...).",
          {"type": "string", "enum": KINDS}),
    Param("channel", "query", "Channel instance name.", TEXT_FILTER),
    Param("from", "query", "Created at or after: an ISO 8601 date (from its start) or "
          "date-time (UTC if it has no zone).", TIME_FILTER),
    Param("to", "query", "Created before: an ISO 8601 date-time, or a date, which includes "
          "that whole day (UTC).", TIME_FILTER),
    Param("limit", "query", f"Page size, 1 to {MAX_PAGE}.",
          {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_LIMIT}),
    CURSOR_PARAM,
)
_GET_PARAMS = (ID_PARAM, Param("include", "query",
                               "`payload` adds the raw payload (base64) and the canonical "
                               "JSON.", {"enum": ["payload"]}))
_ACTION_ANSWER = (Answer(200, "Done; the message as it is now.", ref("Message")),)

OPERATIONS = (
    Operation("GET", "/api/v1/messages", list_messages, "listMessages",
              "List and search messages", "messages", frozenset({READ}), params=_FILTERS,
              answers=(Answer(200, "One page, newest first.", ref("MessagePage")),),
              problems=(400,)),
    Operation("GET", "/api/v1/messages/{id}", get_message, "getMessage",
              "A message with its timeline, attempts and validation report", "messages",
              frozenset({READ}),
              params=_GET_PARAMS,
              answers=(Answer(200, "The message.", ref("Message")),), problems=(400, 404)),
    Operation("POST", "/api/v1/messages/{id}/retry", retry_message, "retryMessage",
              "Queue a failed or cancelled outbound message again, or send a retrying one "
              "now; deliver an inbound one that failed or waits to retry, or read one "
              "that was rejected, again", "operator",
              frozenset({OPERATE}),
              description="A retrying message (waiting for its next attempt) is made due at "
                          "once: it keeps its attempt count and transport id. Every retry "
                          "leaves the message at least three attempts, raising max_attempts "
                          "where fewer are left. A message a worker claimed meanwhile "
                          "(sending) is refused with 409.",
              params=(ID_PARAM,), body=ref("OperatorRequest"), answers=_ACTION_ANSWER,
              problems=(400, 404, 409)),
    Operation("POST", "/api/v1/messages/{id}/cancel", cancel_message, "cancelMessage",
              "Cancel a message not yet sent", "operator", frozenset({OPERATE}),
              params=(ID_PARAM,), body=ref("OperatorRequest"), answers=_ACTION_ANSWER,
              problems=(400, 404, 409)),
    Operation("POST", "/api/v1/messages/reroute", reroute_agency_messages,
              "rerouteAgencyMessages",
              "Reroute an agency's outbound messages not yet sent to its route as "
              "configured now, one page at a time", "operator", frozenset({OPERATE}),
              description="After an agency's route was switched, what was stored before "
                          "still waits for the old route. Every outbound message of the "
                          "agency (of `kind`, if given) in one of `states` (default: queued "
                          "and retrying; failed and cancelled only when named) is rerouted "
                          "as a reroute without channel and format is: to the route for its "
                          "kind as the configuration has it now, encoded anew and validated "
                          "where the format changes, with an audit entry each. Messages are "
                          "taken oldest first, `limit` at a time: call again with "
                          "`next_cursor` until it is null. Each item says what became of "
                          "one message: rerouted (would-reroute with `dry_run`, which "
                          "changes nothing), unchanged (on the route already) or refused "
                          "(`detail` says why: the new format refuses the document, a worker "
                          "claimed it meanwhile; the message stays as it was).",
              body=ref("AgencyRerouteRequest"),
              answers=(Answer(200, "One page done (or looked at, in a dry run).",
                              ref("AgencyReroutePage")),),
              problems=(400, 503),
              problem_texts={503: "The gateway cannot do this now: starting, or validation "
                                  "workers died twice while they held a document (with "
                                  "Retry-After: when new ones are warm). Messages before "
                                  "that one in the page may have been rerouted; the same "
                                  "request again goes on with the rest."}),
    Operation("POST", "/api/v1/messages/{id}/reroute", reroute_message, "rerouteMessage",
              "Send a message over another channel, in another format (encoded anew from "
              "its canonical JSON and validated), or both; with neither, as its agency's "
              "route now says", "operator", frozenset({OPERATE}),
              description="Without channel and format the message follows the route the "
                          "configuration has now for its agency and kind (after `gateway "
                          "agencies switch`, say): that channel and format, and its "
                          "fallback; the routing explanation and the audit entry "
                          "(followed_route) say so. A message on that route already is "
                          "refused with 409. A channel that cannot carry the message's "
                          "format (the new one, or else its own: UBL-OHNL to Peppol, say), "
                          "or that has no address for its agency (e-mail), is refused with "
                          "409 naming both, and the message stays as it was.",
              params=(ID_PARAM,), body=ref("RerouteRequest"), answers=_ACTION_ANSWER,
              problems=(400, 404, 409, 503),
              problem_texts={503: "The gateway cannot do this now: starting, or validation "
                                  "workers died twice while they held the document (with "
                                  "Retry-After: when new ones are warm). The message is "
                                  "unchanged."}),
)
