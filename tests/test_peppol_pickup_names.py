"""The simulated access point names a picked-up file's receipt as the channel looks for it.

The instance id is the sender's text. The channel names the SBDH file and
looks for the receipt under a cleaned-up form of it; the simulator wrote
the receipt under the raw id, so an id with a slash wrote outside the
receipts folder (or failed) and one with a space was never found.
"""

from __future__ import annotations

import json
from pathlib import Path

from gateway.identifiers import PeppolParticipantId
from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.peppol.channel import file_stem
from plugins.peppol.sbdh import wrap
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings

SUPPLIER = PeppolParticipantId.parse("0106:30097265")
AGENCY = PeppolParticipantId.parse("0190:00000001003227522000")


def invoice() -> bytes:
    fmt = build_registry(make_plugin_manager()).format("peppol-bis:invoice:3.0")
    first = fmt.samples()[0]
    return first.data if first.data is not None else fmt.encode(first.document, first.context)


async def test_a_receipt_lands_in_the_folder_under_the_channels_name_for_it(
    tmp_path: Path, installed_standards: Path,
) -> None:
    outbox, receipts = tmp_path / "ap" / "outbox", tmp_path / "ap" / "receipts"
    outbox.mkdir(parents=True)
    receipts.mkdir()
    ids = ["batch 7/../escape", "plain-id.1"]
    for ident in ids:
        _, data = wrap(invoice(), sender=SUPPLIER, receiver=AGENCY, instance_id=ident)
        (outbox / f"{file_stem(ident)}.xml").write_bytes(data)
    simulator = PeppolSimulator(SimulatorSettings(
        listen="127.0.0.1:0", pickup_dir=outbox, receipts_dir=receipts,
        standards=installed_standards))
    assert await simulator.scan_pickup() == 2
    written = sorted(p.name for p in receipts.iterdir())
    assert written == sorted(f"{file_stem(ident)}.json" for ident in ids)
    assert "batch_7_.._escape.json" in written
    for ident in ids:
        receipt = json.loads((receipts / f"{file_stem(ident)}.json").read_bytes())
        assert receipt["status"] == "delivered", receipt
    assert not (tmp_path / "ap" / "escape.json").exists()
