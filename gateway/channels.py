"""What a channel plugin provides: one transport to or from agencies.

A channel sends one outbound message and answers with an outcome it has
classified itself: accepted (with the transport's own id), a retryable error,
or a final error. The core never guesses from exceptions what a network
meant; the channel knows its protocol's fault codes. A channel may also
receive inbound documents, which it hands to the core's inbound sink before
it acknowledges anything to the sender.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

import attrs

from gateway.errors import GatewayError
from gateway.kinds import DocumentKind
from gateway.model.common import Attachment
from gateway.tasks import cancel_and_wait

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef

    from gateway.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

SERVER_STOP_TIMEOUT = 10.0
"""Seconds an HTTP server of the gateway (the API, a channel's inbound endpoint) gives the
requests in progress when it stops. aiohttp's default, a minute, lets one client that
stalled halfway through its request hold a stopping gateway that long, past the grace
docker (10 s) and Kubernetes (30 s) give before SIGKILL."""


CHANNEL_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
"""A channel type's name, and a ``[channels.<name>]`` table's: the configuration names both."""


@attrs.frozen
class OutboundMessage:
    """One document ready to leave, as the pipeline hands it to a channel.

    ``transport_id`` is the id a previous attempt obtained or chose (for
    example a Digipoort aanleverkenmerk); a channel reuses it on retries so
    the receiving side can recognise a repeat.
    """

    message_id: str
    agency_oin: str
    kind: DocumentKind
    format_key: str
    payload: bytes
    media_type: str = "application/xml"
    filename: str = "document.xml"
    business_key: str = ""
    transport_id: str | None = None
    attempt: int = 1
    attachments: tuple[Any, ...] = ()
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    """What the gateway knows beside the document: ``agency_email``,
    ``agency_peppol_id`` from the agency directory, and ``reencoded`` ("true")
    once an operator's reroute encoded the document anew, so that it is
    another document than earlier attempts sent: a channel that derives its
    transport id from the message must not send it as a repeat of theirs.
    ``rerouted`` ("true") once a reroute cleared the transport id (a new
    channel or format): what such a channel derives may be the id of a
    transmission that failed before, on this channel or in this format.
    ``business_state``: the message's business state as it is (a
    :class:`gateway.store.BusinessState` value; an operator's retry keeps
    it). Other than ``none`` with a ``transport_id`` set, an earlier send
    under that id reached the agency's side, which answered (a delivery, or
    a rejection that failed the message): a repeat under that id would not
    travel again."""


@attrs.frozen
class Accepted:
    """The transport took the message; ``transport_id`` is its reference for it."""

    transport_id: str
    detail: str = ""
    recipient: str | None = None
    """Whom the transport addressed the document to, as it names them (a Peppol
    participant id, say), where the channel chose or looked that up: kept as
    ``recipient`` on the message's "sent" event, for the operator and for a
    channel that checks whose answers count."""


@attrs.frozen
class RetryableError:
    """The attempt failed for a reason that may pass (timeout, overload, 5xx)."""

    reason: str
    code: str | None = None
    retry_after: timedelta | None = None
    transport_id: str | None = None


def retry_after_header(value: str | None) -> timedelta | None:
    """An HTTP Retry-After of delay-seconds as a wait; None for a date, nonsense, or 8+ digits.

    ``str.isdigit`` alone admits digits ``int`` refuses (superscripts), and a
    long number overflows ``timedelta``: either would crash the attempt that
    read it instead of scheduling the next one.
    """
    text = (value or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) >= 8:
        return None
    return timedelta(seconds=int(text))


@attrs.frozen
class FinalError:
    """The transport refused the message for good; retrying would not help."""

    reason: str
    code: str | None = None
    transport_id: str | None = None


SendOutcome = Accepted | RetryableError | FinalError


@attrs.frozen
class InboundDocument:
    """Raw bytes a channel received, with what the transport told about them."""

    data: bytes
    channel: str
    transport_id: str | None = None
    sender: str | None = None
    filename: str | None = None
    metadata: Mapping[str, str] = attrs.field(factory=dict)
    attachments: tuple[Attachment, ...] = ()
    """Files the transport carried beside the document (Digipoort's berichtBijlagen).

    Stored with the raw bytes, and added to the decoded document's own
    attachments, so the ERP gets them with it."""


class DocumentRefused(GatewayError):
    """The inbound sink's verdict on the document itself (so far: it is too large).

    The same bytes would get the same answer, so a channel may file them away
    as refused. Any other exception from the sink is the gateway's trouble of
    the moment (its database is down, say): keep the document and offer it
    again later.
    """


class InboundSink(Protocol):
    """Where a channel hands received documents. Returns the stored message id.

    The sink persists the raw bytes durably before it returns; a channel must
    acknowledge to its sender only after the sink returned. It raises
    :class:`DocumentRefused` for a document it will never take.
    """

    def __call__(self, document: InboundDocument) -> Awaitable[str]: ...


@attrs.frozen
class StatusReport:
    """What a transport said about an outbound message after it accepted it.

    A channel learns these by polling (Digipoort's StatusinformatieService),
    from receipts and business responses (a Peppol access point, an Invoice
    Response), from bounces (e-mail) or from a person (the portal). It names
    the message either by the ``transport_id`` its ``send`` returned or, for
    a business response that only quotes our document, by ``agency_oin``,
    ``kind`` and ``document_number``.

    ``code`` and ``text`` are the transport's own words, kept on the
    timeline as they came. ``business_state`` is the channel's reading of
    them (a :class:`gateway.store.BusinessState` value, or its own).
    ``failed`` means the transport reports that the message did not reach
    the agency after all: the message moves from ``sent`` to ``failed``,
    the dead letter, with ``text`` as the reason. ``final`` means no further
    status is expected for this send, so pollers stop asking: the message
    leaves the channel's :class:`SentLookup` list for good, whatever its
    states (a message delivered to the agency whose answer will not come
    stays ``sent`` / ``delivered-to-agency``), until it is sent again (an
    operator's retry or reroute). Optional: a report that is not final
    leaves the message listed as its states say. ``failed`` and ``final``
    speak for the send whose ``transport_id`` the report names: once the
    message went out again under another one, a late report on the earlier
    send goes on the timeline and changes neither.

    ``after_event`` makes the report conditional: it is recorded only while
    the latest event on the message's timeline is the one with that ``seq``
    (as the channel read it from the store), else the sink raises
    :class:`gateway.store.TimelineMoved` and records nothing. A channel whose
    report is a decision taken on what it read (a person closing a portal
    task, which another gateway instance may be closing at the same moment)
    lets the database settle which decision stands.
    """

    code: str
    text: str = ""
    transport_id: str | None = None
    agency_oin: str | None = None
    kind: DocumentKind | None = None
    document_number: str | None = None
    business_state: str | None = None
    failed: bool = False
    final: bool = False
    at: datetime | None = None
    detail: Mapping[str, str] = attrs.field(factory=dict)
    after_event: int | None = None

    def __attrs_post_init__(self) -> None:
        if self.transport_id is None and not (
            self.agency_oin and self.kind and self.document_number
        ):
            raise ValueError("a status report names its message by transport_id, or by "
                             "agency_oin, kind and document_number")


class StatusSink(Protocol):
    """Where a channel reports statuses. Returns the message id, or None for an unknown message.

    A report the message already has (same code, time and text) is not
    recorded twice, so a poller may hand over a full history each time.
    """

    def __call__(self, report: StatusReport) -> Awaitable[str | None]: ...


@attrs.frozen
class SentMessage:
    """An outbound message this channel sent and that has no final status yet."""

    message_id: str
    transport_id: str
    agency_oin: str | None
    kind: str | None
    business_state: str
    created_at: datetime
    last_change: datetime
    """When the message last changed: its send, or the latest status recorded."""


class SentLookup(Protocol):
    """The channel's sent messages still waiting for a final status.

    Not those whose latest send got a final report (``StatusReport.final``).
    Those not yet delivered (business state ``none``) come first, then those
    delivered to the agency; ``business_states`` asks for some of them only.
    When more wait than ``limit``, each call gives the next ones in order of
    age, starting again at the oldest after the newest, so a poller that
    asks ``limit`` at a time reaches every waiting message in turn. Survives
    restarts: a poller asks this instead of remembering what it sent.
    """

    def __call__(
        self, limit: int = 500, business_states: Sequence[str] | None = None,
    ) -> Awaitable[Sequence[SentMessage]]: ...


class Turns(Protocol):
    """Turns at a channel's periodic work among the gateway instances on one database.

    Every full instance runs every channel. Work that asks the other side
    about shared messages (status polling) done by each would ask N times:
    the instance that has the turn does it, the others skip it. A turn is a
    lease in the store named after the channel and ``purpose`` and held by
    this instance, with a time to live: renewed by its holder, taken by
    another instance once it expired (its holder died) or was given up.
    Use it through :class:`Turn`.

    A turn has a note besides, what its holder leaves for the next one (how
    far the work got): the next holder may be an instance that never saw
    any holder before it, started after the last one died.
    """

    def take(self, purpose: str, ttl: timedelta) -> Awaitable[bool]:
        """Take or renew the turn for ``ttl`` from now; whether this instance has it."""
        ...

    def give_up(self, purpose: str) -> Awaitable[None]:
        """Let another instance take the turn now rather than after it expires."""
        ...

    def read_note(self, purpose: str) -> Awaitable[str | None]:
        """The turn's note as its holders last left it (:meth:`leave_note`); None if none did.

        Kept in the store apart from the turn: it outlives the turn's release
        and expiry, and restarts of every instance.
        """
        ...

    def leave_note(self, purpose: str, note: str) -> Awaitable[bool]:
        """Replace the turn's note with ``note`` if this instance has the turn; whether it did.

        An instance whose turn another took meanwhile (its renewal came too
        late) writes nothing: it cannot move the note after the new holder.
        """
        ...


class TurnLost(Exception):
    """Another instance took the turn while this one was at work: it could not renew in time."""


TURN_INTERVALS = 3
"""A turn lives this many of its work's intervals: a late renewal or two does not lose it,
and an instance that dies without giving it up hands it over within about as many."""
MIN_TURN_TTL = timedelta(seconds=1)
GIVE_UP_TIMEOUT = 5.0
"""Seconds a stopping channel waits to give its turn up; then it expires by itself."""


class Turn:
    """This instance's turn at one periodic job of a channel, taken, kept and given up.

    A poller running every ``interval`` seconds does, each time::

        if await turn.take():
            await turn.keep(self.poll_round())

    and, when the channel stops, ``await turn.give_up()``. The turn lives
    ``TURN_INTERVALS`` intervals (at least ``MIN_TURN_TTL``); :meth:`keep`
    renews it every interval while a round takes longer, and cancels the
    round when another instance has taken it meanwhile. With ``turns`` None
    (no store) the turn is always this instance's. ``who`` names the job in
    the log, where each change of hands is one line.
    """

    def __init__(self, turns: Turns | None, purpose: str, interval: float, *,
                 who: str) -> None:
        self.turns = turns
        self.purpose = purpose
        self.ttl = max(timedelta(seconds=interval * TURN_INTERVALS), MIN_TURN_TTL)
        self.who = who
        self.held = False
        self.new = False
        """Whether the latest :meth:`take` began the turn: another instance may have done the
        work meanwhile, so what this one remembers of it may be out of date."""
        self._renewed = 0.0  # time.monotonic() when the latest confirmed renewal was asked
        self._trouble: str | None = None

    async def take(self) -> bool:
        """Take or renew the turn; whether this instance has it now.

        A store that cannot tell (the database away) counts as no: the work
        would need it too, and another instance may hold the turn.
        """
        if self.turns is None:
            mine = True
        else:
            asked = time.monotonic()
            try:
                mine = await self.turns.take(self.purpose, self.ttl)
            except Exception as exc:
                self._note_trouble(exc)
                mine = False
            else:
                self._note_trouble(None)
                self._confirmed(mine, asked)
        self._changed(mine)
        return mine

    async def keep(self, work: Coroutine[Any, Any, T]) -> T:
        """Await ``work``, renewing the turn every interval while it runs.

        Raises TurnLost, having cancelled ``work``, when another instance
        took the turn meanwhile; a renewal the store could not answer counts
        as lost only once the turn has expired by this instance's reckoning.
        """
        task = asyncio.create_task(work)
        every = self.ttl.total_seconds() / TURN_INTERVALS
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=every)
                if done:
                    return task.result()
                if self.turns is not None and not await self._renew():
                    raise TurnLost(f"{self.who}: another instance took the turn")
        finally:
            if not task.done():
                await cancel_and_wait([task])
            elif not task.cancelled():
                # Ended as this was cut off (TurnLost, a stop): its error is taken out of
                # it, or asyncio logs it as never retrieved once the task is collected.
                task.exception()

    async def read_note(self) -> str | None:
        """The note the holders of this turn left (:meth:`Turns.read_note`); None without a
        store. Raises when the store cannot answer: "no note" would be a guess."""
        if self.turns is None:
            return None
        return await self.turns.read_note(self.purpose)

    async def leave_note(self, note: str) -> bool:
        """Leave ``note`` for the next holder while this instance has the turn
        (:meth:`Turns.leave_note`); whether it was kept. False without a store, which
        has no other instance to tell. Raises when the store cannot answer."""
        if self.turns is None:
            return False
        return await self.turns.leave_note(self.purpose, note)

    async def give_up(self) -> None:
        """Hand the turn over now; tried even when not known to be held (a take cut short
        may have been written). Never raises: unreleased, the turn expires by itself."""
        self.held = False
        if self.turns is None:
            return
        try:
            await asyncio.wait_for(self.turns.give_up(self.purpose), GIVE_UP_TIMEOUT)
        except Exception as exc:
            log.warning("%s: could not give up the turn (another instance takes it once it "
                        "expires, within %s): %s", self.who, self.ttl, exc)

    async def _renew(self) -> bool:
        assert self.turns is not None
        asked = time.monotonic()
        try:
            mine = await self.turns.take(self.purpose, self.ttl)
        except Exception as exc:
            self._note_trouble(exc)
            # Still ours until the lease the store last confirmed runs out.
            mine = time.monotonic() - self._renewed < self.ttl.total_seconds()
        else:
            self._note_trouble(None)
            self._confirmed(mine, asked)
        self._changed(mine)
        return mine

    def _confirmed(self, mine: bool, asked: float) -> None:
        # From before the call: the store set the expiry some time during it.
        if mine:
            self._renewed = asked

    def _changed(self, mine: bool) -> None:
        self.new = mine and not self.held
        if self.new and self.turns is not None:
            log.info("%s: this instance has the turn", self.who)
        elif self.held and not mine:
            log.info("%s: this instance has the turn no longer", self.who)
        self.held = mine

    def _note_trouble(self, exc: Exception | None) -> None:
        if exc is not None and self._trouble is None:
            log.warning("%s: cannot tell whose turn it is, skipping it until the store "
                        "answers: %s: %s", self.who, type(exc).__name__, exc)
        elif exc is None and self._trouble is not None:
            log.info("%s: the store answers again", self.who)
        self._trouble = None if exc is None else str(exc)


@attrs.frozen
class ChannelContext:
    """What the core gives a channel when it starts it."""

    name: str
    inbound: InboundSink | None = None
    data_dir: str | None = None
    supplier: Any = None
    status: StatusSink | None = None
    sent: SentLookup | None = None
    store: Store | None = None
    """The message store, read-only for channels whose work queue is their own
    outbound messages (the portal: a task is a sent message). Changes go
    through ``status``, never through the store directly."""
    standards_dir: str | None = None
    """Where the official artifacts are installed, as the configuration says
    (``[gateway] standards_dir``, ...); None: :func:`gateway.paths.standards_dir`."""
    turns: Turns | None = None
    """Turns at periodic work among the gateway instances sharing the database
    (:class:`Turns`, used through :class:`Turn`): a poller asking the other side
    about sent messages runs its round only while this instance has the turn, so
    of N instances one asks, not N. None without a store: the turn is always ours."""


def refuse_unknown_settings(channel: str, settings: Mapping[str, Any],
                            known: Sequence[str]) -> None:
    """Raise ValueError naming every key of ``settings`` that is not in ``known``.

    A misspelt optional setting would otherwise be ignored and its default
    used without a word; the gateway reports the error when the channel starts.
    """
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise ValueError(f"channel {channel!r}: unknown setting(s) {', '.join(unknown)}; "
                         f"known: {', '.join(sorted(known))}")


def seconds_setting(channel: str, settings: Mapping[str, Any], key: str, default: float, *,
                    zero: bool = False) -> float:
    """The number of seconds ``settings[key]`` holds (``default`` when absent).

    Positive, or with ``zero`` also 0; anything else is a ValueError naming the
    channel and the key. A poll interval of 0 or less would spin the event loop,
    and text would fail later, far from the setting.
    """
    value = settings.get(key, default)
    wanted = "0 or more" if zero else "more than 0"
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value < 0 or (value == 0 and not zero)):
        raise ValueError(f"channel {channel!r}: {key} must be a number of seconds, {wanted}; "
                         f"got {value!r}")
    return float(value)


class Channel(abc.ABC):
    """Base class of every channel instance.

    One instance exists per ``[channels.<name>]`` table. ``start`` and
    ``stop`` must be safe to call once each, in that order; ``stop`` releases
    every socket, task and file the channel opened.
    """

    type_name: ClassVar[str]

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        self.name = name
        self.settings = dict(settings)

    async def start(self, context: ChannelContext) -> None:  # noqa: B027 - optional hook
        """Open connections, start servers or pollers. Default: nothing to do."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """Release everything ``start`` acquired. Default: nothing to do."""

    @abc.abstractmethod
    async def send(self, message: OutboundMessage) -> SendOutcome:
        """Send one message and classify the result. Must not raise for transport errors."""

    async def problems(self) -> Sequence[str]:
        """What an operator should look at now (for example tasks left open too long).

        The service adds each to ``/health`` problems, prefixed with the
        channel name, so the gateway shows as degraded. Default: none.
        """
        return ()

    def web_routes(self) -> Sequence[AbstractRouteDef]:
        """HTTP routes this channel offers operators (for example a work queue).

        The core mounts them under ``/api/v1/channels/<name>/`` behind the
        API's token check (GET needs the ``read`` scope, other methods
        ``operate``). Paths are relative to that prefix. A handler may carry
        ``openapi_answers``, (status, description) pairs of what it answers,
        for the OpenAPI document; without it only 200 is documented. A
        success may come as (status, description, JSON Schema of its JSON
        body). Statuses from 400 up are documented as problem details. A handler that reads a
        JSON body may carry ``openapi_body``, the JSON Schema of that body, and
        one that reads query parameters ``openapi_query``, (name, description,
        JSON Schema) triples.
        Default: none.
        """
        return ()


ChannelFactory = Callable[[str, Mapping[str, Any]], Channel]

RecipientLookup = Callable[[str, Mapping[str, Any], str, Mapping[str, str]], str]
"""Whom a channel addresses an agency's documents to, worked out before any is sent.

Called with the channel instance's name and settings, the agency's OIN and what
the agency directory holds for it (``agency_email``, ``agency_peppol_id``, as
:attr:`OutboundMessage.metadata` has them). Returns the address; raises
ValueError saying where to give one when the channel has none for the agency."""

CARRIES_ENTRY_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]*(:[a-z0-9][a-z0-9.\-]*)?$")
"""One entry of :attr:`ChannelType.carries`: a standard, or a standard and a document."""


def carries_format(carries: frozenset[str] | None, format_key: str) -> bool:
    """Whether a channel declaring ``carries`` can carry documents in ``format_key``.

    The version is never compared: a new version of a standard travels where the
    old one did, without an edit of the channel plugin.
    """
    if carries is None:
        return True
    standard, _, rest = format_key.partition(":")
    document = rest.partition(":")[0]
    return standard in carries or f"{standard}:{document}" in carries


def declaration_problems(channel_type: ChannelType) -> list[str]:
    """What is wrong with what ``channel_type`` declares beside its factory; empty if nothing.

    A ``carries`` given as one string would be read letter by letter, and an
    entry with a version would keep the next version of its standard off the
    channel, so both are refused.
    """
    problems: list[str] = []
    carries: object = channel_type.carries
    if carries is not None:
        if not isinstance(carries, frozenset):
            problems.append(f"carries is {carries!r}, not a frozenset of standards "
                            "(e.g. frozenset({'peppol-bis'})) or None for any format")
        elif not carries:
            problems.append("carries is empty: the channel could carry no format at all "
                            "(None means any format)")
        else:
            for entry in sorted(carries, key=str):
                if not isinstance(entry, str) or not CARRIES_ENTRY_RE.fullmatch(entry):
                    problems.append(
                        f"carries entry {entry!r} is not a standard ('ubl-ohnl') or a "
                        "standard and document ('ubl-ohnl:invoice') in lower case, without "
                        "a version")
    recipient: object = channel_type.recipient
    if recipient is not None and not callable(recipient):
        problems.append(f"recipient is {recipient!r}, not a function "
                        "(gateway.channels.RecipientLookup) or None")
    return problems

ContractSetup = Callable[[Path], AbstractAsyncContextManager[Mapping[str, Any]]]
"""Given a scratch folder, set up whatever the channel talks to (a folder, a
simulator on loopback) and yield the channel settings that reach it."""


@attrs.frozen
class FailureCase:
    """A situation in which ``send`` must return a classified error, not raise."""

    name: str
    setup: ContractSetup
    expect: Literal["retryable", "final"]


@attrs.frozen
class StatusCase:
    """How the kit sees a channel report, by itself, what became of a message it sent.

    For a channel that polls its transport (or reads receipts) through
    :attr:`ChannelContext.status` and :attr:`ChannelContext.sent`. The kit
    starts it with both under the working settings updated by ``settings``
    (a short poll interval, say), sends the contract message, lists it as
    sent, and waits ``within`` seconds for a :class:`StatusReport` naming it.
    """

    settings: Mapping[str, Any] = attrs.field(factory=dict)
    within: float = 10.0


@attrs.frozen
class ChannelContract:
    """How the contract kit exercises a channel type on this machine alone."""

    working: ContractSetup
    failures: tuple[FailureCase, ...] = ()
    message: OutboundMessage | None = None
    """The message to send; by default a small XML document for a test OIN."""
    status: StatusCase | None = None
    """How the channel's own status reports are seen; None: it makes none by itself
    (a person reports, as through the portal, or nobody does)."""


@attrs.frozen
class ChannelType:
    """A registered kind of channel: its name and how to build an instance."""

    name: str
    factory: ChannelFactory
    description: str = ""
    settings_help: Mapping[str, str] = attrs.field(factory=dict)
    """Setting name to one-line description, shown by ``gateway channels``."""
    contract: ChannelContract | None = None
    """Set-ups for the contract kit; a channel type without one fails the kit."""
    carries: frozenset[str] | None = None
    """The formats the transport can carry, by standard (``"ubl-ohnl"``: any
    ``ubl-ohnl:*:*`` format) or standard and document (``"ubl-ohnl:invoice"``),
    never by version, so that a new version of a standard needs no edit here.
    The gateway refuses a route of another format to the channel when it loads
    the configuration. None (the default): any format."""
    recipient: RecipientLookup | None = None
    """For a channel that needs an address per agency (e-mail): how it finds one.
    The gateway refuses a route to the channel for an agency it has none for.
    None (the default): the channel reaches every agency."""
