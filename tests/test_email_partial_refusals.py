"""A mail refused for good (5xx) for some of an agency's addresses and taken for the others.

The send stays final (a dead letter: an address in the configuration needs a person),
but the others have the document: an operator's retry, after the fix, must mail only
the addresses that did not get it, also after a restart (the store is all that is kept).
Real counterparts only: aiosmtpd on loopback and the running gateway with its store.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pipeline_support import AGENCY_OIN, FAST, document_json
from test_email import AGENCY_ADDRESS, config, wait

from gateway.model.samples import example_invoice
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pipeline import operator
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState
from plugins.email.testserver import LocalSmtp

GONE = "gone@agency.example"
GONE_REPLY = "550 5.1.1 <gone@agency.example>: User unknown"


@pytest.fixture(autouse=True)
def standards(monkeypatch: pytest.MonkeyPatch, installed_standards: Path) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


def _two_addresses(tmp_path: Path, server: LocalSmtp) -> Path:
    path = config(tmp_path, server)
    path.write_text(path.read_text().replace(f'email = "{AGENCY_ADDRESS}"',
                                             f'email = "{AGENCY_ADDRESS}, {GONE}"'))
    return path


async def _started(path: Path) -> GatewayService:
    service = GatewayService(path, make_plugin_manager(), dispatch=FAST)
    await service.start()
    return service


async def _attempts(service: GatewayService, message_id: str, count: int) -> None:
    assert service.store is not None
    for _ in range(1000):
        if len(await service.store.attempts(message_id)) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {message_id} never had {count} attempts")


async def test_a_retry_after_a_partial_refusal_for_good_mails_only_the_refused_address(
        tmp_path: Path) -> None:
    async with LocalSmtp(replies={GONE: GONE_REPLY}) as server:
        path = _two_addresses(tmp_path, server)
        service = await _started(path)
        try:
            assert service.outbound is not None
            record, _ = await service.outbound.submit(document_json(example_invoice()),
                                                      agency_oin=AGENCY_OIN)
            failed = await wait(service, record.id, TransportState.FAILED)
        finally:
            await service.stop()
        # The dead letter says who has it and who refused it.
        assert GONE in str(failed.last_error)
        assert "550 5.1.1" in str(failed.last_error)
        assert AGENCY_ADDRESS in str(failed.last_error)

        # The agency fixed its mailbox; the operator retries, from a restarted gateway.
        del server.replies[GONE]
        service = await _started(path)
        try:
            assert service.store is not None
            await operator.retry(service.store, record.id, actor="bob", reason="mailbox fixed")
            sent = await wait(service, record.id, TransportState.SENT)
            [event] = [e for e in await service.store.events(record.id) if e.kind == "sent"]
        finally:
            await service.stop()
    assert [rcpts for _, rcpts in server.envelopes] == [[AGENCY_ADDRESS], [GONE]]
    # The same mail, under the same Message-ID: a bounce of either copy names it.
    assert [m["Message-ID"] for m in server.received] == [sent.transport_id] * 2
    assert "took it in an earlier attempt" in str(event.detail["detail"])


async def test_a_retry_refused_again_does_not_mail_the_others_again(tmp_path: Path) -> None:
    async with LocalSmtp(replies={GONE: GONE_REPLY}) as server:
        service = await _started(_two_addresses(tmp_path, server))
        try:
            assert service.outbound is not None
            assert service.store is not None
            record, _ = await service.outbound.submit(document_json(example_invoice()),
                                                      agency_oin=AGENCY_OIN)
            await wait(service, record.id, TransportState.FAILED)
            for tries in (2, 3):
                await operator.retry(service.store, record.id, actor="bob")
                await _attempts(service, record.id, tries)
            again = await wait(service, record.id, TransportState.FAILED)
        finally:
            await service.stop()
    assert [rcpts for _, rcpts in server.envelopes] == [[AGENCY_ADDRESS]]
    assert GONE in str(again.last_error)
