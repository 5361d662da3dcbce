"""The running gateway: health endpoint, channels, the inbound pipeline, `gateway status`."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import aiohttp
import pytest

from gateway.channels import InboundDocument
from gateway.client import GatewayClient, GatewayUnreachable
from gateway.errors import GatewayError
from gateway.kinds import Direction
from gateway.service import GatewayService
from gateway.store import TransportState

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"


def _config(tmp_path: Path, extra: str = "") -> Path:
    text = EXAMPLE.read_text("utf-8").replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    path = tmp_path / "gateway.toml"
    path.write_text(text + extra, "utf-8")
    return path


async def test_health_answers_and_reports_what_is_missing(tmp_path: Path) -> None:
    service = GatewayService(_config(tmp_path))
    await service.start()
    try:
        assert service.address is not None
        host, port = service.address
        async with aiohttp.ClientSession() as session, session.get(
            f"http://{host}:{port}/health"
        ) as response:
            assert response.status == 200
            report = await response.json()
        assert report["config"]["file"].endswith("gateway.toml")
        assert report["channels"]["folder"] == "running"
        # The example routes to channels whose plugins arrive with later work;
        # the gateway runs degraded and says exactly what is missing.
        if report["status"] == "degraded":
            assert report["problems"], report
            assert all(isinstance(p, str) and p for p in report["problems"])
        else:
            assert report["status"] == "ok"
            assert report["problems"] == []
    finally:
        await service.stop()


async def test_health_names_the_configuration_file_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `gateway --config gateway.toml run` showed "gateway.toml": useless to an operator
    # reading /health, or `gateway status`, from any other directory.
    _config(tmp_path)
    monkeypatch.chdir(tmp_path)
    service = GatewayService(Path("gateway.toml"))
    await service.start()
    try:
        monkeypatch.chdir(tmp_path.parent)
        report = await service.health()
    finally:
        await service.stop()
    assert report["config"]["file"] == str(tmp_path / "gateway.toml")


async def test_inbound_documents_are_stored_before_the_sink_returns(tmp_path: Path) -> None:
    service = GatewayService(_config(tmp_path))
    await service.start()
    try:
        message_id = await service.receive(
            InboundDocument(data=b"<Order/>", channel="folder", transport_id="t-1")
        )
        assert service.store is not None
        stored = await service.store.get(message_id)
        assert stored is not None
        assert (stored.raw_payload, stored.channel, stored.transport_id) == (
            b"<Order/>", "folder", "t-1")
        # No installed format reads a bare <Order/>: kept, and rejected with the reason.
        assert stored.transport_state is TransportState.REJECTED
        assert stored.last_error is not None
        assert "detect" in stored.last_error
        report = await service.health()
        assert report["messages"] == {"inbound": {"rejected": 1}}
    finally:
        await service.stop()


async def test_receiving_before_start_is_refused(tmp_path: Path) -> None:
    service = GatewayService(_config(tmp_path))
    with pytest.raises(GatewayError, match="not started"):
        await service.receive(InboundDocument(data=b"<Order/>", channel="folder"))


async def test_folder_inbox_reaches_the_store(tmp_path: Path) -> None:
    inbox = tmp_path / "erp-in"
    config = _config(tmp_path).read_text("utf-8")
    config = config.replace("[channels.folder]", f"[channels.folder]\ninbox = {str(inbox)!r}\n"
                            "poll_interval = 0.05", 1)
    path = tmp_path / "gateway.toml"
    path.write_text(config, "utf-8")
    service = GatewayService(path)
    await service.start()
    try:
        inbox.mkdir(exist_ok=True)
        # Not a document any format reads: kept in the store all the same, and the
        # file moves to error/ with the reason beside it rather than to done/.
        (inbox / "order-1.xml").write_bytes(b"<Order>1</Order>")
        for _ in range(100):
            if (inbox / "error" / "order-1.xml").exists():
                break
            await asyncio.sleep(0.05)
        assert (inbox / "error" / "order-1.xml").exists()
        assert not (inbox / "done" / "order-1.xml").exists()
        reason = (inbox / "error" / "order-1.xml.error.txt").read_text("utf-8")
        assert "detect" in reason
        assert service.store is not None
        page = await service.store.list_messages(direction=Direction.INBOUND)
        [stored] = page.items
        assert stored.raw_payload == b"<Order>1</Order>"
        assert stored.transport_state == "rejected"
        [received, *_] = await service.store.events(stored.id)
        assert received.detail["filename"] == "order-1.xml"
    finally:
        await service.stop()


async def test_status_command_finds_the_gateway_through_the_config(tmp_path: Path) -> None:
    from gateway.config import load_config

    service = GatewayService(_config(tmp_path))
    await service.start()
    try:
        assert service.address is not None
        config = load_config(service.config_path)
        client = GatewayClient(f"http://127.0.0.1:{service.address[1]}",
                               config.gateway.api_token())
        report = await asyncio.to_thread(client.get_json, "/health")
        assert report["version"]
    finally:
        await service.stop()
    with pytest.raises(GatewayUnreachable, match="no gateway answers"):
        await asyncio.to_thread(client.get_json, "/health")


def test_make_run_entry_point_exists() -> None:
    assert shutil.which("gateway") or (Path(__file__).parents[1] / ".venv/bin/gateway").exists()


async def test_health_shows_a_refused_config_edit(tmp_path: Path) -> None:
    path = _config(tmp_path)
    service = GatewayService(path)
    service.config_holder.check_interval = 0
    path.write_text(path.read_text("utf-8").replace('kvk = "30097265"', 'kvk = "12"'), "utf-8")
    report = await service.health()
    assert report["config"]["version"] == 1
    assert "configuration edit not applied" in report["problems"][0]
    assert "kvk" in report["problems"][0]
