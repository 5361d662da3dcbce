"""The same business key submitted again, even many times at once, is the message already stored."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from reliability_support import AGENCY_OIN, TOKEN, gateway_config, invoice_json

from gateway.kinds import Direction
from gateway.pipeline import DispatchSettings
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState

TIMES = 12


async def post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, Any, str]:
    async with session.post(url, data=body) as response:
        return (response.status, await response.json(),
                response.headers.get("Wissel-Duplicate", ""))


async def test_duplicate_submissions_answer_the_stored_message(
    store_url: str, tmp_path: Path,
) -> None:
    # No dispatch workers: the message stays queued, so every answer can be compared.
    config = gateway_config(tmp_path, store_url, record=tmp_path / "received.jsonl")
    service = GatewayService(config, make_plugin_manager(), dispatch=DispatchSettings(workers=0))
    await service.start()
    try:
        assert service.address is not None
        assert service.store is not None
        url = f"http://{service.address[0]}:{service.address[1]}/api/v1/outbound/{AGENCY_OIN}"
        async with aiohttp.ClientSession(headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
        }) as session:
            # All at once: the requests race each other into the store.
            answers = await asyncio.gather(*(post(session, url, invoice_json(7))
                                             for _ in range(TIMES)))
            statuses = sorted(status for status, _, _ in answers)
            assert statuses == [200] * (TIMES - 1) + [202]
            ids = {body["id"] for _, body, _ in answers}
            assert len(ids) == 1
            assert sorted(flag for _, _, flag in answers) == [""] + ["true"] * (TIMES - 1)
            [message_id] = ids

            # Later, on its own, still the same message.
            stored = await service.store.get(message_id)
            assert stored is not None
            assert stored.business_key is not None
            status, body, flag = await post(session, url, invoice_json(7))
            assert (status, body["id"], flag) == (200, message_id, "true")
            assert body["business_key"] == stored.business_key
            assert body["transport_state"] == TransportState.QUEUED.value

        matches = await service.store.list_messages(
            direction=Direction.OUTBOUND, business_key=stored.business_key)
        assert [m.id for m in matches.items] == [message_id]
        assert await service.store.count_by_state() == {"outbound": {"queued": 1}}
    finally:
        await service.stop()
