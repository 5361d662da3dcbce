"""The folder inbox in a real gateway: files still being written, replaced, odd names.

Each test drives a real GatewayService (SQLite store, inbound pipeline) with a
folder channel whose watcher scans only at start; the test scans when it wants.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
from pipeline_support import document_json
from test_folder import inbox_config

from gateway.channels import InboundDocument
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState
from plugins.folder.channel import FolderChannel


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[GatewayService]:
    running = GatewayService(inbox_config(tmp_path), make_plugin_manager())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def folder_channel(service: GatewayService) -> FolderChannel:
    channel = service.channels["drop"]
    assert isinstance(channel, FolderChannel)
    return channel


async def scan_until_gone(channel: FolderChannel, path: Path) -> None:
    for _ in range(100):
        await channel.scan_once()
        if not await asyncio.to_thread(os.path.lexists, path):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path.name} was never taken")


async def states(service: GatewayService) -> list[str]:
    assert service.store is not None
    page = await service.store.list_messages(channel="drop")
    return sorted(r.transport_state.value for r in page.items)


async def test_files_still_move_after_an_operator_removed_done(
    service: GatewayService, tmp_path: Path,
) -> None:
    # Clearing done/ with rm -rf is what operators do; the next file must not stay in
    # the inbox, read and offered again at every scan.
    inbox = tmp_path / "data" / "inbox"
    shutil.rmtree(inbox / "done")
    (inbox / "order.json").write_bytes(document_json(example_order()))
    await scan_until_gone(folder_channel(service), inbox / "order.json")
    assert (inbox / "done" / "order.json").is_file()
    assert await states(service) == [TransportState.DECODED.value]


async def test_a_file_its_producer_is_still_writing_is_not_taken_half(
    service: GatewayService, tmp_path: Path,
) -> None:
    # An ERP (or scp) writing straight under the final name: the gateway must wait for
    # the whole file instead of storing and rejecting its first half.
    inbox = tmp_path / "data" / "inbox"
    whole = document_json(example_order())
    channel = folder_channel(service)
    with (inbox / "order.json").open("wb") as producer:
        producer.write(whole[:40])
        producer.flush()
        scan = asyncio.create_task(channel.scan_once())
        await asyncio.sleep(0.3)
        producer.write(whole[40:])
    await scan
    await scan_until_gone(channel, inbox / "order.json")
    assert (inbox / "done" / "order.json").read_bytes() == whole
    assert await states(service) == [TransportState.DECODED.value]


async def test_a_file_replaced_under_the_same_name_while_stored_is_read_too(
    service: GatewayService, tmp_path: Path,
) -> None:
    # The producer drops order.json again while the gateway is storing the first one:
    # the new file must not go to done/ unread.
    inbox = tmp_path / "data" / "inbox"
    channel = folder_channel(service)
    first = document_json(example_order())
    second = document_json(attrs.evolve(example_order(), number="ORDER-2"))
    assert channel._context is not None
    assert channel._context.inbound is not None
    sink = channel._context.inbound

    async def producer_drops_again(document: InboundDocument) -> str:
        message_id = await sink(document)
        if document.data == first:
            replacement = inbox / ".order.json.new"
            replacement.write_bytes(second)
            os.replace(replacement, inbox / "order.json")
        return message_id

    channel._context = attrs.evolve(channel._context, inbound=producer_drops_again)
    (inbox / "order.json").write_bytes(first)
    await scan_until_gone(channel, inbox / "order.json")
    assert await states(service) == [TransportState.DECODED.value] * 2
    # The first file's bytes are stored; on disk the producer replaced them.
    assert [p.read_bytes() for p in (inbox / "done").iterdir() if p.is_file()] == [second]


async def test_a_name_that_is_not_utf8_is_taken(service: GatewayService, tmp_path: Path) -> None:
    # A Windows share or an old ERP writes Latin-1 names: the file must not sit in the
    # inbox for ever, failing every scan.
    inbox = tmp_path / "data" / "inbox"
    name = os.fsdecode(b"bestelling-\xe9t\xe9.json")
    (inbox / name).write_bytes(document_json(example_order()))
    await scan_until_gone(folder_channel(service), inbox / name)
    assert (inbox / "done" / name).is_file()
    assert await states(service) == [TransportState.DECODED.value]


@pytest.mark.parametrize("name", ["order.json.part", "order.json.filepart", "order.json.tmp",
                                  "order.json~", "~order.json"])
async def test_a_producers_temporary_file_is_left_alone(
    service: GatewayService, tmp_path: Path, name: str,
) -> None:
    # WinSCP, browsers, editors and curl write under these names and rename when done.
    inbox = tmp_path / "data" / "inbox"
    (inbox / name).write_bytes(document_json(example_order())[:30])
    await folder_channel(service).scan_once()
    assert (inbox / name).is_file()
    assert await states(service) == []
