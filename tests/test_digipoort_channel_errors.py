"""Refusals between the channel and the simulator, each with its reason; status rounds that recover.

The simulator is the real counterpart (two-way TLS, WS-Security checks); the
faults it injects on request stand for a Digipoort that is overloaded, away,
or answers with a broken signature.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from digipoort_channel_support import AGENCY_OIN, client_settings, invoice_19

from gateway.channels import (
    Accepted,
    ChannelContext,
    FinalError,
    OutboundMessage,
    RetryableError,
    SentMessage,
    StatusReport,
)
from gateway.kinds import DocumentKind
from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.channel import DigipoortChannel, StatusRoundFailed
from plugins.digipoort.simulator import DigipoortSimulator, Fault, FaultKind, SimulatorSettings
from plugins.digipoort.wus.pki import CertFiles, Pki, make_pki

MESSAGE = OutboundMessage(
    message_id="01KB5Z3E8W9G6Q2M4T7X1C0V5N", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
    format_key="ubl-ohnl:invoice:1.9", payload=b"", filename="F2024-0001.xml")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), kvk_numbers=("30097265",))


@pytest.fixture(autouse=True)
def standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as running:
        yield running


@pytest.fixture
def message() -> OutboundMessage:
    return attrs.evolve(MESSAGE, payload=invoice_19())


async def channel_for(pki: Pki, simulator: DigipoortSimulator, who: CertFiles | None = None,
                      **extra: Any) -> DigipoortChannel:
    settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                               status_url=simulator.status_url, request_timeout=2, **extra)
    if who is not None:
        settings.update(certificate=str(who.cert), private_key=str(who.key))
    channel = DigipoortChannel("digipoort", settings)
    await channel.start(ChannelContext("digipoort"))
    return channel


async def send(channel: DigipoortChannel, message: OutboundMessage) -> Any:
    try:
        return await channel.send(message)
    finally:
        await channel.stop()


async def test_a_send_is_accepted_and_a_repeat_is_not_submitted_twice(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    channel = await channel_for(pki, simulator)
    try:
        first = await channel.send(message)
        assert isinstance(first, Accepted)
        again = await channel.send(attrs.evolve(message, transport_id=first.transport_id,
                                                attempt=2))
    finally:
        await channel.stop()
    assert isinstance(again, Accepted)
    assert again.transport_id == first.transport_id
    assert "not submitted again" in again.detail
    assert len(simulator.processes()) == 1


async def test_an_unknown_client_certificate_is_refused_for_good(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    outcome = await send(await channel_for(pki, simulator, pki.unknown_supplier), message)
    # TLS 1.2 refuses in the handshake (final); with TLS 1.3 the client may only see
    # the server close the connection after it (retryable, bounded by the dispatcher).
    assert isinstance(outcome, FinalError | RetryableError)
    # Either way the reason points the operator at TLS and the certificate.
    assert "TLS" in outcome.reason
    assert simulator.processes() == []


async def test_an_expired_client_certificate_is_refused_for_good(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    outcome = await send(await channel_for(pki, simulator, pki.expired_supplier), message)
    assert isinstance(outcome, FinalError | RetryableError)
    # Either way the reason points the operator at TLS and the certificate.
    assert "TLS" in outcome.reason
    assert simulator.processes() == []


async def test_an_expired_timestamp_is_refused_by_digipoort_with_the_reason(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    channel = await channel_for(pki, simulator)
    assert channel.client is not None
    # A sender whose timestamps ran out before they arrive (a clock far behind).
    channel.client.ttl = timedelta(minutes=-10)
    outcome = await send(channel, message)
    assert isinstance(outcome, FinalError)
    assert outcome.code == "ALS100"
    assert "expired" in outcome.reason
    assert simulator.processes() == []


async def test_a_tampered_response_signature_is_refused_and_retried(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    simulator.inject(Fault(FaultKind.BAD_SIGNATURE, service="aanlever"))
    outcome = await send(await channel_for(pki, simulator), message)
    assert isinstance(outcome, RetryableError)
    assert "refused" in outcome.reason
    assert "signature" in outcome.reason or "digest" in outcome.reason


async def test_an_answer_that_is_not_an_envelope_is_retryable(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    simulator.inject(Fault(FaultKind.HTTP_500, service="aanlever"))
    outcome = await send(await channel_for(pki, simulator), message)
    assert isinstance(outcome, RetryableError)
    assert "HTTP 500" in outcome.reason


@pytest.mark.parametrize("kind", [FaultKind.TIMEOUT, FaultKind.RESET, FaultKind.HTTP_503])
async def test_an_unreachable_or_overloaded_digipoort_is_retryable(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage,
        kind: FaultKind) -> None:
    simulator.inject(Fault(kind, service="aanlever", delay=3.0))
    outcome = await send(await channel_for(pki, simulator), message)
    assert isinstance(outcome, RetryableError)
    assert outcome.reason.startswith("Digipoort AanleverService:")


async def test_a_document_without_a_berichtsoort_is_refused_before_sending(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    outcome = await send(await channel_for(pki, simulator),
                         attrs.evolve(message, format_key="peppol-bis:invoice:3.0"))
    assert isinstance(outcome, FinalError)
    assert "no Digipoort berichtsoort" in outcome.reason
    assert simulator.processes() == []


class Desk:
    """A stand-in for the core: the sent message waits until a final status."""

    def __init__(self) -> None:
        self.reports: list[StatusReport] = []
        self.waiting: list[SentMessage] = []

    async def status(self, report: StatusReport) -> str | None:
        self.reports.append(report)
        if report.final:
            self.waiting = [w for w in self.waiting if w.transport_id != report.transport_id]
        return "m1"

    async def sent(self, limit: int = 500,
                   business_states: Sequence[str] | None = None) -> Sequence[SentMessage]:
        return list(self.waiting)[:limit]


async def polled_by_hand(pki: Pki, simulator: DigipoortSimulator
                         ) -> tuple[DigipoortChannel, Desk]:
    """A started channel without its status poller task, reporting to a Desk: each test
    runs the status rounds itself."""
    settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                               status_url=simulator.status_url, request_timeout=2)
    channel = DigipoortChannel("digipoort", settings)
    await channel.start(ChannelContext("digipoort"))
    desk = Desk()
    channel.context = ChannelContext("digipoort", status=desk.status, sent=desk.sent)
    return channel, desk


async def test_statuses_fetched_as_new_are_not_lost_when_the_answer_is_refused(
        pki: Pki) -> None:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder,
                                                    step_delay=0.15)) as simulator:
        await _lose_an_answer_of_new_statuses(pki, simulator)


async def _lose_an_answer_of_new_statuses(pki: Pki, simulator: DigipoortSimulator) -> None:
    channel, desk = await polled_by_hand(pki, simulator)
    try:
        outcome = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19()))
        assert isinstance(outcome, Accepted)
        kenmerk = outcome.transport_id
        now = datetime.now(UTC)
        desk.waiting = [SentMessage("m1", kenmerk, AGENCY_OIN, "invoice", "none", now, now)]
        await channel.poll_statuses()  # the first round: the history so far (105, 100, ...)
        assert desk.reports
        assert not any(r.final for r in desk.reports)
        await simulator.wait_finished(kenmerk)
        # One answer of getNieuweStatussenProces is refused (broken signature, or a
        # time-out after Digipoort answered): Digipoort counts the statuses as fetched.
        simulator.inject(Fault(FaultKind.BAD_SIGNATURE, service="status"))
        with pytest.raises(StatusRoundFailed):
            await channel.poll_statuses()
        for _ in range(3):  # later rounds, the service healthy again
            await channel.poll_statuses()
            await asyncio.sleep(0.05)
    finally:
        await channel.stop()
    codes = [r.code for r in desk.reports]
    # 400 and 500 came in the refused answer: asked for again (the whole history), or the
    # message would wait, and be polled, for ever.
    assert "500" in codes, codes
    assert desk.waiting == []


UNKNOWN = "f0f0f0f0-0000-4000-8000-000000000000"


async def one_sent_one_unknown(channel: DigipoortChannel, desk: Desk, message: OutboundMessage,
                               *, unknown_first: bool = False) -> None:
    """``message`` sent, and waiting for statuses beside one Digipoort never knew (STS100)."""
    outcome = await channel.send(message)
    assert isinstance(outcome, Accepted)
    now = datetime.now(UTC)
    waiting = [SentMessage("m1", outcome.transport_id, AGENCY_OIN, "invoice", "none", now, now),
               SentMessage("m2", UNKNOWN, AGENCY_OIN, "invoice", "none", now, now)]
    desk.waiting = waiting[::-1] if unknown_first else waiting


async def test_a_new_kind_of_status_trouble_is_logged_while_the_first_lasts(
    pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Digipoort away, then back but without the process (a restarted simulator, say): the
    STS100 answers went unlogged, since a trouble was logged once while it lasted."""
    channel, desk = await polled_by_hand(pki, simulator)
    try:
        await one_sent_one_unknown(channel, desk, message)
        simulator.inject(Fault(FaultKind.HTTP_503, service="status"))
        with pytest.raises(StatusRoundFailed):
            await channel.poll_statuses()
        await channel.poll_statuses()  # answered again, but m2's process is unknown
        await channel.poll_statuses()  # the same fault again: nothing new to say
    finally:
        await channel.stop()
    warned = [r.getMessage() for r in caplog.records
              if "status requests fail" in r.getMessage()]
    assert len(warned) == 2, warned
    assert "StatusinformatieService unavailable" in warned[0]
    assert "STS100" in warned[1]
    assert UNKNOWN in warned[1]


async def test_two_lasting_troubles_are_each_logged_once(
    pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One process unknown for good (STS100) while the service is away now and then: the
    kind of the last trouble alternated, and each round logged a warning."""
    channel, desk = await polled_by_hand(pki, simulator)
    try:
        await one_sent_one_unknown(channel, desk, message, unknown_first=True)
        for _ in range(3):
            simulator.inject(Fault(FaultKind.HTTP_503, service="status"))
            with pytest.raises(StatusRoundFailed):
                await channel.poll_statuses()  # Digipoort away for a moment
            await channel.poll_statuses()  # back: m2 still unknown, m1 answered
    finally:
        await channel.stop()
    warned = [r.getMessage() for r in caplog.records
              if "status requests fail" in r.getMessage()]
    assert len(warned) == 2, "\n".join(warned)
