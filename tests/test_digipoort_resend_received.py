"""Digipoort: a resend of a message whose process has only been received (status 100) is kept.

Status 100 ("Aanleveren gelukt", domain.md 3.4) says Digipoort has the
document and nothing more yet. A resend that meets it must not make a second
process (a second invoice at the agency): the message keeps its kenmerk and
the poller goes on asking. The simulator (real TLS and WS-Security) holds the
process at 100 by taking its time over the next status.
"""

from __future__ import annotations

import attrs
from digipoort_channel_support import invoice_19, pki, standards
from test_digipoort_resend_and_deadline import MESSAGE, started

from gateway.channels import Accepted
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.pki import Pki

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here


async def test_a_resend_of_a_process_digipoort_has_only_received_is_not_submitted_again(
        pki: Pki) -> None:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder,
                                                    step_delay=60)) as simulator:
        channel, _desk = await started(pki, simulator)
        try:
            first = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19()))
            assert isinstance(first, Accepted), first
            assert simulator.process(first.transport_id).codes[-1] == "100"
            again = await channel.send(attrs.evolve(MESSAGE, payload=invoice_19(),
                                                    transport_id=first.transport_id,
                                                    attempt=2))
        finally:
            await channel.stop()
        assert isinstance(again, Accepted), again
        assert again.transport_id == first.transport_id
        assert "status 100" in again.detail
        assert "not submitted again" in again.detail
        assert len(simulator.processes()) == 1
