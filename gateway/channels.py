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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import attrs

from gateway.errors import GatewayError
from gateway.kinds import DocumentKind
from gateway.model.common import Attachment

if TYPE_CHECKING:
    from aiohttp.web import AbstractRouteDef

    from gateway.store import Store


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


@attrs.frozen
class Accepted:
    """The transport took the message; ``transport_id`` is its reference for it."""

    transport_id: str
    detail: str = ""


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
    leaves the message listed as its states say.

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
        for the OpenAPI document; without it only 200 is documented.
        Default: none.
        """
        return ()


ChannelFactory = Callable[[str, Mapping[str, Any]], Channel]

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
class ChannelContract:
    """How the contract kit exercises a channel type on this machine alone."""

    working: ContractSetup
    failures: tuple[FailureCase, ...] = ()
    message: OutboundMessage | None = None
    """The message to send; by default a small XML document for a test OIN."""


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
