"""Channel settings in seconds: a wrong value is refused naming the channel and the key,
and the folder inbox's settle time is a setting.

A poll interval of 0 or less spun the event loop (asyncio.sleep returns at once), and
text failed with float()'s words, naming neither channel nor key.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import document_json

from gateway.channels import ChannelContext, InboundDocument
from gateway.model.samples import example_order
from plugins.email.channel import EmailChannel
from plugins.folder.channel import SETTLE_SECONDS, FolderChannel
from plugins.peppol.channel import PeppolChannel

EMAIL = {"smtp_host": "127.0.0.1", "sender": "gateway@supplier.example", "security": "none"}
PEPPOL = {"outbox_dir": "out"}
FOLDER = {"inbox": "in"}


@pytest.mark.parametrize(("make", "base", "key"), [
    (FolderChannel, FOLDER, "poll_interval"),
    (FolderChannel, FOLDER, "settle"),
    (EmailChannel, EMAIL, "poll_interval"),
    (EmailChannel, EMAIL, "timeout"),
    (PeppolChannel, PEPPOL, "poll_interval"),
    (PeppolChannel, PEPPOL, "timeout"),
    (PeppolChannel, PEPPOL, "receipt_deadline"),
])
@pytest.mark.parametrize("value", [-1, "2", float("inf"), float("nan"), True])
def test_a_wrong_number_of_seconds_names_channel_and_key(
    make: Any, base: dict[str, Any], key: str, value: object,
) -> None:
    with pytest.raises(ValueError, match=f"channel 'ch1': {key} must be a number of seconds"):
        make("ch1", {**base, key: value})


@pytest.mark.parametrize(("make", "base", "key"), [
    (FolderChannel, FOLDER, "poll_interval"),
    (EmailChannel, EMAIL, "poll_interval"),
    (PeppolChannel, PEPPOL, "poll_interval"),
])
def test_a_poll_interval_of_zero_is_refused(make: Any, base: dict[str, Any], key: str) -> None:
    with pytest.raises(ValueError, match="more than 0"):
        make("ch1", {**base, key: 0})


def test_seconds_take_whole_numbers_and_fractions() -> None:
    channel = FolderChannel("drop", {**FOLDER, "poll_interval": 5, "settle": 0.25})
    assert (channel.poll_interval, channel.settle) == (5.0, 0.25)
    assert FolderChannel("drop", FOLDER).settle == SETTLE_SECONDS
    assert FolderChannel("drop", {**FOLDER, "settle": 0}).settle == 0


class Collected:
    def __init__(self) -> None:
        self.documents: list[InboundDocument] = []

    async def __call__(self, document: InboundDocument) -> str:
        self.documents.append(document)
        return f"message-{len(self.documents)}"


async def _scan_fresh_file(tmp_path: Path, settle: float) -> tuple[float, int]:
    """Seconds one scan took over a file written just now, and documents handed over."""
    channel = FolderChannel("drop", {"inbox": "in", "poll_interval": 3600, "settle": settle})
    sink = Collected()
    await channel.start(ChannelContext("drop", inbound=sink, data_dir=str(tmp_path)))
    await asyncio.sleep(0.2)  # the watcher's scan at start, of the empty inbox: then an hour
    try:
        (tmp_path / "in" / "order.json").write_bytes(document_json(example_order()))
        began = time.monotonic()
        await channel.scan_once()
        return time.monotonic() - began, len(sink.documents)
    finally:
        await channel.stop()


async def test_the_settle_time_is_how_long_a_fresh_file_waits(tmp_path: Path) -> None:
    waited, taken = await _scan_fresh_file(tmp_path / "zero", 0)
    assert taken == 1
    assert waited < SETTLE_SECONDS / 2  # taken at once: the producer renames finished files

    waited, taken = await _scan_fresh_file(tmp_path / "longer", 1.6)
    assert taken == 1
    assert waited >= 1.5  # beyond the default of 1 s


async def test_a_file_still_growing_within_a_long_settle_time_is_left(tmp_path: Path) -> None:
    channel = FolderChannel("drop", {"inbox": "in", "poll_interval": 3600, "settle": 1.5})
    sink = Collected()
    await channel.start(ChannelContext("drop", inbound=sink, data_dir=str(tmp_path)))
    await asyncio.sleep(0.2)  # the watcher's scan at start, of the empty inbox: then an hour
    try:
        whole = document_json(example_order())
        with (tmp_path / "in" / "order.json").open("wb") as producer:
            producer.write(whole[:40])
            producer.flush()
            scan = asyncio.create_task(channel.scan_once())
            # Past the default settle time, within this one: a pause of a slow producer.
            await asyncio.sleep(1.2)
            producer.write(whole[40:])
        await scan
        assert sink.documents == []
        assert (tmp_path / "in" / "order.json").read_bytes() == whole
    finally:
        await channel.stop()


@pytest.mark.parametrize("port", ["25", 0, 70000, 2.5])
def test_a_wrong_smtp_port_names_channel_and_key(port: object) -> None:
    with pytest.raises(ValueError, match=r"channel 'ch1': smtp_port = .* a port number"):
        EmailChannel("ch1", {**EMAIL, "smtp_port": port})
