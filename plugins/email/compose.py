"""One outbound document as an e-mail: the readable rendering as the body, the XML attached.

The Message-ID is made from the gateway's message id, so every retry of the
same message carries the same Message-ID: the receiving side can tell a
repeat, and a bounce names the message it is about. Once an operator's
reroute encoded the document anew, it is another document: its Message-ID
takes a hash of the new payload too.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from gateway.channels import OutboundMessage
from gateway.model import CanonicalDocument
from gateway.pipeline.keys import number_from_key
from gateway.render import render_html

# Hex digits of the payload's SHA-256 in the Message-ID of a re-encoded document: enough
# to tell the encodings of one message apart, short enough to keep the header readable.
_PAYLOAD_HASH_LENGTH = 16


def message_id_for(message: OutboundMessage, sender: str) -> str:
    """``<wissel.<message id>@<sender's domain>>``: stable across retries.

    The id an earlier attempt chose (``transport_id``) wins, so a retry is a
    repeat. A document a reroute re-encoded (metadata ``reencoded``) gets
    ``<wissel.<message id>.<payload hash>@<domain>>``: under the earlier id a
    receiver that drops repeated Message-IDs would drop the new document, and a
    late bounce of the earlier send would be matched to it and fail it.
    """
    if message.transport_id:
        return message.transport_id
    # The address, not the From value: "Name <a@b.example>" would leak its '>' in.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "wissel.invalid"
    if message.metadata.get("reencoded") == "true":
        digest = hashlib.sha256(message.payload).hexdigest()[:_PAYLOAD_HASH_LENGTH]
        return f"<wissel.{message.message_id}.{digest}@{domain}>"
    # Exactly the id earlier releases gave: a message retrying across an upgrade keeps it.
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
