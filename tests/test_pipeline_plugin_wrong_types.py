"""A format plugin that gives the wrong type is refused, naming the format and its plugin.

A format plugin's encode failing is that document's rejection (stored, with the
reason); an encode that returned text instead went on to validation and the
store: SQLite kept the text as the payload, PostgreSQL failed and the ERP got a
500 with the reason only in the gateway's log. An operator's reroute encodes
too, and refuses it the same way. Inbound, a decode that gives no Decoded
rejects the message with the same kind of reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipeline_support import (
    AGENCY_OIN,
    NoValidation,
    RecorderPlugin,
    document_json,
    make_config,
    make_pipeline,
)

from gateway.channels import FinalError, InboundDocument
from gateway.formats import Decoded, Detection, EncodeContext, Format
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from gateway.model.samples import example_invoice, example_order
from gateway.pipeline import (
    DocumentRejected,
    InboundPipeline,
    OperatorActionError,
    OutboundPipeline,
)
from gateway.pipeline.operator import reroute
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.sniff import Sniffed
from gateway.store import Store, TransportState


class TextFormat(Format):
    key = "textual:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.OUTBOUND})
    description = "writes str where bytes are due"

    def detect(self, doc: Sniffed) -> Detection:
        return Detection.NO

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        return f"<textual>{document.number}</textual>"  # type: ignore[return-value]

    def decode(self, data: bytes) -> Decoded:
        raise AssertionError("never asked")


class TextPlugin:
    @hookimpl
    def register_formats(self, registry: Registry) -> None:
        registry.add_format(TextFormat())


def _registry() -> Registry:
    return build_registry(make_plugin_manager(
        plugins=[("recorder", RecorderPlugin()), ("textual", TextPlugin())]))


async def test_an_encoder_giving_text_rejects_the_document(store: Store, tmp_path: Path) -> None:
    registry = _registry()
    config = make_config(tmp_path, invoice_format=TextFormat.key)
    outbound = OutboundPipeline(store, lambda: config, registry, NoValidation())
    rejected = r"textual:invoice:1 .*gave str, not bytes"
    with pytest.raises(DocumentRejected, match=rejected) as caught:
        await outbound.submit(document_json(example_invoice()), agency_oin=AGENCY_OIN)
    assert caught.value.message_id is not None
    record = await store.get(caught.value.message_id)
    assert record is not None
    assert record.transport_state is TransportState.REJECTED


async def test_a_reroute_to_an_encoder_giving_text_is_refused(store: Store, tmp_path: Path) -> None:
    pipe = await make_pipeline(store, tmp_path)
    pipe.recorder.script = [FinalError("agency down")]
    record = await pipe.submit(example_invoice())
    await pipe.until(record.id, {TransportState.FAILED})
    with pytest.raises(OperatorActionError, match=r"textual:invoice:1 gave str, not bytes"):
        await reroute(store, _registry(), NoValidation(), record.id, actor="fatima",
                      config=pipe.config, format_key=TextFormat.key, reason="try text")
    kept = await store.get(record.id)
    assert kept is not None
    assert kept.raw_payload == record.raw_payload


class BareDecoderFormat(TextFormat):
    """Detects its own root and decodes to the document itself, not a Decoded."""

    key = "bare:order:1"
    kind = DocumentKind.ORDER
    directions = frozenset({Direction.INBOUND})
    description = "returns the document where a Decoded is due"

    def detect(self, doc: Sniffed) -> Detection:
        return Detection.MATCH if doc.root_name == "bare-order" else Detection.NO

    def decode(self, data: bytes) -> Decoded:
        return example_order()  # type: ignore[return-value]


class BarePlugin:
    @hookimpl
    def register_formats(self, registry: Registry) -> None:
        registry.add_format(BareDecoderFormat())


async def test_a_decoder_giving_no_decoded_rejects_naming_the_plugin(store: Store) -> None:
    # The inbound pipeline read decoded.document and refused the message with an
    # AttributeError's words; the reason now says what the plugin did wrong.
    registry = build_registry(make_plugin_manager(plugins=[("bare", BarePlugin())]))
    inbound = InboundPipeline(store, registry)
    data = b"<bare-order>PO-1</bare-order>"
    message_id = await inbound.receive(InboundDocument(data=data, channel="folder",
                                                       transport_id="t-bare"))
    record = await store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.REJECTED
    assert record.last_error is not None
    assert "bare:order:1: decode gave Order, not a gateway.formats.Decoded" in record.last_error
    assert "a bug in its plugin (bare)" in record.last_error
