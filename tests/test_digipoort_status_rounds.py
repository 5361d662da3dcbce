"""Digipoort status polling when an answer of getNieuweStatussenProces is lost or refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest
from digipoort_channel_support import AGENCY_OIN, client_settings, invoice_19

from gateway.channels import (
    Accepted,
    ChannelContext,
    OutboundMessage,
    SentMessage,
    StatusReport,
)
from gateway.kinds import DocumentKind
from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.channel import DigipoortChannel, StatusRoundFailed
from plugins.digipoort.simulator import DigipoortSimulator, Fault, FaultKind, SimulatorSettings
from plugins.digipoort.wus.pki import Pki, make_pki

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
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder, step_delay=0.15)) as sim:
        yield sim


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


async def test_statuses_fetched_as_new_are_not_lost_when_the_answer_is_refused(
        pki: Pki, simulator: DigipoortSimulator) -> None:
    settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                               status_url=simulator.status_url, request_timeout=2)
    channel = DigipoortChannel("digipoort", settings)
    await channel.start(ChannelContext("digipoort"))  # no status poller task
    desk = Desk()
    channel.context = ChannelContext("digipoort", status=desk.status, sent=desk.sent)
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
    # BUG: 400 and 500 were consumed by the refused answer and are never asked for again;
    # the message waits (and is polled) forever.
    assert "500" in codes, codes
    assert desk.waiting == []
