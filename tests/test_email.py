"""The e-mail channel against a real SMTP server (aiosmtpd on loopback).

STARTTLS and implicit TLS use a private test CA (trustme); the server refuses
chosen recipients with 550 or 451 and can drop the connection. Bounces are
RFC 3464 reports dropped into the channel's bounce_dir.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import trustme
from pipeline_support import AGENCY_OIN, FAST, SUPPLIER_KVK, document_json

from gateway.channels import (
    Accepted,
    ChannelContext,
    FinalError,
    OutboundMessage,
    RetryableError,
)
from gateway.kinds import DocumentKind
from gateway.model.samples import example_invoice
from gateway.pluginmanager import make_plugin_manager
from gateway.render import find_pdf_tool
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from plugins.email.channel import EmailChannel
from plugins.email.testserver import LocalSmtp

AGENCY_ADDRESS = "facturen@agency.example"
PAYLOAD = b'<?xml version="1.0"?>\n<Invoice>\xc3\xa9 &amp; \r\n  trailing spaces   </Invoice>\n'


@attrs.frozen
class Tls:
    ca_file: Path
    server: ssl.SSLContext


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return Tls(ca_file, server)


def outbound(number: str = "F-1", transport_id: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        message_id=f"01TESTMESSAGE{number}", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
        format_key="nlcius:invoice:1.0", payload=PAYLOAD, filename=f"{number}.xml",
        business_key=f"{SUPPLIER_KVK}:{AGENCY_OIN}:invoice:{number}",
        transport_id=transport_id, metadata={"agency_email": AGENCY_ADDRESS},
    )


async def channel(server: LocalSmtp, **settings: Any) -> EmailChannel:
    made = EmailChannel("email", {
        "smtp_host": server.host, "smtp_port": server.port, "sender": "gateway@supplier.example",
        "timeout": 5, **settings})
    await made.start(ChannelContext("email"))
    return made


def xml_attachment(mail: Any) -> bytes:
    [part] = [p for p in mail.iter_attachments() if p.get_content_type() == "application/xml"]
    data: bytes = part.get_content()
    return data


async def test_starttls_delivers_the_xml_byte_for_byte(tls: Tls) -> None:
    async with LocalSmtp(security="starttls", tls_context=tls.server) as server:
        sender = await channel(server, security="starttls", ca_file=str(tls.ca_file))
        outcome = await sender.send(outbound())
    assert isinstance(outcome, Accepted)
    assert outcome.recipient == AGENCY_ADDRESS  # kept on the message's sent event
    [mail] = server.received
    assert mail["To"] == AGENCY_ADDRESS
    assert mail["Message-ID"] == outcome.transport_id
    assert outcome.transport_id == "<wissel.01TESTMESSAGEF-1@supplier.example>"
    assert xml_attachment(mail) == PAYLOAD
    assert "F-1" in mail["Subject"]


async def test_implicit_tls_and_a_stable_message_id_across_retries(tls: Tls) -> None:
    async with LocalSmtp(security="tls", tls_context=tls.server) as server:
        sender = await channel(server, security="tls", ca_file=str(tls.ca_file))
        first = await sender.send(outbound())
        assert isinstance(first, Accepted)
        again = await sender.send(outbound(transport_id=first.transport_id))
    assert isinstance(again, Accepted)
    assert [m["Message-ID"] for m in server.received] == [first.transport_id] * 2


async def test_a_certificate_from_another_ca_is_final(tls: Tls, tmp_path: Path) -> None:
    stranger = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(stranger))
    async with LocalSmtp(security="tls", tls_context=tls.server) as server:
        sender = await channel(server, security="tls", ca_file=str(stranger))
        outcome = await sender.send(outbound())
    assert isinstance(outcome, FinalError)
    assert outcome.code == "tls-verify"
    assert "ca_file" in outcome.reason
    assert server.received == []


async def test_refusals_are_classified_by_the_reply_code() -> None:
    replies = {"gone@agency.example": "550 5.1.1 <gone@agency.example>: User unknown",
               "busy@agency.example": "451 4.2.1 Mailbox busy, come back later"}
    async with LocalSmtp(replies=replies) as server:
        gone = await channel(server, security="none", to="gone@agency.example")
        busy = await channel(server, security="none", to="busy@agency.example")
        final = await gone.send(outbound())
        retry = await busy.send(outbound())
    assert isinstance(final, FinalError)
    assert final.code == "smtp-550"
    assert "User unknown" in final.reason
    assert isinstance(retry, RetryableError)
    assert retry.code == "smtp-451"
    assert "Mailbox busy" in retry.reason
    # The Message-ID is kept with the error, so the retry goes out under the same one.
    assert retry.transport_id == "<wissel.01TESTMESSAGEF-1@supplier.example>"
    assert server.received == []


async def test_a_message_too_big_is_final_with_the_servers_words() -> None:
    async with LocalSmtp(data_size_limit=2000) as server:
        sender = await channel(server, security="none")
        outcome = await sender.send(attrs.evolve(outbound(), payload=PAYLOAD * 100))
    assert isinstance(outcome, FinalError)
    assert outcome.code == "smtp-552"
    assert "message size exceeds fixed maximum message size" in outcome.reason
    assert server.received == []


async def test_a_dropped_connection_is_retryable() -> None:
    async with LocalSmtp(drop_connections=1) as server:
        sender = await channel(server, security="none")
        dropped = await sender.send(outbound())
        later = await sender.send(outbound())
    assert isinstance(dropped, RetryableError)
    assert dropped.code == "smtp-connection"
    assert isinstance(later, Accepted)
    assert len(server.received) == 1


async def test_an_agency_without_an_address_is_final() -> None:
    async with LocalSmtp() as server:
        sender = await channel(server, security="none")
        outcome = await sender.send(attrs.evolve(outbound(), metadata={}))
    assert isinstance(outcome, FinalError)
    assert outcome.code == "no-recipient"
    assert AGENCY_OIN in outcome.reason


# -- in the running gateway -------------------------------------------------------------------


def config(tmp_path: Path, server: LocalSmtp, ca_file: Path | None = None) -> Path:
    """The gateway routing invoices to ``server``: over STARTTLS with ``ca_file``, else plain."""
    security = (f'security = "starttls"\nca_file = {str(ca_file)!r}' if ca_file is not None
                else 'security = "none"')
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

[channels.email]
smtp_host = "{server.host}"
smtp_port = {server.port}
{security}
sender = "facturen@leverancier.example"
bounce_dir = "bounces"
poll_interval = 3600

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
email = "{AGENCY_ADDRESS}"
default_channel = "email"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "canonical:invoice:1"
""", "utf-8")
    return path


