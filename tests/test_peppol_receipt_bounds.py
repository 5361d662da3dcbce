"""Peppol: asking for a transmission's receipt ends (issue #6: nothing retries for ever).

The running gateway against the Peppol simulator on loopback. A 404 from
the access point (it does not know the transmission) is asked once and
fails the message for an operator, who can send it again under the same
transport id. Transient answers (5xx, resets, timeouts, a receipt that stays
``accepted``) are asked again, but only until ``receipt_deadline`` after the
send; then the message fails with ``no-receipt``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from test_peppol_channel import (  # noqa: F401 - fixtures
    Setup,
    api_channel,
    folder_channel,
    running,
    secrets,
    sent_and,
)

from gateway.channels import Accepted
from gateway.pipeline.operator import retry
from gateway.store import MessageRecord, TransportState
from plugins.peppol import CONTRACT_PAYLOAD, CONTRACT_SENDER
from plugins.peppol.ap_client import HttpAccessPoint, NoReceipt, Receipt
from plugins.peppol.channel import PeppolChannel, instance_id_for
from plugins.peppol.sbdh import participant, wrap
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings

Start = Callable[..., Awaitable[Setup]]


def failed(record: MessageRecord) -> bool:
    return record.transport_state is TransportState.FAILED


def with_deadline(seconds: float, **extra: Any) -> Callable[[PeppolSimulator], str]:
    return lambda simulator: api_channel(simulator, receipt_deadline=seconds, **extra)


async def status_events(setup: Setup, message_id: str) -> list[dict[str, Any]]:
    assert setup.service.store is not None
    return [dict(event.detail) for event in await setup.service.store.events(message_id)
            if event.kind == "status"]


async def rounds(setup: Setup, count: int = 10) -> None:
    """Let the receipt poller (every 0.05 s in these tests) go round ``count`` times."""
    await asyncio.sleep(setup.channel.poll_interval * count)


async def test_a_transmission_the_access_point_does_not_know_is_asked_about_once(
    running: Start,  # noqa: F811
) -> None:
    setup = await running(receipt_faults=("404:100%",))
    record = await setup.submit()
    instance = instance_id_for(record.id)
    dead = await setup.until(record.id, failed, within=10)

    assert dead.transport_id == instance
    assert dead.last_error is not None
    assert "unknown-transmission" in dead.last_error
    assert f"does not know transmission {instance}" in dead.last_error
    assert "HTTP 404" in dead.last_error  # the access point's own words
    [event] = await status_events(setup, record.id)
    assert event["code"] == "unknown-transmission"
    assert event["final"] is True
    asked = setup.simulator.receipt_calls[instance]
    await rounds(setup, 20)
    assert setup.simulator.receipt_calls[instance] == asked == 1, "a 404 is not asked again"
    assert (await setup.record(record.id)).transport_state is TransportState.FAILED


async def test_a_lost_transmission_is_sent_again_under_its_id_when_the_operator_retries(
    running: Start,  # noqa: F811
) -> None:
    # The receipt stays "accepted" until the access point loses the transmission.
    setup = await running(receipt_faults=("pending:100%",))
    record = await setup.submit()
    instance = instance_id_for(record.id)
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    await rounds(setup, 3)
    assert setup.simulator.forget(instance)
    dead = await setup.until(record.id, failed, within=10)
    assert dead.last_error is not None
    assert "unknown-transmission" in dead.last_error

    setup.simulator.receipt_faults.clear()
    assert setup.service.store is not None
    await retry(setup.service.store, record.id, actor="operator",
                reason="the access point lost it")
    delivered = await setup.until(record.id, sent_and("delivered-to-agency"), within=20)

    assert delivered.transport_id == instance, "the transport id stays the same"
    [transmission] = setup.simulator.transmissions.values()
    assert transmission.id == instance
    assert transmission.copies == 1, "the access point had lost it: a first copy again"
    assert [e["code"] for e in await status_events(setup, record.id)] == [
        "unknown-transmission", "delivered"]


async def test_a_5xx_storm_past_the_deadline_ends_in_no_receipt(running: Start) -> None:  # noqa: F811
    setup = await running(with_deadline(2.0), receipt_faults=("503:100%",))
    record = await setup.submit()
    instance = instance_id_for(record.id)
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    await rounds(setup, 8)
    # Within the deadline a transient answer is asked about again, and fails nothing.
    assert (await setup.record(record.id)).transport_state is TransportState.SENT
    assert setup.simulator.receipt_calls[instance] > 1

    dead = await setup.until(record.id, failed, within=10)
    assert dead.last_error is not None
    assert "no-receipt" in dead.last_error
    assert "no receipt from the access point within 2 s" in dead.last_error
    assert "HTTP 503" in dead.last_error, "the last answer is named"
    [event] = await status_events(setup, record.id)
    assert event["code"] == "no-receipt"
    asked = setup.simulator.receipt_calls[instance]
    await rounds(setup, 20)
    assert setup.simulator.receipt_calls[instance] == asked, "not asked again"


async def test_a_receipt_that_stays_accepted_ends_in_no_receipt(running: Start) -> None:  # noqa: F811
    setup = await running(with_deadline(0.5), receipt_faults=("pending:100%",))
    record = await setup.submit()
    dead = await setup.until(record.id, failed, within=10)
    assert dead.last_error is not None
    assert "no-receipt" in dead.last_error
    assert "still reports the transmission accepted" in dead.last_error


async def test_transient_answers_within_the_deadline_are_asked_again_until_the_receipt(
    running: Start,  # noqa: F811
) -> None:
    setup = await running(with_deadline(60.0, timeout=0.3), hang_seconds=0.6,
                          receipt_faults=("reset:2", "503:2", "timeout:1", "500:2"))
    record = await setup.submit()
    await setup.until(record.id, sent_and("delivered-to-agency"), within=20)
    assert [e["code"] for e in await status_events(setup, record.id)] == ["delivered"]
    assert setup.simulator.receipt_calls[instance_id_for(record.id)] >= 8


async def test_the_default_deadline_ends_a_storm_that_began_a_day_ago(
    running: Start, tmp_path: Path,  # noqa: F811
) -> None:
    setup = await running(receipt_faults=("503:100%",))
    record = await setup.submit()
    await setup.until(record.id, lambda r: r.transport_state is TransportState.SENT)
    await rounds(setup, 5)
    assert (await setup.record(record.id)).transport_state is TransportState.SENT
    # A day and a bit ago, in the gateway's own database.
    aged = (datetime.now(UTC) - timedelta(hours=25)).isoformat(timespec="microseconds")
    with sqlite3.connect(tmp_path / "gateway.db", timeout=10) as db:
        db.execute("UPDATE messages SET updated_at = ? WHERE id = ?",
                   (aged.replace("+00:00", "Z"), record.id))
    dead = await setup.until(record.id, failed, within=10)
    assert dead.last_error is not None
    assert "no receipt from the access point within 1 day" in dead.last_error


async def test_a_receipt_file_that_never_comes_ends_in_no_receipt(
    running: Start, tmp_path: Path,  # noqa: F811
) -> None:
    ap = tmp_path / "ap"
    for sub in ("outbox", "receipts", "inbox"):
        (ap / sub).mkdir(parents=True)
    folders = folder_channel(tmp_path)
    # Nothing collects the outbox: no receipt file ever appears.
    setup = await running(lambda simulator: folders(simulator) + "\nreceipt_deadline = 0.5")
    record = await setup.submit()
    dead = await setup.until(record.id, failed, within=10)
    assert dead.last_error is not None
    assert "no-receipt" in dead.last_error
    assert "no receipt file" in dead.last_error
    assert (ap / "outbox" / f"{instance_id_for(record.id)}.xml").is_file()


@pytest.mark.parametrize("value", [0, -5, "1d", True])
def test_a_receipt_deadline_must_be_a_positive_number_of_seconds(value: object) -> None:
    with pytest.raises(ValueError, match="channel 'peppol': receipt_deadline must be a number "
                                         "of seconds, more than 0"):
        PeppolChannel("peppol", {"access_point": "http://127.0.0.1:1",
                                 "receipt_deadline": value})


def test_the_receipt_deadline_is_a_day_by_default() -> None:
    channel = PeppolChannel("peppol", {"access_point": "http://127.0.0.1:1"})
    assert channel.receipt_deadline == timedelta(days=1)


async def test_the_simulator_fails_receipt_requests_and_loses_transmissions_on_request() -> None:
    simulator = PeppolSimulator(SimulatorSettings(listen="127.0.0.1:0", validate=False))
    await simulator.start()
    ap = HttpAccessPoint(simulator.url, None, 5)
    try:
        envelope, sbdh = wrap(CONTRACT_PAYLOAD, sender=participant(CONTRACT_SENDER, "sender"),
                              receiver=participant("0190:00000099003214345001", "receiver"))
        ident = envelope.instance_id
        assert isinstance(await ap.submit(sbdh, ident), Accepted)
        async with aiohttp.ClientSession() as session:
            control = f"{simulator.url}/control"
            async with session.post(f"{control}/faults",
                                    json={"fault": "503", "on": "receipts"}) as answer:
                assert answer.status == 201
            async with session.post(f"{control}/faults",
                                    json={"fault": "failed-receipt", "on": "receipts"}) as answer:
                assert answer.status == 400  # an outbound fault only
            async with session.post(f"{control}/faults",
                                    json={"fault": "503", "on": "inbox"}) as answer:
                assert answer.status == 400
            storm = await ap.look_up(ident)
            assert isinstance(storm, NoReceipt)
            assert not storm.unknown
            assert "HTTP 503" in storm.reason
            simulator.inject("404", on="receipts")
            unknown = await ap.look_up(ident)
            assert isinstance(unknown, NoReceipt)
            assert unknown.unknown
            assert isinstance(await ap.look_up(ident), Receipt), "the faults are spent"

            async with session.delete(f"{control}/transmissions/{ident}") as answer:
                assert answer.status == 200
            lost = await ap.look_up(ident)
            assert isinstance(lost, NoReceipt)
            assert lost.unknown
            assert "unknown transmission" in lost.reason
            assert isinstance(await ap.submit(sbdh, ident), Accepted)
            assert simulator.transmissions[ident].copies == 1, "a lost transmission is new"
        assert simulator.receipt_calls[ident] == 4
    finally:
        await ap.close()
        await simulator.stop()
