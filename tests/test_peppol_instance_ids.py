"""Which SBDH instance id a message travels under, across retries, upgrades and reroutes.

The access point knows a repeat by its instance id. A retry of the document
it may hold already must come under the same id, also across an upgrade of
the gateway while the message waits to be retried; a document an operator's
reroute encoded anew must come under a new one, or the access point takes
it for a repeat and the agency keeps the old document.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import attrs
import pytest
from pipeline_support import AGENCY_OIN, FAST
from test_peppol_channel import (
    SECRET,
    TOKEN,
    Setup,
    api_channel,
    config,
    secrets,
    sent_and,
)

from gateway.pipeline.operator import reroute
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from plugins.peppol.channel import instance_id_for
from plugins.peppol.sbdh import participant, wrap
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings

__all__ = ["secrets"]  # the shared fixture, used by the tests here


@pytest.fixture
async def lost_answer(tmp_path: Path, installed_standards: Path) -> AsyncIterator[Setup]:
    """A gateway whose first send to the access point is cut off by the dispatcher's
    send_timeout: the message waits to be retried, with no transport id kept."""
    simulator = PeppolSimulator(SimulatorSettings(
        listen="127.0.0.1:0", token=TOKEN, deliver_secret=SECRET,
        standards=installed_standards, faults=("timeout:1",), hang_seconds=1.0))
    await simulator.start()
    path = config(tmp_path, installed_standards, api_channel(simulator, timeout=5))
    dispatch = attrs.evolve(FAST, send_timeout=0.3, jitter=0.0,
                            backoff_base=timedelta(seconds=3), backoff_cap=timedelta(seconds=3))
    service = GatewayService(path, dispatch=dispatch)
    await service.start()
    try:
        yield Setup(service, simulator)
    finally:
        await service.stop()
        await simulator.stop()


async def retrying_after_the_access_point_took_it(setup: Setup) -> tuple[MessageRecord, str]:
    """The message, retrying; and the id the access point took its document under (what
    the first attempt sent, as far as the access point knows: only the answer was lost)."""
    record = await setup.submit()
    retrying = await setup.until(
        record.id, lambda r: r.transport_state is TransportState.RETRYING, within=10)
    assert retrying.transport_id is None, retrying
    assert retrying.raw_payload is not None
    taken = instance_id_for(record.id)
    _, sbdh = wrap(retrying.raw_payload, sender=participant("0106:30097265", "sender"),
                   receiver=participant(f"0190:{AGENCY_OIN}", "receiver"), instance_id=taken)
    async with aiohttp.ClientSession() as http, http.post(
            f"{setup.simulator.url}/outbound", data=sbdh,
            headers={"Authorization": f"Bearer {TOKEN}",
                     "Content-Type": "application/xml"}) as answer:
        assert answer.status == 202, await answer.text()
    return retrying, taken


def delivered(simulator: PeppolSimulator) -> dict[str, str | None]:
    return {t.id: t.format_key for t in simulator.transmissions.values()
            if t.status == "delivered"}


async def test_a_retry_is_a_repeat_of_what_the_first_attempt_may_have_sent(
    lost_answer: Setup,
) -> None:
    """Also when the first attempt was made by the release before an upgrade: the id is
    the message's alone, as it always was."""
    setup = lost_answer
    record, taken = await retrying_after_the_access_point_took_it(setup)
    await setup.until(record.id, sent_and("delivered-to-agency"), within=20)
    assert delivered(setup.simulator) == {taken: "peppol-bis:invoice:3.0"}
    assert setup.simulator.transmissions[taken].copies >= 2  # the retry came as a repeat


async def test_a_reroute_to_another_format_is_a_new_transmission(lost_answer: Setup) -> None:
    setup = lost_answer
    record, taken = await retrying_after_the_access_point_took_it(setup)
    service = setup.service
    assert service.store is not None
    assert service.validation is not None
    queued = await reroute(service.store, service.registry, service.validation, record.id,
                           actor="fatima", format_key="nlcius:invoice:1.0",
                           reason="the agency reads NLCIUS", config=service.config)
    assert (queued.channel, queued.transport_id) == ("peppol", None)
    sent = await setup.until(record.id, sent_and("delivered-to-agency"), within=20)
    assert sent.transport_id not in (None, taken)
    assert delivered(setup.simulator) == {taken: "peppol-bis:invoice:3.0",
                                          sent.transport_id: "nlcius:invoice:1.0"}
