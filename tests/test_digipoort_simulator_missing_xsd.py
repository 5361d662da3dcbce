"""A server that checks koppelvlak bodies (the simulator, our AfleverService) without the
XSD installed answers with a fault naming the file and the install command.

The missing XSD is a StandardsError (the contract kit skips a channel for it); it
must stay a KoppelvlakError too, or it escapes WusEndpoint.read and the caller gets
a bare HTTP 500, which a channel takes for a passing transport error."""

from __future__ import annotations

from typing import Any

import pytest
from test_digipoort_simulator import (  # noqa: F401 - fixtures
    _client,
    _standards,
    _submit,
    invoice,
    pki_dir,
    registry,
    sim,
)

from plugins.digipoort.simulator import DigipoortSimulator
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import server
from plugins.digipoort.wus.client import WusTransportError


async def test_a_missing_xsd_on_the_server_side_is_a_fault_not_a_500(
    sim: DigipoortSimulator, invoice: bytes, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    def missing(element: Any) -> None:  # what schema() raises once the file is gone
        raise kv.KoppelvlakXsdMissing("koppelvlak XSD not found at /x; run `gateway "
                                      "standards install --from DIR`")

    monkeypatch.setattr(server, "validate", missing)
    async with _client(sim) as client:
        try:
            await _submit(client, sim, invoice)
        except WusTransportError as exc:
            pytest.fail(f"the caller got a transport error, not the reason: {exc}")
        except Exception:
            pass  # a SOAP fault naming the missing XSD, as before