@pytest.fixture
async def smtp(tls: Tls) -> AsyncIterator[LocalSmtp]:
    async with LocalSmtp(security="starttls", tls_context=tls.server) as server:
        yield server


async def wait(service: GatewayService, message_id: str, state: TransportState,
               ) -> MessageRecord:
    assert service.store is not None
    for _ in range(1000):
        record = await service.store.get(message_id)
        assert record is not None
        if record.transport_state is state:
            return record
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {message_id} never became {state}")


DSN = """\
From: MAILER-DAEMON@agency.example
To: facturen@leverancier.example
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

Your message could not be delivered.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.agency.example
Arrival-Date: Mon, 2 Nov 2026 10:00:00 +0100

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full,
    quota exceeded

--BOUNDARY
Content-Type: text/rfc822-headers

From: facturen@leverancier.example
To: {recipient}
Message-ID: {message_id}
Subject: invoice

--BOUNDARY--
"""


async def test_the_gateway_mails_the_invoice_and_a_bounce_fails_it(
    tmp_path: Path, smtp: LocalSmtp, tls: Tls,
) -> None:
    service = GatewayService(config(tmp_path, smtp, tls.ca_file), make_plugin_manager(),
                             dispatch=FAST)
    await service.start()
    try:
        assert service.outbound is not None
        invoice = example_invoice()
        record, _ = await service.outbound.submit(document_json(invoice), agency_oin=AGENCY_OIN)
        sent = await wait(service, record.id, TransportState.SENT)
        [mail] = smtp.received
        assert mail["To"] == AGENCY_ADDRESS  # from the agency directory
        assert mail["Message-ID"] == sent.transport_id
        [attachment] = [p for p in mail.iter_attachments()
                        if p.get_filename() == "F2024-0001.json"]
        assert attachment.get_payload(decode=True) == sent.raw_payload
        html = mail.get_body(preferencelist=("html",))
        assert html is not None
        assert 'id="invoice-number">F2024-0001<' in html.get_content()
        names = {p.get_filename() for p in mail.iter_attachments()}
        if find_pdf_tool() is not None:
            assert "F2024-0001.pdf" in names

        email_channel = service.channels["email"]
        assert isinstance(email_channel, EmailChannel)
        bounces = tmp_path / "data" / "bounces"
        (bounces / "0001.eml").write_text(
            DSN.format(recipient=AGENCY_ADDRESS, message_id=sent.transport_id))
        (bounces / "0002.eml").write_text("Subject: hello\n\njust a mail\n")
        assert await email_channel.scan_bounces() == 1
        failed = await wait(service, record.id, TransportState.FAILED)
        assert "552 5.2.2 Mailbox full, quota exceeded" in str(failed.last_error)
        assert (bounces / "done" / "0001.eml").is_file()
        assert "not a bounce" in (bounces / "error" / "0002.eml.error.txt").read_text()
    finally:
        await service.stop()
