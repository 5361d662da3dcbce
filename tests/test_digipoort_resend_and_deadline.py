"""Digipoort: a resend that learns nothing, the deadline after a stop, and why a document failed.

The channel against the real simulator (two-way TLS, WS-Security), with the
simulator's injected faults standing for a StatusinformatieService that is
away. Three rules:

- a message that carries a kenmerk is submitted again only on Digipoort's
  answer that its process failed, is lost or is unknown; a question that gets
  no usable answer (503, reset, broken signature) is retried later;
- ``status_deadline`` ends a message for silence only when Digipoort was
  asked and did not answer over the deadline, not because the gateway was
  stopped longer than that and the first question after the start failed;
- a failure's text, the reason an operator reads, quotes Digipoort's
  ``statusdetails`` (which rule failed, why the agency refused), trimmed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from digipoort_channel_support import AGENCY_OIN, client_settings, invoice_19, pki, standards
from test_digipoort_channel_errors import Desk

from gateway.channels import (
    Accepted,
    ChannelContext,
    OutboundMessage,
    RetryableError,
    SentMessage,
)
from gateway.kinds import DocumentKind
from plugins.digipoort.channel import DigipoortChannel, StatusRoundFailed
from plugins.digipoort.simulator import DigipoortSimulator, Fault, FaultKind, SimulatorSettings
from plugins.digipoort.simulator.processes import StatusEvent
from plugins.digipoort.wus.codes import meaning
from plugins.digipoort.wus.koppelvlak import Fout
from plugins.digipoort.wus.pki import Pki

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here

MESSAGE = OutboundMessage(
    message_id="01KB5Z3E8W9G6Q2M4T7X1C0V5R", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
    format_key="ubl-ohnl:invoice:1.9", payload=b"", filename="F2024-0001.xml")
DELIVERED = "delivered-to-agency"


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as running:
        yield running


async def started(pki: Pki, simulator: DigipoortSimulator, **extra: Any
                  ) -> tuple[DigipoortChannel, Desk]:
    """A started channel (no poller task: the test runs the rounds) reporting to a Desk."""
    settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                               status_url=simulator.status_url, request_timeout=2, **extra)
    channel = DigipoortChannel("digipoort", settings)
    await channel.start(ChannelContext("digipoort"))
    desk = Desk()
    channel.context = ChannelContext("digipoort", status=desk.status, sent=desk.sent)
    return channel, desk


async def accepted(channel: DigipoortChannel, simulator: DigipoortSimulator,
                   message: OutboundMessage = MESSAGE) -> str:
    outcome = await channel.send(attrs.evolve(message, payload=invoice_19()))
    assert isinstance(outcome, Accepted), outcome
    await simulator.wait_finished(outcome.transport_id)
    return outcome.transport_id


async def reached(simulator: DigipoortSimulator, kenmerk: str, code: str) -> None:
    """Wait until the simulator's process ``kenmerk`` has given status ``code``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while code not in simulator.process(kenmerk).codes:
        if loop.time() > deadline:
            raise AssertionError(f"{kenmerk} did not reach {code}")
        await asyncio.sleep(0.01)


def waiting(kenmerk: str, state: str, last_change: datetime) -> SentMessage:
    return SentMessage("m1", kenmerk, AGENCY_OIN, "invoice", state, last_change, last_change)


# --- 1. a resend submits again only on Digipoort's answer ----------------------------------


@pytest.mark.parametrize("kind", [FaultKind.HTTP_503, FaultKind.RESET, FaultKind.BAD_SIGNATURE])
async def test_a_resend_does_not_submit_again_when_digipoort_cannot_say_what_became_of_it(
        pki: Pki, simulator: DigipoortSimulator, kind: FaultKind) -> None:
    """A message that carries a kenmerk is sent again (``gateway messages retry`` of a
    ``no-status`` message, typically one that failed because the StatusinformatieService
    was away). The question about the old kenmerk is answered with a 503, a reset or a
    broken signature: we learn nothing, so the send is retried later rather than start a
    second process (a second invoice) at Digipoort beside one already at the agency."""
    channel, _desk = await started(pki, simulator)
    try:
        kenmerk = await accepted(channel, simulator)
        assert simulator.process(kenmerk).codes[-1] == "500"  # the agency has it
        simulator.inject(Fault(kind, count=5, service="status"))
        again = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19(),
                                                transport_id=kenmerk, attempt=2))
    finally:
        await channel.stop()
    assert len(simulator.processes()) == 1, (
        f"a second aanlevering was made ({again!r}) although Digipoort never said the "
        f"first one, {kenmerk}, was lost")
    assert isinstance(again, RetryableError), again
    assert f"cannot ask Digipoort about {kenmerk}; not submitting again" in again.reason
    assert again.transport_id == kenmerk


async def test_a_resend_keeps_the_process_once_digipoort_answers_again(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    channel, _desk = await started(pki, simulator)
    try:
        kenmerk = await accepted(channel, simulator)
        simulator.inject(Fault(FaultKind.HTTP_503, service="status"))
        message = attrs.evolve(MESSAGE, payload=invoice_19(), transport_id=kenmerk, attempt=2)
        first = await channel.send(message)
        later = await channel.send(attrs.evolve(message, attempt=3))
    finally:
        await channel.stop()
    assert isinstance(first, RetryableError), first
    assert isinstance(later, Accepted), later
    assert later.transport_id == kenmerk
    assert len(simulator.processes()) == 1


async def test_a_resend_of_a_kenmerk_digipoort_does_not_know_is_submitted_anew(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    # STS100 is Digipoort's answer about an unknown kenmerk: a real answer, as before.
    channel, _desk = await started(pki, simulator)
    try:
        again = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19(),
                                                transport_id="unknown-kenmerk", attempt=2))
    finally:
        await channel.stop()
    assert isinstance(again, Accepted), again
    assert again.transport_id != "unknown-kenmerk"
    assert len(simulator.processes()) == 1


