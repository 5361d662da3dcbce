"""Of two instances on one database, one polls statuses each round.

Before, every instance's poller asked the StatusinformatieService about every
waiting process each interval: two instances, two requests per process per
round, where Digipoort rate-limits and some contracts bill per request; the
same for the Peppol access point's receipts. The instance that has the turn
(a lease in the store) polls; the other takes over when it stops, at its next
try, or when it dies, once the turn expired. Against the real simulators,
which count the status and receipt calls per process and transmission.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from digipoort_channel_support import AGENCY_OIN as MINISTRY
from digipoort_channel_support import SUPPLIER_KVK as JANSEN
from digipoort_channel_support import client_settings
from instances_support import instance_config
from pipeline_support import FAST, document_json
from test_instances_statuses import digipoort_config, sent_invoices, statuses, store
from test_peppol_channel import SECRET, SECRET_ENV, TOKEN, TOKEN_ENV, api_channel

from gateway.channels import TURN_INTERVALS
from gateway.paths import STANDARDS_DIR_ENV
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.codes import HAPPY_FLOW
from plugins.digipoort.wus.pki import make_pki
from plugins.peppol.channel import instance_id_for
from plugins.peppol.simulator import PeppolSimulator
from plugins.peppol.simulator import SimulatorSettings as PeppolSettings
from plugins.ubl_ohnl.samples import sample_invoice

INTERVAL = 0.4
TTL = INTERVAL * TURN_INTERVALS


@attrs.define
class Installation:
    simulator: DigipoortSimulator
    services: list[GatewayService]


Start = Callable[..., Awaitable[Installation]]


@pytest.fixture
async def start(
    store_url: str, tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Start]:
    """Starts the simulator (with the settings given) and two full instances on one
    database polling it every INTERVAL; stops them after the test."""
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    pki = make_pki(tmp_path / "pki", kvk_numbers=(JANSEN,))
    async with contextlib.AsyncExitStack() as stack:

        async def started(**simulator_settings: Any) -> Installation:
            simulator = await stack.enter_async_context(DigipoortSimulator(
                SimulatorSettings(pki_dir=pki.folder, **simulator_settings)))
            settings = client_settings(pki, aanlever_url=simulator.aanlever_url,
                                       status_url=simulator.status_url,
                                       status_poll_interval=INTERVAL, request_timeout=5)
            del settings["belanghebbende_nummer"]
            services = []
            for name in ("first", "second"):
                service = GatewayService(digipoort_config(tmp_path / name, store_url, settings),
                                         dispatch=FAST)
                stack.push_async_callback(service.stop)
                await service.start()
                assert "digipoort" in service.channels, service.channel_problems
                services.append(service)
            return Installation(simulator, services)

        yield started


def poller(service: GatewayService) -> DigipoortChannel:
    found = service.channels["digipoort"]
    assert isinstance(found, DigipoortChannel)
    return found


def holders(services: list[GatewayService]) -> list[GatewayService]:
    """The instances whose poller has the turn now, by its own account."""
    return [s for s in services
            if (turn := poller(s)._status_turn) is not None and turn.held]


async def sent_invoice(installation: Installation) -> MessageRecord:
    first, second = installation.services
    assert first.outbound is not None
    invoice = attrs.evolve(sample_invoice(), number="F2024-1001")
    record, created = await first.outbound.submit(document_json(invoice), agency_oin=MINISTRY)
    assert created
    for _ in range(600):
        found = await store(second).get(record.id)
        assert found is not None
        if found.transport_state is TransportState.SENT and found.transport_id:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"not sent: {found}")


async def until(condition: Callable[[], bool], within: float, what: str) -> float:
    """Seconds until ``condition`` held; fails after ``within``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what}: not within {within:.1f} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_two_instances_ask_digipoort_about_a_process_once_a_round(start: Start) -> None:
    # The process waits for ever after 110: asked about every round.
    installation = await start(stall_after="110")
    record = await sent_invoice(installation)
    assert record.transport_id is not None
    process = installation.simulator.process(record.transport_id)
    await until(lambda: process.status_calls > 0, 5 * INTERVAL, "the first status call")
    rounds = 8
    before = process.status_calls
    await asyncio.sleep(rounds * INTERVAL)
    calls = process.status_calls - before
    # One poller: a round every interval (plus the round's own time), so at most one
    # call per interval and a start-up one; two pollers made about twice as many.
    assert 2 <= calls <= rounds + 1, f"{calls} status calls in {rounds} intervals"
    assert len(holders(installation.services)) == 1


