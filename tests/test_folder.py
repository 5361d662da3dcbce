"""The folder channel: atomic outbound files, and an inbox moved to done/ or error/.

The inbox runs in the real gateway (store, inbound pipeline), so a refused
file is one the gateway really rejected, with its real reason beside it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, SUPPLIER_KVK, document_json

from gateway.channels import Accepted, ChannelContext, FinalError, OutboundMessage
from gateway.kinds import DocumentKind
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState
from plugins.folder.channel import FolderChannel


def message(payload: bytes = b"<Invoice>1</Invoice>") -> OutboundMessage:
    return OutboundMessage(message_id="01FOLDERTEST", agency_oin=AGENCY_OIN,
                           kind=DocumentKind.INVOICE, format_key="nlcius:invoice:1.0",
                           payload=payload, filename="F-9.xml")


async def test_outbound_files_appear_whole_and_a_retry_replaces_them(tmp_path: Path) -> None:
    channel = FolderChannel("folder", {"path": str(tmp_path / "out")})
    await channel.start(ChannelContext("folder"))
    first = await channel.send(message())
    again = await channel.send(message(b"<Invoice>2</Invoice>"))
    assert isinstance(first, Accepted)
    assert isinstance(again, Accepted)
    assert first.transport_id == again.transport_id == f"{AGENCY_OIN}/01FOLDERTEST-F-9.xml"
    agency_folder = tmp_path / "out" / AGENCY_OIN
    # Only the finished file: the temporary file was renamed, not left beside it.
    assert [p.name for p in agency_folder.iterdir()] == ["01FOLDERTEST-F-9.xml"]
    assert (agency_folder / "01FOLDERTEST-F-9.xml").read_bytes() == b"<Invoice>2</Invoice>"


async def test_a_file_where_the_folder_should_be_is_final(tmp_path: Path) -> None:
    blocker = tmp_path / "out"
    blocker.write_text("")
    channel = FolderChannel("folder", {"path": str(blocker)})
    await channel.start(ChannelContext("folder"))
    outcome = await channel.send(message())
    assert isinstance(outcome, FinalError)
    assert str(blocker) in outcome.reason


async def test_a_long_document_number_still_makes_a_file_name(tmp_path: Path) -> None:
    """File systems take 255 bytes a name: a long number must not fail every attempt."""
    channel = FolderChannel("folder", {"path": str(tmp_path / "out")})
    await channel.start(ChannelContext("folder"))
    long = attrs.evolve(message(), filename="F-" + "9" * 400 + ".xml")
    outcome = await channel.send(long)
    assert isinstance(outcome, Accepted)
    [written] = (tmp_path / "out" / AGENCY_OIN).iterdir()
    assert written.name.startswith("01FOLDERTEST-F-999")
    assert written.name.endswith(".xml")
    assert len(written.name) <= 255
    assert written.read_bytes() == b"<Invoice>1</Invoice>"


def test_a_channel_without_folders_is_refused() -> None:
    with pytest.raises(ValueError, match="set 'path'"):
        FolderChannel("folder", {})


def inbox_config(tmp_path: Path) -> Path:
    """A gateway whose folder channel ``drop`` reads ``data/inbox``, scanned when a test asks."""
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:0"
data_dir = {str(tmp_path / "data")!r}
database = "sqlite:///{tmp_path / 'gateway.db'}"
token = "test-token"

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.drop]
type = "folder"
inbox = "inbox"
poll_interval = 3600
""", "utf-8")
    return path


async def test_the_inbox_moves_files_to_done_or_error_with_the_reason(tmp_path: Path) -> None:
    service = GatewayService(inbox_config(tmp_path), make_plugin_manager())
    await service.start()
    try:
        inbox = tmp_path / "data" / "inbox"
        (inbox / "order.json").write_bytes(document_json(example_order()))
        (inbox / "garbage.xml").write_bytes(b"<NotADocument/>")
        (inbox / ".half-written.xml.tmp").write_bytes(b"<Ord")
        channel = service.channels["drop"]
        assert isinstance(channel, FolderChannel)
        # The watcher made its first scan at start; scan again until both are handled.
        for _ in range(100):
            await channel.scan_once()
            if not (inbox / "order.json").exists() and not (inbox / "garbage.xml").exists():
                break
            await asyncio.sleep(0.01)
        assert (inbox / "done" / "order.json").is_file()
        assert (inbox / "error" / "garbage.xml").read_bytes() == b"<NotADocument/>"
        reason = (inbox / "error" / "garbage.xml.error.txt").read_text()
        assert "rejected: detect:" in reason
        assert (inbox / ".half-written.xml.tmp").is_file()  # another writer's file: untouched
        assert service.store is not None
        page = await service.store.list_messages(channel="drop")
        states = sorted(r.transport_state.value for r in page.items)
        assert states == [TransportState.DECODED.value, TransportState.REJECTED.value]
    finally:
        await service.stop()
