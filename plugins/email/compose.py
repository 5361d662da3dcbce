"""One outbound document as an e-mail: the readable rendering as the body, the XML attached.

The Message-ID is made from the gateway's message id, so every retry of the
same message carries the same Message-ID: the receiving side can tell a
repeat, and a bounce names the message it is about.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from gateway.channels import OutboundMessage
from gateway.model import CanonicalDocument
from gateway.pipeline.keys import number_from_key
from gateway.render import render_html


def message_id_for(message: OutboundMessage, sender: str) -> str:
    """``<wissel.<message id>@<sender's domain>>``: stable across retries."""
    if message.transport_id:
        return message.transport_id
    # The address, not the From value: "Name <a@b.example>" would leak its '>' in.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "wissel.invalid"
    return f"<wissel.{message.message_id}@{domain}>"


def _one_line(text: str) -> str:
    """A document field as header text: CR, LF and other whitespace runs become one space."""
    return " ".join(text.split())


def compose(
    message: OutboundMessage, *, sender: str, recipient: str, message_id: str,
    document: CanonicalDocument | None, pdf: bytes | None, supplier_name: str,
) -> EmailMessage:
    number = _one_line(number_from_key(message.business_key) if message.business_key else "")
    supplier_name = _one_line(supplier_name)
    filename = _one_line(message.filename)
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = " ".join(filter(None, (message.kind.value, number, "-", supplier_name)))
    mail["Message-ID"] = message_id
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["X-Wissel-Format"] = message.format_key
    mail.set_content(
        f"Attached: {message.kind.value} {number} from {supplier_name} as {message.format_key} "
        f"({filename}).\n"
        + ("The readable version is in this message and attached as PDF.\n" if pdf else "")
        + "Please reply to the sender if the document cannot be processed.\n"
    )
    if document is not None:
        mail.add_alternative(render_html(document), subtype="html")
    maintype, _, subtype = message.media_type.partition("/")
    mail.add_attachment(message.payload, maintype=maintype or "application",
                        subtype=subtype or "octet-stream", filename=filename)
    if pdf is not None:
        stem = filename.rsplit(".", 1)[0]
        mail.add_attachment(pdf, maintype="application", subtype="pdf", filename=f"{stem}.pdf")
    return mail
