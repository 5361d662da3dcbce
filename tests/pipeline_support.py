"""What the pipeline tests share: a scriptable channel, a gateway config, a wired pipeline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from gateway.channels import (
    Accepted,
    Channel,
    ChannelContext,
    ChannelType,
    OutboundMessage,
    SendOutcome,
)
from gateway.config import GatewayConfig, parse_config
from gateway.hookspecs import hookimpl
from gateway.model import CanonicalDocument
from gateway.model.json import to_json
from gateway.pipeline import (
    Dispatcher,
    DispatchSettings,
    InboundPipeline,
    OutboundPipeline,
)
from gateway.pipeline.validating import DocumentValidator
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.store import MessageRecord, Store, TransportState
from gateway.validation.report import ValidationReport

AGENCY_OIN = "00000001003227522000"  # the buyer of the sample documents
OTHER_OIN = "00000001003214345000"
SUPPLIER_KVK = "30097265"

FAST = DispatchSettings(
    workers=2, lease=timedelta(seconds=30), idle_poll=0.02,
    backoff_base=timedelta(milliseconds=20), backoff_cap=timedelta(milliseconds=80),
    quick_tries=1, quick_wait=0.01, quick_budget=0.2, stop_grace=1.0,
)


class RecordingChannel(Channel):
    """Remembers every message; answers from ``script`` while it lasts, then accepts.

    A script entry is an outcome to return or an exception to raise. ``hold``
    makes ``send`` wait until it is set, for tests that stop mid-send;
    ``delay`` makes every send take that many seconds, as a slow transport does.
    """

    type_name = "recorder"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.script: list[SendOutcome | Exception] = []
        self.calls: list[OutboundMessage] = []
        self.hold: asyncio.Event | None = None
        self.delay = 0.0

    async def send(self, message: OutboundMessage) -> SendOutcome:
        self.calls.append(message)
        if self.hold is not None:
            await self.hold.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            return step
        return Accepted(message.transport_id or f"rec-{message.message_id}", detail="recorded")


class RecorderPlugin:
    """Registers the recording channel type and keeps the instances the core builds."""

    def __init__(self) -> None:
        self.instances: dict[str, RecordingChannel] = {}

    @hookimpl
    def register_channels(self, registry: Registry) -> None:
        def factory(name: str, settings: Mapping[str, Any]) -> Channel:
            channel = RecordingChannel(name, settings)
            self.instances[name] = channel
            return channel

        registry.add_channel(ChannelType("recorder", factory, "records sends for tests"))


def registry_with_recorder() -> tuple[Registry, RecorderPlugin]:
    plugin = RecorderPlugin()
    pm = make_plugin_manager(plugins=[("recorder", plugin)])
    return build_registry(pm), plugin


def config_text(
    tmp_path: Path, *, database: str | None = None, invoice_format: str = "canonical:invoice:1",
    order_response_format: str = "canonical:order-response:1", supplier_number: str | None = None,
    invoice_fallback: str | None = None, credit_note_format: str = "canonical:credit-note:1",
    credit_note_channel: str = "folder", agency_settings: str = "",
) -> str:
    database_line = f"database = {database!r}\n" if database else ""
    number_line = f"supplier_number = {supplier_number!r}\n" if supplier_number else ""
    fallback_line = f"fallback_channel = {invoice_fallback!r}\n" if invoice_fallback else ""
    return f"""
[gateway]
listen = "127.0.0.1:0"
data_dir = {str(tmp_path / "data")!r}
token = "test-token"
{database_line}
[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.recorder]

[channels.folder]
path = {str(tmp_path / "out")!r}

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "recorder"
{number_line}{agency_settings}
[agencies."{AGENCY_OIN}".documents.invoice]
format = "{invoice_format}"
{fallback_line}
[agencies."{AGENCY_OIN}".documents.credit-note]
channel = "{credit_note_channel}"
format = "{credit_note_format}"

[agencies."{AGENCY_OIN}".documents.order-response]
format = "{order_response_format}"

[agencies."{OTHER_OIN}"]
name = "Ministerie van BZK"
default_channel = "recorder"

[agencies."{OTHER_OIN}".documents.invoice]
format = "canonical:invoice:1"
"""


def make_config(tmp_path: Path, **options: Any) -> GatewayConfig:
    return parse_config(config_text(tmp_path, **options), tmp_path / "gateway.toml")


class NoValidation:
    """A validator for formats without layers: it must never be asked."""

    async def validate(self, data: bytes, layers: Any, format_key: str | None = None,
                       ) -> ValidationReport:
        raise AssertionError("validation was started for a format without layers")


def document_json(document: CanonicalDocument) -> bytes:
    return json.dumps(to_json(document)).encode()


@attrs.define
class Pipeline:
    """The outbound and inbound pipeline and a dispatcher on one store, with live channels."""

    store: Store
    registry: Registry
    config: GatewayConfig
    recorder: RecordingChannel
    channels: dict[str, Channel]
    outbound: OutboundPipeline
    inbound: InboundPipeline
    dispatcher: Dispatcher

    async def submit(self, document: CanonicalDocument | bytes,
                     agency_oin: str = AGENCY_OIN) -> MessageRecord:
        data = document if isinstance(document, bytes) else document_json(document)
        record, created = await self.outbound.submit(data, agency_oin=agency_oin)
        assert created
        return record

    async def until(
        self, message_id: str, states: Collection[TransportState], *, within: float = 5.0,
    ) -> MessageRecord:
        """Dispatch what is due until the message is in one of ``states``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            record = await self.store.get(message_id)
            assert record is not None
            if record.transport_state in states:
                return record
            if loop.time() > deadline:
                raise AssertionError(f"message stayed {record.transport_state}: {record}")
            if not await self.dispatcher.run_once():
                await asyncio.sleep(0.01)


async def make_pipeline(
    store: Store, tmp_path: Path, *, settings: DispatchSettings = FAST,
    validator: DocumentValidator | None = None, **config_options: Any,
) -> Pipeline:
    registry, _ = registry_with_recorder()
    config = make_config(tmp_path, **config_options)
    recorder = RecordingChannel("recorder", {})
    folder = registry.channel_type("folder").factory(
        "folder", config.channels["folder"].settings)
    await folder.start(ChannelContext("folder"))
    channels: dict[str, Channel] = {"recorder": recorder, "folder": folder}
    return Pipeline(
        store=store, registry=registry, config=config, recorder=recorder, channels=channels,
        outbound=OutboundPipeline(store, lambda: config, registry, validator or NoValidation()),
        inbound=InboundPipeline(store, registry),
        dispatcher=Dispatcher(store, channels, registry, settings, instance="test"),
    )
