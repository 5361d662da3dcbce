"""The e-mail channel at its edges: odd fields, sender names, partial refusals, STARTTLS, DSNs."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import attrs
import pytest
import trustme
from pipeline_support import AGENCY_OIN, SUPPLIER_KVK
from test_email import config

from gateway.channels import (
    Accepted,
    ChannelContext,
    FinalError,
    OutboundMessage,
)
from gateway.kinds import DocumentKind
from plugins.email.bounces import read_bounce
from plugins.email.channel import EmailChannel
from plugins.email.testserver import LocalSmtp

PAYLOAD = b'<?xml version="1.0"?>\n<Invoice/>\n'


def outbound(number: str = "F-1", **changes: Any) -> OutboundMessage:
    message = OutboundMessage(
        message_id="01TESTMESSAGE", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
        format_key="nlcius:invoice:1.0", payload=PAYLOAD, filename=f"{number}.xml",
        business_key=f"{SUPPLIER_KVK}:{AGENCY_OIN}:invoice:{number}",
        metadata={"agency_email": "facturen@agency.example"},
    )
    return attrs.evolve(message, **changes)


async def channel(server: LocalSmtp, **settings: Any) -> EmailChannel:
    made = EmailChannel("email", {
        "smtp_host": server.host, "smtp_port": server.port, "sender": "gateway@supplier.example",
        "timeout": 5, "security": "none", **settings})
    await made.start(ChannelContext("email"))
    return made


# -- header injection / CR LF in document fields ----------------------------------------------


async def test_a_number_with_a_line_break_does_not_make_send_raise() -> None:
    """Canonical JSON admits CR and LF in the invoice number; it lands in Subject and the
    attachment's filename. send must not raise (the core makes a raise a *retryable*
    channel-exception, so the same doomed send is tried again and again)."""
    async with LocalSmtp() as server:
        sender = await channel(server)
        outcome = await sender.send(outbound("F-1\r\nBcc: victim@evil.example"))
    assert isinstance(outcome, Accepted | FinalError)
    for mail in server.received:
        assert mail["Bcc"] is None


# -- several addresses, one refused ---------------------------------------------------------


async def test_a_refused_recipient_among_several_is_not_reported_as_accepted() -> None:
    """The agency's e-mail (config check: only '@' in it) may list two addresses; when the
    server refuses one for good, the outcome still says 'accepted' and nobody learns it."""
    replies = {"gone@agency.example": "550 5.1.1 <gone@agency.example>: User unknown"}
    async with LocalSmtp(replies=replies) as server:
        sender = await channel(server)
        outcome = await sender.send(outbound(
            metadata={"agency_email": "facturen@agency.example, gone@agency.example"}))
    assert server.envelopes
    assert server.envelopes[0][1] == ["facturen@agency.example"]
    assert not isinstance(outcome, Accepted), outcome


# -- Message-ID ----------------------------------------------------------------------------


async def test_a_sender_with_a_display_name_gives_a_valid_message_id() -> None:
    async with LocalSmtp() as server:
        sender = await channel(server, sender="Leverancier BV <facturen@leverancier.example>")
        outcome = await sender.send(outbound())
    assert isinstance(outcome, Accepted)
    [mail] = server.received
    # The transport id (what a bounce is matched against) must be the Message-ID that
    # went out. It is '<wissel.01TESTMESSAGE@leverancier.example>>' (the '>' of the From
    # address leaks in), while the wire carries the header re-serialised without it.
    assert mail["Message-ID"] == outcome.transport_id


# -- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca_file, server


async def test_starttls_with_an_untrusted_certificate_is_final(
        tls: tuple[Path, ssl.SSLContext], tmp_path: Path) -> None:
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    async with LocalSmtp(security="starttls", tls_context=tls[1]) as server:
        sender = await channel(server, security="starttls", ca_file=str(stranger))
        outcome = await sender.send(outbound())
    assert isinstance(outcome, FinalError), outcome
    assert outcome.code == "tls-verify"


async def test_starttls_required_but_not_offered_is_final() -> None:
    """security = starttls against a server without STARTTLS: the mail is (rightly) not sent
    in clear, but no retry can ever succeed until a person fixes the settings, as with an
    untrusted certificate; retrying hides it for the whole retry budget."""
    async with LocalSmtp() as server:
        sender = await channel(server, security="starttls")
        outcome = await sender.send(outbound())
    assert server.received == []
    assert isinstance(outcome, FinalError), outcome


# -- DSN reading ---------------------------------------------------------------------------


def dsn(blocks: str, message_id: str = "<wissel.01TESTMESSAGE@supplier.example>") -> bytes:
    return f"""\
