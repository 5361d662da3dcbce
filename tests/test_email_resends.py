"""What the e-mail channel sends again, and under which Message-ID.

Three review findings (moved here from test_zz_review_channels.py): a document a
reroute encoded anew went out under the Message-ID of the earlier one; a 451 for one
of an agency's addresses made every retry deliver the mail again to the others; a
login the server does not offer was retried for the whole attempt budget. Real
counterparts only: aiosmtpd on loopback (plugins/email/testserver.py) and the running
gateway with its store.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
import pytest
from pipeline_support import AGENCY_OIN, FAST, SUPPLIER_KVK, document_json
from test_email import AGENCY_ADDRESS, DSN, config, wait

from gateway.channels import Accepted, ChannelContext, FinalError, OutboundMessage
from gateway.kinds import DocumentKind
from gateway.model.samples import example_invoice
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pipeline import operator
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import TransportState
from plugins.email.channel import EmailChannel
from plugins.email.testserver import LocalSmtp

PAYLOAD = b'<?xml version="1.0"?>\n<Invoice/>\n'
BUSY = "busy@agency.example"
BUSY_REPLY = "451 4.2.1 Mailbox busy, come back later"


def _outbound(**changes: Any) -> OutboundMessage:
    message = OutboundMessage(
        message_id="01REVIEWMESSAGE", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
        format_key="nlcius:invoice:1.0", payload=PAYLOAD, filename="F-1.xml",
        business_key=f"{SUPPLIER_KVK}:{AGENCY_OIN}:invoice:F-1",
        metadata={"agency_email": AGENCY_ADDRESS},
    )
    return attrs.evolve(message, **changes)


async def _email(server: LocalSmtp, **settings: Any) -> EmailChannel:
    made = EmailChannel("email", {
        "smtp_host": server.host, "smtp_port": server.port, "sender": "gateway@supplier.example",
        "timeout": 5, "security": "none", **settings})
    await made.start(ChannelContext("email"))
    return made


# -- A: a re-encoded document gets a Message-ID of its own ------------------------------------


async def test_a_reencoded_reroute_is_not_sent_under_the_earlier_message_id() -> None:
    """gateway/channels.py: once a reroute re-encoded the document (metadata 'reencoded'),
    'a channel that derives its transport id from the message must not send it as a repeat
    of theirs'. Under the old Message-ID a receiver that drops repeated Message-IDs drops
    it, and a late bounce of the earlier send is matched to it and fails it."""
    async with LocalSmtp() as server:
        sender = await _email(server)
        first = await sender.send(_outbound())
        assert isinstance(first, Accepted), first
        again = await sender.send(_outbound(
            payload=b'<?xml version="1.0"?>\n<Invoice>re-encoded</Invoice>\n',
            format_key="peppol-bis:invoice:3.0",
            metadata={"agency_email": AGENCY_ADDRESS, "reencoded": "true",
                      "rerouted": "true"}))
    assert isinstance(again, Accepted), again
    assert again.transport_id != first.transport_id
    # What went out is what a bounce will quote.
    assert [m["Message-ID"] for m in server.received] == [first.transport_id,
                                                          again.transport_id]


async def test_the_message_id_of_a_reencoded_document_is_stable_and_kept_on_retries() -> None:
    """The id of a re-encoded document is made from the message id and the payload: the same
    on every derivation, and a retry with the stored transport id keeps that. A message
    that was not re-encoded keeps exactly the id earlier releases gave it."""
    reencoded = {"agency_email": AGENCY_ADDRESS, "reencoded": "true", "rerouted": "true"}
    async with LocalSmtp() as server:
        sender = await _email(server)
        plain = await _sent_as(sender, _outbound())
        rerouted_only = await _sent_as(sender, _outbound(
            metadata={"agency_email": AGENCY_ADDRESS, "rerouted": "true"}))
        new = await _sent_as(sender, _outbound(metadata=reencoded))
        derived_again = await _sent_as(sender, _outbound(metadata=reencoded))
        retried = await _sent_as(sender, _outbound(metadata=reencoded, transport_id="<stored@x>"))
    assert plain == "<wissel.01REVIEWMESSAGE@supplier.example>"
    assert rerouted_only == plain
    assert new.startswith("<wissel.01REVIEWMESSAGE.")
    assert new.endswith("@supplier.example>")
    assert derived_again == new
    assert retried == "<stored@x>"


async def _sent_as(sender: EmailChannel, message: OutboundMessage) -> str:
    """The Message-ID ``sender`` accepted ``message`` under."""
    outcome = await sender.send(message)
    assert isinstance(outcome, Accepted), outcome
    return outcome.transport_id


@pytest.fixture
def standards(monkeypatch: pytest.MonkeyPatch, installed_standards: Path) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.mark.usefixtures("standards")
async def test_in_the_gateway_a_late_bounce_of_the_first_send_does_not_fail_the_reroute(
        tmp_path: Path) -> None:
    """Bounced (failed), rerouted to another format by an operator, mailed again: the new
    mail has its own Message-ID, and a second report about the first mail leaves the new
    send alone."""
    async with LocalSmtp() as server:
        service = GatewayService(config(tmp_path, server), make_plugin_manager(),
                                 dispatch=FAST)
        await service.start()
        try:
            assert service.outbound is not None
            assert service.store is not None
            assert service.validation is not None
            record, _ = await service.outbound.submit(document_json(example_invoice()),
                                                      agency_oin=AGENCY_OIN)
            first = await wait(service, record.id, TransportState.SENT)
            channel = service.channels["email"]
            assert isinstance(channel, EmailChannel)
            bounces = tmp_path / "data" / "bounces"
            bounce = DSN.format(recipient=AGENCY_ADDRESS, message_id=first.transport_id)
            (bounces / "0001.eml").write_text(bounce)
            assert await channel.scan_bounces() == 1
            await wait(service, record.id, TransportState.FAILED)

            await operator.reroute(
                service.store, service.registry, service.validation, record.id, actor="bob",
                format_key="peppol-bis:invoice:3.0", reason="the agency reads Peppol BIS",
                config=service.config)
            second = await wait(service, record.id, TransportState.SENT)
            # A long Message-ID is folded onto its own line (RFC 5322 allows it); the
            # parser keeps the fold's space, as bounces.py strips it.
            sent_ids = [m["Message-ID"].strip() for m in server.received]
            assert sent_ids == [first.transport_id, second.transport_id]
            assert second.transport_id != first.transport_id

            (bounces / "0002.eml").write_text(bounce)  # the same report, fetched again
            await channel.scan_bounces()  # hands the report to the status desk and waits
            now = await service.store.get(record.id)
            assert now is not None
            assert now.transport_state is TransportState.SENT, now.last_error
        finally:
            await service.stop()


# -- B: a temporary refusal of one address does not resend to the others ---------------------


async def test_a_temporary_refusal_of_one_address_does_not_resend_to_the_others() -> None:
    """An agency address listing two mailboxes (supported: test_email_edges): the server
    takes the mail for one and answers 451 for the other. A retryable outcome would make
    every retry send the whole mail again to the mailbox that already has it."""
    metadata = {"agency_email": f"{AGENCY_ADDRESS}, {BUSY}"}
    async with LocalSmtp(replies={BUSY: BUSY_REPLY}) as server:
        sender = await _email(server)
        outcome = await sender.send(_outbound(metadata=metadata))
        if not isinstance(outcome, Accepted):  # the dispatcher's retry
            await sender.send(_outbound(metadata=metadata, transport_id=outcome.transport_id))
    copies = [rcpts for _, rcpts in server.envelopes if AGENCY_ADDRESS in rcpts]
    assert len(copies) == 1, server.envelopes
    # Not silent: the address that has not got it, and the server's words, are reported.
    assert isinstance(outcome, Accepted), outcome
    assert BUSY in outcome.detail
    assert "451 4.2.1 Mailbox busy" in outcome.detail


async def test_a_refusal_for_good_among_temporary_ones_is_still_final() -> None:
    """A 5xx for one address is a configuration a person must fix, whatever the others got."""
    replies = {BUSY: BUSY_REPLY, "gone@agency.example": "550 5.1.1 User unknown"}
    metadata = {"agency_email": f"{AGENCY_ADDRESS}, {BUSY}, gone@agency.example"}
    async with LocalSmtp(replies=replies) as server:
        sender = await _email(server)
        outcome = await sender.send(_outbound(metadata=metadata))
    assert isinstance(outcome, FinalError), outcome
    assert outcome.code == "smtp-550"


async def test_in_the_gateway_a_partly_refused_mail_is_sent_once_and_the_refusal_shown(
        tmp_path: Path) -> None:
    """With the dispatcher's quick retries on (as by default): one mail, the message sent,
    and the refused address on its timeline."""
    async with LocalSmtp(replies={BUSY: BUSY_REPLY}) as server:
        path = config(tmp_path, server)
        path.write_text(path.read_text().replace(f'email = "{AGENCY_ADDRESS}"',
                                                 f'email = "{AGENCY_ADDRESS}, {BUSY}"'))
        service = GatewayService(path, make_plugin_manager(),
                                 dispatch=attrs.evolve(FAST, quick_tries=3))
        await service.start()
        try:
            assert service.outbound is not None
            assert service.store is not None
            record, _ = await service.outbound.submit(document_json(example_invoice()),
                                                      agency_oin=AGENCY_OIN)
            await wait(service, record.id, TransportState.SENT)
            [sent] = [e for e in await service.store.events(record.id) if e.kind == "sent"]
        finally:
            await service.stop()
    assert [rcpts for _, rcpts in server.envelopes] == [[AGENCY_ADDRESS]]
    assert BUSY in str(sent.detail["detail"])


# -- C: a login the server does not offer -----------------------------------------------------


async def test_a_login_the_server_does_not_offer_is_final(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """username set, but the server offers no AUTH (here: not without TLS): no retry can
    succeed until a person fixes the settings, like STARTTLS not offered (which is final);
    as a passing connection trouble it was retried for the whole budget."""
    monkeypatch.setenv("REVIEW_SMTP_PASSWORD", "s3cret-pw")
    async with LocalSmtp() as server:
        sender = await _email(server, username="gateway", password_env="REVIEW_SMTP_PASSWORD")
        outcome = await sender.send(_outbound())
    assert server.received == []
    assert "s3cret-pw" not in repr(outcome)
    assert isinstance(outcome, FinalError), outcome
    assert outcome.code == "auth-unavailable"
    assert "username" in outcome.reason
    assert "security" in outcome.reason
