"""A webhook URL's password stays out of what a failed delivery stores (last error, timeline)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from delivery_support import SECRET, SECRET_ENV
from pipeline_support import FAST, RecorderPlugin, config_text, document_json

from gateway.channels import InboundDocument
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState

PASSWORD = "erp-basic-pw-93kd"


async def test_a_webhook_password_is_not_stored_in_the_last_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path, database=f"sqlite:///{tmp_path / 'gateway.db'}") + f"""
[erp]
delivery = "webhook"
webhook_url = "http://erp:{PASSWORD}@127.0.0.1:99999/hook"
webhook_secret_env = "{SECRET_ENV}"
max_attempts = 1
""", "utf-8")
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    await service.start()
    try:
        assert service.store is not None
        message_id = await service.receive(
            InboundDocument(document_json(example_order()), "folder", "o-1"))
        for _ in range(500):
            record = await service.store.get(message_id)
            assert record is not None
            if record.transport_state is TransportState.FAILED:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the delivery never failed")
        events = await service.store.events(message_id)
    finally:
        await service.stop()
    assert "cannot reach the ERP webhook" in (record.last_error or "")
    assert PASSWORD not in (record.last_error or "")
    assert PASSWORD not in str([e.detail for e in events])