From: MAILER-DAEMON@agency.example
To: gateway@supplier.example
Subject: Delivery Status Notification
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Report.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.agency.example

{blocks}
--B
Content-Type: text/rfc822-headers

From: gateway@supplier.example
Message-ID: {message_id}
Subject: invoice

--B--
""".encode()


def test_a_failed_recipient_after_a_delayed_one_is_read_as_failed() -> None:
    data = dsn("""\
Final-Recipient: rfc822; facturen@agency.example
Action: delayed
Status: 4.4.7

Final-Recipient: rfc822; crediteuren@agency.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 User unknown
""")
    bounce = read_bounce(data)
    assert bounce.failed, bounce


def test_a_failed_recipient_after_a_delivered_one_is_not_dropped() -> None:
    data = dsn("""\
Final-Recipient: rfc822; facturen@agency.example
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822; crediteuren@agency.example
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full
""")
    bounce = read_bounce(data)
    assert bounce.action == "failed", bounce


# -- end to end: the CR LF number in the running gateway ---------------------------------------


async def test_in_the_gateway_a_number_with_a_line_break_is_not_retried_as_a_channel_crash(
        tmp_path: Path) -> None:
    import asyncio

    from pipeline_support import FAST, document_json

    from gateway.model.samples import example_invoice
    from gateway.pluginmanager import make_plugin_manager
    from gateway.service import GatewayService

    async with LocalSmtp() as server:
        path = config(tmp_path, server)  # plain SMTP
        service = GatewayService(path, make_plugin_manager(), dispatch=FAST)
        await service.start()
        try:
            assert service.outbound is not None
            assert service.store is not None
            invoice = attrs.evolve(example_invoice(), number="F2024-77\nBcc: x@evil.example")
            record, _ = await service.outbound.submit(document_json(invoice),
                                                      agency_oin=AGENCY_OIN)
            for _ in range(300):
                now = await service.store.get(record.id)
                assert now is not None
                if now.attempts >= 1 and now.transport_state.value not in ("queued", "sending"):
                    break
                await asyncio.sleep(0.01)
            assert now is not None
            # The document passed validation; had the channel raised, the core would take it
            # for a passing trouble and retry it until the budget was spent.
            assert "channel-exception" not in str(now.last_error), now.last_error
        finally:
            await service.stop()


@pytest.mark.parametrize(("host", "security", "refused"), [
    ("smtp.supplier.example", "none", True),
    ("192.0.2.25", "none", True),
    ("127.0.0.1", "none", False),
    ("localhost", "none", False),
    ("[::1]", "none", False),
    ("smtp.supplier.example", "starttls", False),
])
def test_a_login_over_an_unencrypted_connection_to_another_machine_is_refused(
    host: str, security: str, refused: bool,
) -> None:
    """security = "none" with a username sent the SMTP password in the clear to a server
    anywhere on the network; it is for a relay on this machine."""
    settings = {"smtp_host": host, "security": security, "sender": "gateway@supplier.example",
                "username": "wissel", "password_env": "WISSEL_SMTP_PASSWORD"}
    if not refused:
        EmailChannel("email", settings)
        return
    with pytest.raises(ValueError, match="would send the password unencrypted to"):
        EmailChannel("email", settings)
