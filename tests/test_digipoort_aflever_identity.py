"""Our AfleverService takes deliveries from Digipoort's certificates only.

The CA in aflever_client_ca (PKIoverheid in production) also issues
certificates to other organisations, other suppliers among them; a request
names its own sender, so the CA alone would let any of them deliver an order
"from" any agency. Only a client certificate whose subject serialNumber is
in aflever_client_ids may deliver.
"""

from __future__ import annotations

import pytest
from digipoort_channel_support import AGENCY_OIN
from test_digipoort_inbound_aflever import (  # noqa: F401  (fixtures)
    bericht,
    digipoort,
    inbox,
    pki,
    standards,
    started,
    store,
)

from gateway.store import Store
from plugins.digipoort.wus.koppelvlak import AfleverResponse, WusFault, parse_as
from plugins.digipoort.wus.ns import AFLEVEREN
from plugins.digipoort.wus.pki import Pki


async def test_another_holder_of_a_certificate_from_the_ca_cannot_deliver(
        pki: Pki, store: Store) -> None:  # noqa: F811
    channel = await started(pki, store)
    assert channel.aflever is not None
    try:
        # Another organisation's certificate, issued by the same CA as Digipoort's.
        async with digipoort(pki, pki.supplier) as impostor:
            with pytest.raises(WusFault) as refused:
                await impostor.call(channel.aflever.url, AFLEVEREN,
                                    bericht("fake-0001").to_element())
        assert "00000003300972650000" in refused.value.foutbeschrijving
        assert await inbox(store) == [], f"stored an order 'from' {AGENCY_OIN} by a stranger"
        # Digipoort itself still delivers.
        async with digipoort(pki) as client:
            answer = await client.call(channel.aflever.url, AFLEVEREN, bericht().to_element())
        assert parse_as(answer, AfleverResponse).kenmerk == "dgp-0001"
        assert await inbox(store) == ["dgp-0001"]
    finally:
        await channel.stop()