# --- 2. the deadline ends only what Digipoort was asked about ------------------------------


async def test_one_unanswered_request_after_a_long_stop_does_not_end_messages_never_asked(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    """The deadline counted from the message's latest change, also when the gateway did
    not ask in between (stopped for a long weekend). The first round after the start
    meets one 503 (Digipoort busy for a moment): every waiting message past the deadline
    was ended for good. Here one at the agency got ``polling-stopped`` and stayed
    delivered-to-agency for ever, although Digipoort has its 500; one not yet at the
    agency would fail with ``no-status``. Digipoort was never silent: it was not asked."""
    channel, desk = await started(pki, simulator)
    try:
        kenmerk = await accepted(channel, simulator)
        long_ago = datetime.now(UTC) - timedelta(days=5)
        desk.waiting = [waiting(kenmerk, DELIVERED, long_ago)]
        simulator.inject(Fault(FaultKind.HTTP_503, service="status"))
        with pytest.raises(StatusRoundFailed):
            await channel.poll_statuses()
        for _ in range(2):  # Digipoort answers again
            await channel.poll_statuses()
            await asyncio.sleep(0.05)
    finally:
        await channel.stop()
    codes = [r.code for r in desk.reports]
    assert "polling-stopped" not in codes, codes
    assert "500" in codes, codes


async def test_questions_unanswered_over_the_deadline_end_what_waits(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    # The rule still ends what Digipoort leaves unanswered: once the service left it
    # unanswered for the whole deadline. A message not asked (the round ends at the first
    # unanswered question) ends with the one asked: the service did not answer for both.
    channel, desk = await started(pki, simulator, status_deadline=1)
    try:
        first = await accepted(channel, simulator)
        second = await accepted(channel, simulator,
                                attrs.evolve(MESSAGE, message_id="01KB5Z3E8W9G6Q2M4T7X1C0V5S"))
        long_ago = datetime.now(UTC) - timedelta(days=5)
        desk.waiting = [waiting(first, "none", long_ago), waiting(second, "none", long_ago)]
        simulator.inject(Fault(FaultKind.HTTP_503, count=1_000, service="status"))
        with pytest.raises(StatusRoundFailed):
            await channel.poll_statuses()
        assert desk.reports == [], "unanswered for a moment only"
        await asyncio.sleep(1.1)
        with pytest.raises(StatusRoundFailed):
            await channel.poll_statuses()
    finally:
        await channel.stop()
    assert [(r.code, r.transport_id, r.failed) for r in desk.reports] == [
        ("no-status", first, True), ("no-status", second, True)]
    for ended in desk.reports:
        assert "503" in ended.text
        assert "asked without an answer since" in ended.text
    assert desk.waiting == []


# --- 3. the dead letter says what Digipoort found wrong ------------------------------------


async def test_a_refused_document_fails_with_what_digipoort_found_wrong(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    """For 311 (and 410) Digipoort says what is wrong in ``statusdetails`` (the validation
    findings, or here the agency's refusal); the reason the message fails with, the one
    thing an operator reads in the dead letter, left it out: "Digipoort status 311 -
    Validatie niet gelukt - VAS500: Het bericht voldoet niet aan de validatieregels",
    not which rule or why."""
    channel, desk = await started(pki, simulator,
                                  aanleverkenmerk_scenario="Foutuitvragendepartij")
    try:
        kenmerk = await accepted(channel, simulator)
        now = datetime.now(UTC)
        desk.waiting = [waiting(kenmerk, "none", now)]
        await channel.poll_statuses()
    finally:
        await channel.stop()
    [failure] = [r for r in desk.reports if r.failed]
    assert failure.code == "311"
    details = failure.detail.get("statusdetails")
    assert details == "afgewezen door de uitvragende partij"
    assert details in failure.text, failure.text


async def test_long_statusdetails_are_quoted_on_one_line_and_trimmed(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    # statusdetails may be up to 1 MiB (the koppelvlak XSD): validation findings, one a line.
    simulator.settings.stall_after = "110"  # Digipoort's 311 comes when the test says
    channel, desk = await started(pki, simulator)
    findings = "\n".join(f"  [BR-NL-{n}]  regel {n} faalt\t op /Invoice" for n in range(400))
    try:
        sent = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19()))
        assert isinstance(sent, Accepted), sent
        kenmerk = sent.transport_id
        await reached(simulator, kenmerk, "110")
        simulator.process(kenmerk).add(StatusEvent(
            "311", datetime.now(UTC), meaning("311"),
            Fout("VAS500", "Het bericht voldoet niet aan de validatieregels"), findings))
        now = datetime.now(UTC)
        desk.waiting = [waiting(kenmerk, "none", now)]
        await channel.poll_statuses()
    finally:
        await channel.stop()
    [failure] = [r for r in desk.reports if r.failed]
    assert failure.detail["statusdetails"] == findings.strip(), "the event keeps them whole"
    assert "[BR-NL-0] regel 0 faalt op /Invoice [BR-NL-1]" in failure.text, failure.text
    assert "\n" not in failure.text
    assert "\t" not in failure.text
    quoted = failure.text.split(" - ")[-1]
    assert 490 < len(quoted) <= 500  # status.DETAILS_IN_TEXT
    assert quoted.endswith("…")
