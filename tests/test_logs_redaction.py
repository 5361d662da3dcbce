"""The log guards: URL passwords (in the log and in what a failed delivery stores), payloads
in exception texts, secrets inside secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from delivery_support import SECRET, SECRET_ENV
from pipeline_support import FAST, RecorderPlugin, config_text, document_json

from gateway.channels import InboundDocument
from gateway.cli.run import secrets_of
from gateway.logs import MAX_MESSAGE_CHARS, JsonFormatter, TextFormatter
from gateway.model.samples import example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState

PASSWORD = "erp-basic-pw-93kd"


@pytest.fixture
def as_run_writes() -> Iterator[tuple[io.StringIO, io.StringIO, list[str | None]]]:
    """Both formats, with the redaction `gateway run` sets up (secrets from the config)."""
    known: list[str | None] = []
    json_out, text_out = io.StringIO(), io.StringIO()
    handlers = []
    for out, formatter in ((json_out, JsonFormatter(lambda: known)),
                           (text_out, TextFormatter(lambda: known))):
        handler = logging.StreamHandler(out)
        handler.setFormatter(formatter)
        handlers.append(handler)
    root = logging.getLogger()
    level = root.level
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield json_out, text_out, known
    finally:
        for handler in handlers:
            root.removeHandler(handler)
        root.setLevel(level)


async def test_a_webhook_password_in_a_failed_delivery_is_neither_logged_nor_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    as_run_writes: tuple[io.StringIO, io.StringIO, list[str | None]],
) -> None:
    # An ERP webhook behind basic auth, its URL mistyped (port out of range): aiohttp
    # quotes the whole URL, password and all, in its error, which the worker logs.
    json_out, text_out, known = as_run_writes
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
        known[:] = secrets_of(service.config)
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
    for out in (json_out, text_out):
        text = out.getvalue()
        assert "cannot reach the ERP webhook: InvalidUrlClientError" in text
        assert PASSWORD not in text, text
        assert "http://erp:" in text
    # Nor in what the failed delivery stores, which the API and the CLI show.
    assert "cannot reach the ERP webhook" in (record.last_error or "")
    assert PASSWORD not in (record.last_error or "")
    assert PASSWORD not in str([e.detail for e in events])


def test_an_exception_quoting_a_whole_payload_is_cut_in_the_log() -> None:
    payload = "<Invoice>" + "<cbc:Note>line</cbc:Note>\n" * 2000 + "</Invoice>"
    try:
        raise ValueError(f"cannot handle {payload}")
    except ValueError:
        record = logging.LogRecord("gateway.pipeline.dispatch", logging.ERROR, __file__, 1,
                                   "channel %s raised while sending", ("x",), None)
        record.exc_info = sys.exc_info()
    # Another handler (a plain Formatter) formats first and caches its traceback text.
    logging.Formatter().format(record)
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        if isinstance(formatter, JsonFormatter):
            line = json.loads(line)["error"]
        assert payload not in line
        assert len(line) < 3 * MAX_MESSAGE_CHARS, len(line)
        # What tells an operator what went wrong is still there.
        assert "ValueError: cannot handle <Invoice>" in line
        assert "test_logs_redaction.py" in line


def test_a_secret_containing_another_is_redacted_whole() -> None:
    token, webhook = "tok-5521", "tok-5521-webhook-x9"
    record = logging.LogRecord("gateway.delivery", logging.WARNING, __file__, 1,
                               "signed with %s", (webhook,), None)
    for formatter in (JsonFormatter(lambda: [token, webhook]),
                      TextFormatter(lambda: [token, webhook])):
        line = formatter.format(record)
        assert "webhook-x9" not in line, line
