"""The SBDH check and the Peppol simulator refuse a document type id of another UBL version."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.identifiers import PeppolParticipantId
from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.peppol.sbdh import SBDHError, unwrap, wrap
from plugins.peppol.simulator import PeppolSimulator, SimulatorSettings

REGISTRY = build_registry(make_plugin_manager())
SUPPLIER = PeppolParticipantId.parse("0106:30097265")
AGENCY = PeppolParticipantId.parse("0190:00000001003227522000")


def sample(key: str) -> bytes:
    fmt = REGISTRY.format(key)
    first = fmt.samples()[0]
    return first.data if first.data is not None else fmt.encode(first.document, first.context)


def _retyped(version: str) -> bytes:
    """A valid BIS 3 invoice whose SBDH claims UBL ``version`` instead of 2.1, consistently."""
    _, data = wrap(sample("peppol-bis:invoice:3.0"), sender=SUPPLIER, receiver=AGENCY)
    text = data.decode()
    assert "<TypeVersion>2.1</TypeVersion>" in text
    assert "::2.1</InstanceIdentifier>" in text
    text = text.replace("<TypeVersion>2.1</TypeVersion>", f"<TypeVersion>{version}</TypeVersion>")
    text = text.replace("::2.1</InstanceIdentifier>", f"::{version}</InstanceIdentifier>")
    return text.encode()


def test_document_type_id_must_end_in_the_payloads_ubl_version() -> None:
    """domain.md 2.4: the Peppol doc type id is <root ns>::<root>##<CustomizationID>::2.1.

    unwrap takes the version from the header's own TypeVersion and then checks the header's
    DOCUMENTID against it: a header saying 2.0 in both places is believed.
    """
    with pytest.raises(SBDHError):
        unwrap(_retyped("2.0"))


async def test_simulator_refuses_a_document_type_no_access_point_serves(
        installed_standards: Path) -> None:
    sim = PeppolSimulator(SimulatorSettings(listen="127.0.0.1:0", standards=installed_standards,
                                            validate=False), registry=REGISTRY)
    await sim.start()
    try:
        with pytest.raises(SBDHError):
            await sim.take(_retyped("9.9"), wait=True)
    finally:
        await sim.stop()