async def test_the_other_instance_polls_on_when_the_holder_stops(start: Start) -> None:
    installation = await start(step_delay=0.6)  # the flow lasts a few intervals
    record = await sent_invoice(installation)
    await until(lambda: len(holders(installation.services)) == 1, 3 * INTERVAL, "a holder")
    [holder] = holders(installation.services)
    [other] = [s for s in installation.services if s is not holder]
    await holder.stop()
    # The holder gave the turn up: the other takes it at its next try, not after its expiry.
    took = await until(lambda: holders([other]) == [other], TTL + 2 * INTERVAL,
                       "the other instance taking the turn")
    assert took < TTL, f"taken over after {took:.2f} s, as if the turn had expired"
    # Statuses keep arriving: the whole flow, each status once.
    for _ in range(200):
        codes = await statuses(other, record.id)
        if tuple(codes) == HAPPY_FLOW:
            break
        await asyncio.sleep(0.05)
    assert tuple(codes) == HAPPY_FLOW


async def test_the_other_instance_takes_over_once_a_dead_holders_turn_expired(
    start: Start,
) -> None:
    installation = await start(stall_after="110")
    record = await sent_invoice(installation)
    assert record.transport_id is not None
    process = installation.simulator.process(record.transport_id)
    await until(lambda: len(holders(installation.services)) == 1, 3 * INTERVAL, "a holder")
    [holder] = holders(installation.services)
    [other] = [s for s in installation.services if s is not holder]
    # The holder's poller dies as its process would: nobody gives the turn up.
    dead = poller(holder)._poller
    assert dead is not None
    dead.cancel()
    await asyncio.gather(dead, return_exceptions=True)
    calls = process.status_calls
    took = await until(lambda: holders([other]) == [other], TTL + 3 * INTERVAL,
                       "the other instance taking the turn")
    assert took > INTERVAL, "taken over before the dead holder's turn expired"
    await until(lambda: process.status_calls > calls, 3 * INTERVAL,
                "status calls from the instance that took over")


# -- Peppol: receipts from the access point -------------------------------------------


async def test_two_instances_ask_the_access_point_for_a_receipt_once_a_round(
    store_url: str, tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    # Every receipt stays "accepted": each transmission is asked about every round.
    simulator = PeppolSimulator(PeppolSettings(
        listen="127.0.0.1:0", token=TOKEN, deliver_secret=SECRET,
        standards=installed_standards, receipt_faults=("pending:100%",)))
    await simulator.start()
    services: list[GatewayService] = []
    try:
        for name in ("first", "second"):
            service = GatewayService(instance_config(
                tmp_path / name, store_url, "peppol",
                api_channel(simulator, poll_interval=INTERVAL),
                invoice_format="peppol-bis:invoice:3.0",
                gateway_extra=f"standards_dir = {str(installed_standards)!r}"), dispatch=FAST)
            services.append(service)
            await service.start()
        records = await sent_invoices(services[0])
        ids = [instance_id_for(r.id) for r in records]

        def calls() -> int:
            return sum(simulator.receipt_calls[i] for i in ids)

        await until(lambda: all(simulator.receipt_calls[i] for i in ids), 5 * INTERVAL,
                    "the first receipt calls")
        rounds = 8
        before = calls()
        await asyncio.sleep(rounds * INTERVAL)
        asked = calls() - before
    finally:
        for service in services:
            await service.stop()
        await simulator.stop()
    assert 2 * len(ids) <= asked <= (rounds + 1) * len(ids), (
        f"{asked} receipt calls about {len(ids)} transmissions in {rounds} intervals")
