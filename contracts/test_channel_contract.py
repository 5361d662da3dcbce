"""What every channel plugin must satisfy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from gateway.channels import (
    Accepted,
    Channel,
    ChannelContext,
    ChannelType,
    FinalError,
    InboundDocument,
    OutboundMessage,
    RetryableError,
    SendOutcome,
    SentMessage,
    StatusReport,
    carries_format,
    declaration_problems,
)
from gateway.errors import StandardsError
from gateway.kinds import DocumentKind
from gateway.registry import Registry

TEST_OIN = "00000099003214345001"  # the Peppol/Logius test recipient


def _message(channel_type: ChannelType, transport_id: str | None = None) -> OutboundMessage:
    assert channel_type.contract is not None
    base = channel_type.contract.message or OutboundMessage(
        message_id="contract-kit-0001",
        agency_oin=TEST_OIN,
        kind=DocumentKind.INVOICE,
        format_key="contract:invoice:1",
        payload=b"<?xml version='1.0'?><Invoice xmlns='urn:example:contract-kit'/>",
        filename="invoice.xml",
        business_key="contract-kit/invoice/0001",
    )
    if transport_id is None:
        return base
    return attrs.evolve(base, transport_id=transport_id, attempt=2)


async def _sink(document: InboundDocument) -> str:
    return "contract-kit-inbound"


@pytest.fixture
def channel_type(registry: Registry, channel_name: str) -> ChannelType:
    return registry.channel_type(channel_name)


def _build(channel_type: ChannelType, settings: object) -> Channel:
    channel = channel_type.factory(f"contract-{channel_type.name}", settings)  # type: ignore[arg-type]
    assert isinstance(channel, Channel), f"factory of {channel_type.name} built {channel!r}"
    return channel


async def _send(channel: Channel, message: OutboundMessage, case: str) -> SendOutcome:
    # The gateway survives a raising send, but counts it as a bug and retries blindly;
    # say which promise broke rather than leave the reader with the socket error alone.
    try:
        return await channel.send(message)
    except Exception as exc:
        pytest.fail(f"{case}: send raised {type(exc).__name__}: {exc}; a channel returns "
                    "RetryableError or FinalError for a transport error, it never raises")


async def _start(channel: Channel, context: ChannelContext) -> None:
    # As a format's validation check is skipped without the standards, a channel that
    # needs an official file to start (Digipoort's koppelvlak XSD) is skipped, saying so.
    try:
        await channel.start(context)
    except StandardsError as exc:
        pytest.skip(f"{channel.name} cannot start without the standards: {exc}")


def test_name_and_description(channel_type: ChannelType, channel_name: str) -> None:
    assert channel_type.name == channel_name == channel_name.lower()
    assert channel_type.description.strip(), "describe the channel for `gateway channels`"
    assert channel_type.contract is not None, (
        "declare a ChannelContract so the kit can exercise the channel on loopback"
    )


async def test_starts_sends_and_stops_cleanly(channel_type: ChannelType, tmp_path: Path) -> None:
    assert channel_type.contract is not None
    before = asyncio.all_tasks()
    async with channel_type.contract.working(tmp_path) as settings:
        channel = _build(channel_type, settings)
        await _start(channel, ChannelContext(channel.name, inbound=_sink, data_dir=str(tmp_path)))
        try:
            first = await _send(channel, _message(channel_type), "working settings")
            assert isinstance(first, Accepted), f"send under working settings gave {first!r}"
            assert first.transport_id, "an accepted send must name the transport's id"
            again = await _send(channel, _message(channel_type, first.transport_id),
                                "a retry under working settings")
            assert isinstance(again, Accepted), f"a retry with the same transport id gave {again!r}"
            assert again.transport_id == first.transport_id, "transport ids must survive retries"
        finally:
            await channel.stop()
    await asyncio.sleep(0)
    leaked = {t for t in asyncio.all_tasks() - before if not t.done()}
    assert not leaked, f"stop() left tasks running: {sorted(t.get_name() for t in leaked)}"


def test_declares_what_it_carries_as_the_kit_sends_it(channel_type: ChannelType) -> None:
    # The registry refuses a malformed declaration already; asked again here for a channel
    # type built some other way.
    problems = declaration_problems(channel_type)
    assert not problems, "; ".join(problems)
    message = _message(channel_type)
    carries = channel_type.carries
    assert carries_format(carries, message.format_key), (
        f"the kit's message is in format {message.format_key}, which carries "
        f"({', '.join(sorted(carries or ()))}) leaves out: the gateway would never route it "
        "to this channel; give ChannelContract.message in a format the channel carries")


async def test_recipient_finds_an_address_or_says_where_to_give_one(
    channel_type: ChannelType, tmp_path: Path,
) -> None:
    lookup = channel_type.recipient
    if lookup is None:
        pytest.skip(f"{channel_type.name} needs no address per agency")
    assert channel_type.contract is not None
    message = _message(channel_type)
    name = f"contract-{channel_type.name}"
    async with channel_type.contract.working(tmp_path) as settings:
        try:
            address = lookup(name, settings, message.agency_oin, message.metadata)
        except Exception as exc:
            pytest.fail(f"recipient raised {type(exc).__name__} under the working settings: "
                        f"{exc}; the working settings must reach the kit's agency")
    assert isinstance(address, str), f"recipient gave {address!r}, not an address"
    assert address, "recipient gave an empty address under the working settings"
    said = "(an address without any setting)"
    try:
        lookup(name, {}, message.agency_oin, {})
    except ValueError as exc:
        said = str(exc)
    except Exception as exc:
        pytest.fail(f"recipient raised {type(exc).__name__} for an agency it has no address "
                    f"for: {exc}; it raises ValueError, which the gateway reports on the route")
    assert said, "a ValueError from recipient must say where to give an address"


def test_declares_failure_cases(channel_type: ChannelType) -> None:
    assert channel_type.contract is not None
    assert channel_type.contract.failures, (
        "declare at least one FailureCase (nobody listening, a refusal, ...) so the kit can "
        "see that send classifies its errors instead of raising"
    )


async def test_failures_are_classified(channel_type: ChannelType, tmp_path: Path) -> None:
    assert channel_type.contract is not None
    for number, case in enumerate(channel_type.contract.failures):
        scratch = tmp_path / f"case-{number}"
        scratch.mkdir()
        async with case.setup(scratch) as settings:
            channel = _build(channel_type, settings)
            await _start(channel, ChannelContext(channel.name, inbound=_sink,
                                                 data_dir=str(scratch)))
            try:
                outcome = await _send(channel, _message(channel_type), case.name)
            finally:
                await channel.stop()
        expected = RetryableError if case.expect == "retryable" else FinalError
        assert isinstance(outcome, expected), (
            f"{case.name}: expected {case.expect}, got {outcome!r}"
        )
        assert outcome.reason.strip(), f"{case.name}: the error must carry its reason"


def _names(report: StatusReport, message: OutboundMessage, transport_id: str) -> bool:
    """Whether ``report`` speaks of the kit's message: by transport id, or as a business
    response quoting its agency, kind and document number."""
    if report.transport_id is not None:
        return report.transport_id == transport_id
    return (report.agency_oin, report.kind) == (message.agency_oin, message.kind)


async def test_reports_what_became_of_a_sent_message(
    channel_type: ChannelType, tmp_path: Path,
) -> None:
    """A poller that never reports (a wrong id asked about, a report the core cannot place)
    leaves every message 'sent' for good: the kit sends one and waits for its report."""
    assert channel_type.contract is not None
    case = channel_type.contract.status
    if case is None:
        pytest.skip(f"{channel_type.name} declares no StatusCase: it reports no status by "
                    "itself")
    message = _message(channel_type)
    sent: list[SentMessage] = []
    reports: list[StatusReport] = []
    heard = asyncio.Event()

    async def status(report: StatusReport) -> str | None:
        if not isinstance(report, StatusReport):
            pytest.fail(f"the channel reported {report!r}, not a gateway.channels.StatusReport")
        reports.append(report)
        if sent and _names(report, message, sent[0].transport_id):
            heard.set()
            return message.message_id
        return None

    async def lookup(limit: int = 500,
                     business_states: Sequence[str] | None = None) -> list[SentMessage]:
        return [m for m in sent if business_states is None or m.business_state
                in business_states][:limit]

    async with channel_type.contract.working(tmp_path) as settings:
        channel = _build(channel_type, {**settings, **case.settings})
        await _start(channel, ChannelContext(channel.name, inbound=_sink, data_dir=str(tmp_path),
                                             status=status, sent=lookup))
        try:
            outcome = await _send(channel, message, "working settings")
            assert isinstance(outcome, Accepted), f"send under working settings gave {outcome!r}"
            now = datetime.now(UTC)
            sent.append(SentMessage(message.message_id, outcome.transport_id,
                                    message.agency_oin, message.kind.value, "none", now, now))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(heard.wait(), case.within)
        finally:
            await channel.stop()
    assert heard.is_set(), (
        f"no status report named the message sent under transport id {outcome.transport_id} "
        f"within {case.within:g} s (reports seen: {reports[:3]!r})")
    [first] = [r for r in reports if _names(r, message, outcome.transport_id)][:1]
    assert first.code.strip(), "a status report carries the transport's own code"
