"""Structured logs: every pipeline record names its message, no secret or payload is written."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from delivery_support import SECRET, SECRET_ENV, FakeErp
from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text, document_json

from gateway.channels import InboundDocument
from gateway.logs import JsonFormatter, TextFormatter, default_format, setup_logging
from gateway.model.samples import example_invoice, example_order
from gateway.pipeline import DocumentRejected
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import Store, TransportState

TOKEN = "api-token-7c2e9b"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Everything logged, as `gateway run --log-format json` writes it, without redaction:
    the code itself must not log secrets; redaction is only the last guard."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def state(store: Store, message_id: str, wanted: TransportState) -> None:
    for _ in range(500):
        record = await store.get(message_id)
        assert record is not None
        if record.transport_state is wanted:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{message_id} never became {wanted}")


async def test_a_run_logs_message_ids_and_no_secret_or_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, captured: io.StringIO,
) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("WISSEL_TEST_TOKEN", TOKEN)
    erp = FakeErp()
    await erp.start()
    path = tmp_path / "gateway.toml"
    text = config_text(tmp_path, database=f"sqlite:///{tmp_path / 'gateway.db'}").replace(
        'token = "test-token"', 'token_env = "WISSEL_TEST_TOKEN"')
    path.write_text(text + f"""
[erp]
delivery = "webhook"
webhook_url = "{erp.url}"
webhook_secret_env = "{SECRET_ENV}"
max_attempts = 2
""", "utf-8")
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    await service.start()
    try:
        assert service.outbound is not None
        assert service.store is not None
        invoice = document_json(example_invoice())
        record, _ = await service.outbound.submit(invoice, agency_oin=AGENCY_OIN)
        await state(service.store, record.id, TransportState.SENT)
        with pytest.raises(DocumentRejected):
            await service.outbound.submit(b'{"document": "invoice"}', agency_oin=AGENCY_OIN)
        order = document_json(example_order())
        delivered = await service.receive(InboundDocument(order, "folder", "o-1"))
        await state(service.store, delivered, TransportState.DELIVERED)
        erp.always = 400
        refused = await service.receive(InboundDocument(
            document_json(attrs.evolve(example_order(), number="PO-2")), "folder", "o-2"))
        await state(service.store, refused, TransportState.FAILED)
        await service.receive(InboundDocument(b"<not-a-known-document/>", "folder", "x-1"))
    finally:
        await service.stop()
        await erp.stop()

    output = captured.getvalue()
    assert SECRET not in output
    assert TOKEN not in output
    assert invoice.decode() not in output
    assert order.decode() not in output
    records = [json.loads(line) for line in output.splitlines()]
    pipeline = [r for r in records
                if r["logger"].startswith(("gateway.pipeline", "gateway.delivery"))]
    assert [r for r in pipeline if "message_id" not in r] == []
    messages = {r["message"] for r in pipeline}
    assert {"outbound message queued", "outbound document rejected",
            "delivered to the ERP by webhook"} <= messages
    assert any(m.startswith("sent over recorder") for m in messages)
    assert any(m.startswith("dead-lettered: the ERP answered HTTP 400") for m in messages)
    assert any(m.startswith("inbound document rejected at detect") for m in messages)
    by_id = {r["message_id"] for r in pipeline}
    assert {record.id, delivered, refused} <= by_id


def test_a_secret_that_slips_into_a_line_is_replaced_and_long_text_is_cut() -> None:
    record = logging.LogRecord("gateway.pipeline.x", logging.WARNING, __file__, 1,
                               "webhook failed with %s and %s", (SECRET, "x" * 5000), None)
    record.message_id = "01ABC"
    for formatter in (JsonFormatter(lambda: [SECRET, None]),
                      TextFormatter(lambda: [SECRET, None])):
        line = formatter.format(record)
        assert SECRET not in line
        assert "[redacted]" in line
        assert "01ABC" in line
        assert len(line) < 2500
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message_id"] == "01ABC"
    assert entry["level"] == "WARNING"


def test_json_unless_a_terminal_and_setup_writes_the_chosen_format() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert default_format(io.StringIO()) == "json"
    assert default_format(Terminal()) == "text"
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        setup_logging("INFO", None, stream=out)
        logging.getLogger("gateway.test").info("hello", extra={"message_id": "01XYZ"})
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    entry = json.loads(out.getvalue())
    assert (entry["message"], entry["message_id"], entry["logger"]) == (
        "hello", "01XYZ", "gateway.test")
