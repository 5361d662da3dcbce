"""The e-mail channel instance: SMTP with STARTTLS or implicit TLS, bounces from a folder.

Classification follows SMTP itself: a 4xx reply, a timeout or a dropped
connection may pass (retryable); a 5xx reply is the server's final word
(final, with its text): a refused recipient, a message too big, a refused
login. A certificate the configured CA does not vouch for is final too: a
person must fix the configuration before any retry can succeed, as must a
server without STARTTLS (security = starttls) or without a login (username).
A 4xx for some of an agency's addresses while the others took the mail is
accepted, the refused ones named: a retry would deliver it again to the others.
A 5xx for some of them is final, the final error naming the addresses that took
the mail; a retry of that transmission mails only the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtplib.email import extract_recipients

from gateway.channels import (
    Accepted,
    Channel,
    ChannelContext,
    FinalError,
    OutboundMessage,
    RetryableError,
    SendOutcome,
    StatusReport,
    refuse_unknown_settings,
    seconds_setting,
)
from gateway.errors import GatewayError
from gateway.fileio import NotAnInboxFile, file_away, read_inbox_file
from gateway.hosts import names_this_machine
from gateway.model import CanonicalDocument
from gateway.model.json import loads
from gateway.render import PdfUnavailable, find_pdf_tool, render_html, render_pdf
from gateway.store import AttemptOutcome
from gateway.tasks import cancel_and_wait

from .bounces import NotABounce, read_bounce
from .compose import compose, message_id_for

log = logging.getLogger(__name__)

SECURITY = ("starttls", "tls", "none")
_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
# A report quotes the headers of the original, not the document: a few MB is plenty.
MAX_BOUNCE_BYTES = 10 * 1024 * 1024
# aiosmtplib's words (an SMTPException, no reply code) when the server offers no AUTH, or
# only methods it does not speak.
_NO_LOGIN = ("SMTP AUTH extension is not supported", "No suitable authentication method")
# How a final error names the addresses that took the mail: read back from the stored
# attempt when the message is retried. Put first, as the server's words that follow may be
# anything but a line break.
_DELIVERED = "delivered to "


def _reply_outcome(code: int, text: str, what: str, transport_id: str) -> SendOutcome:
    reason = f"{what}: SMTP {code} {' '.join(text.split())}"
    if 400 <= code < 500:
        return RetryableError(reason, code=f"smtp-{code}", transport_id=transport_id)
    return FinalError(reason, code=f"smtp-{code}", transport_id=transport_id)


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    # aiosmtplib wraps the handshake's error in its own connect error.
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def recipient(channel: str, settings: Mapping[str, Any], agency_oin: str,
              directory: Mapping[str, str]) -> str:
    """The address for the agency: the channel's ``recipients`` entry for it, else its ``to``,
    else the agency's ``email`` from the directory (a RecipientLookup, asked by the gateway
    when it loads a route to the channel and by :meth:`EmailChannel.send`)."""
    # Settings of the wrong type are the factory's to refuse; here they give no address.
    recipients = settings.get("recipients")
    own = recipients.get(agency_oin) if isinstance(recipients, Mapping) else None
    found = own or settings.get("to") or directory.get("agency_email")
    if not found:
        raise ValueError(f"no e-mail address for agency {agency_oin}: set email in its "
                         f"[agencies] entry or recipients in [channels.{channel}]")
    return str(found)




class EmailChannel(Channel):
    type_name = "email"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)

        def bad(key: str, problem: str) -> ValueError:
            return ValueError(f"channel {name!r}: {key} {problem}")

        refuse_unknown_settings(name, settings, (
            "smtp_host", "smtp_port", "security", "username", "password_env", "sender",
            "ca_file", "timeout", "to", "recipients", "pdf", "bounce_dir", "poll_interval"))

        self.host = str(settings.get("smtp_host") or "")
        if not self.host:
            raise bad("smtp_host", "is required")
        self.security = str(settings.get("security", "starttls"))
        if self.security not in SECURITY:
            raise bad("security", f"= {self.security!r}; expected one of {', '.join(SECURITY)}")
        port = settings.get("smtp_port", _DEFAULT_PORTS[self.security])
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise bad("smtp_port", f"= {port!r}; expected a port number from 1 to 65535")
        self.port = port
        self.sender = str(settings.get("sender") or "")
        if "@" not in self.sender:
            raise bad("sender", f"= {self.sender!r}; expected an e-mail address")
        self.username = settings.get("username")
        self.password_env = settings.get("password_env")
        if self.username and not self.password_env:
            raise bad("password_env", "is required with username (the variable holding the "
                      "password)")
        if self.username and self.security == "none" and not names_this_machine(self.host):
            # The login would travel in the clear, to wherever the network routes it.
            raise bad("security", f"= 'none' with username would send the password "
                      f"unencrypted to {self.host}; use starttls or tls ('none' with a login "
                      "is for a relay on this machine only)")
        self.ca_file = settings.get("ca_file")
        self.timeout = seconds_setting(name, settings, "timeout", 30)
        # ``to`` and ``recipients`` are read at each send by recipient(), as the gateway
        # reads them when it checks a route to this channel.
        if not isinstance(settings.get("recipients", {}), Mapping):
            raise bad("recipients", "must be a table of agency OIN = \"address\"")
        self.attach_pdf = bool(settings.get("pdf", True))
        self.bounce_dir = Path(str(settings["bounce_dir"])) if settings.get("bounce_dir") else None
        self.poll_interval = seconds_setting(name, settings, "poll_interval", 30)
        self._context: ChannelContext | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, context: ChannelContext) -> None:
        self._context = context
        if self.bounce_dir is not None and context.data_dir is not None:
            self.bounce_dir = Path(context.data_dir) / self.bounce_dir
        if self.ca_file and context.data_dir is not None:
            self.ca_file = str(Path(context.data_dir) / str(self.ca_file))
        if self.bounce_dir is not None and context.status is not None:
            for sub in ("done", "error"):
                (self.bounce_dir / sub).mkdir(parents=True, exist_ok=True)
            self._task = asyncio.create_task(self._watch(), name=f"email-bounces:{self.name}")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None

    # -- sending -------------------------------------------------------------------------------

    def recipient_for(self, message: OutboundMessage) -> str:
        """Per-agency override, then the channel's ``to``, then the directory's address;
        ValueError when there is none."""
        return recipient(self.name, self.settings, message.agency_oin, message.metadata)

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file or None)

    def _password(self) -> str | None:
        if not self.username:
            return None
        value = os.environ.get(str(self.password_env), "")
        if not value:
            raise GatewayError(f"channel {self.name!r}: the environment variable "
                               f"{self.password_env} named by password_env is not set")
        return value

    async def _document(self, message_id: str) -> CanonicalDocument | None:
        store = None if self._context is None else self._context.store
        if store is None:
            return None
        record = await store.get(message_id)
        if record is None or record.canonical_json is None:
            return None
        return loads(record.canonical_json)

    async def send(self, message: OutboundMessage) -> SendOutcome:
        transport_id = message_id_for(message, self.sender)
        try:
            address = self.recipient_for(message)
        except ValueError as exc:
            return FinalError(str(exc), code="no-recipient", transport_id=transport_id)
        try:
            password = self._password()
            document = await self._document(message.message_id)
        except GatewayError as exc:
            return FinalError(str(exc), code="configuration", transport_id=transport_id)
        try:
            delivered = await self._delivered_before(message)
        except GatewayError as exc:  # the store: not knowing, mailing all could repeat it
            return RetryableError(f"cannot read the earlier attempts: {exc}", code="store",
                                  transport_id=transport_id)
        pdf = None
        if document is not None and self.attach_pdf:
            tool = find_pdf_tool()
            if tool is not None:
                with contextlib.suppress(PdfUnavailable):
                    pdf = await asyncio.to_thread(render_pdf, render_html(document), tool)
        supplier = getattr(self._context.supplier, "name", "") if self._context else ""
        mail = compose(message, sender=self.sender, recipient=address,
                       message_id=transport_id, document=document, pdf=pdf,
                       supplier_name=str(supplier or ""))
        return await self._deliver(mail, address, transport_id, password, delivered)

    async def _delivered_before(self, message: OutboundMessage) -> set[str]:
        """The addresses (casefolded) an earlier attempt of this transmission mailed.

        Only a final error names them (see ``_deliver``); it is stored before any
        retry, so it holds across restarts and instances.
        """
        store = None if self._context is None else self._context.store
        if store is None or not message.transport_id:
            return set()
        delivered: set[str] = set()
        for attempt in await store.attempts(message.message_id):
            if (attempt.outcome is AttemptOutcome.FINAL
                    and attempt.transport_id == message.transport_id
                    and attempt.detail.startswith(_DELIVERED)):
                listed = attempt.detail[len(_DELIVERED):].partition("; ")[0]
                delivered.update(address.casefold() for address in listed.split(", "))
        return delivered

    async def _deliver(self, mail: Any, recipient: str, transport_id: str,
                       password: str | None, delivered: set[str]) -> SendOutcome:
        where = f"{self.host}:{self.port}"
        addresses = extract_recipients(mail)
        pending = [address for address in addresses if address.casefold() not in delivered]
        if delivered and not pending:
            return Accepted(transport_id, recipient=recipient, detail=(
                f"{recipient} took this mail in an earlier attempt; not sent again"))
        try:
            async with aiosmtplib.SMTP(
                hostname=self.host, port=self.port, timeout=self.timeout,
                use_tls=self.security == "tls",
                start_tls=self.security == "starttls",
                tls_context=None if self.security == "none" else self._tls_context(),
                username=self.username or None, password=password,
            ) as smtp:
                partly, _ = await smtp.send_message(mail, recipients=pending)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients[0]
            return _reply_outcome(refused.code, refused.message,
                                  f"{where} refused recipient {recipient}", transport_id)
        except aiosmtplib.SMTPResponseException as exc:
            return _reply_outcome(exc.code, exc.message, f"{where} refused the message",
                                  transport_id)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if (self.security == "starttls" and type(exc) is aiosmtplib.SMTPException
                    and "STARTTLS extension not supported" in str(exc)):
                # Not a passing trouble: the settings and the server disagree.
                return FinalError(f"{where} does not offer STARTTLS; check security and "
                                  "smtp_port", code="tls-unavailable", transport_id=transport_id)
            if (self.username and type(exc) is aiosmtplib.SMTPException
                    and any(words in str(exc) for words in _NO_LOGIN)):
                # Also no passing trouble: the server offers no login (many offer it only
                # over TLS) or none aiosmtplib speaks. Every retry would get the same answer
                # until a person changes the settings.
                return FinalError(
                    f"{where} offers no login the gateway can use ({exc}); check username "
                    "(leave it out if the server needs no login) and security (a server "
                    "may offer login only over TLS)",
                    code="auth-unavailable", transport_id=transport_id)
            untrusted = _certificate_error(exc)
            if untrusted is not None:
                return FinalError(f"{where}: the server's certificate is not trusted "
                                  f"({untrusted.verify_message}); check ca_file",
                                  code="tls-verify", transport_id=transport_id)
            return RetryableError(f"{where}: {type(exc).__name__}: {exc}", code="smtp-connection",
                                  transport_id=transport_id)
        if partly:
            address, reply = max(partly.items(), key=lambda item: item[1].code)
            if reply.code >= 500:
                # Some of several addresses refused for good: final, with the worst reply's
                # words; the address in the configuration needs a person. The others have
                # it: the final error names them, so that a retry mails only the rest.
                took = ", ".join(a for a in pending if a not in partly)
                return _reply_outcome(reply.code, reply.message,
                                      f"{_DELIVERED}{took}; {where} refused recipient "
                                      f"{address} (of {recipient})", transport_id)
            # Only temporary refusals (4xx) and the other addresses took the mail: Accepted,
            # with the refused ones named on the timeline (the "sent" event and the attempt)
            # and in the log. Retryable would resend the whole mail, and every retry would put
            # the document in the mailboxes that have it again (an invoice booked twice).
            # Retrying the refused addresses alone would need the set that took it to
            # survive restarts and reach other instances: a channel writes nothing to the
            # store, and the dispatcher's quick retries run before the attempt (whose reason
            # names that set for a 5xx, above) is written. The agency has the document in
            # one of its mailboxes; the operator can forward it to the others.
            waiting = "; ".join(f"{refused} (SMTP {answer.code} {' '.join(answer.message.split())})"
                                for refused, answer in sorted(partly.items()))
            log.warning("email channel %s: %s took the mail for %s, except for %s; not retried",
                        self.name, where, recipient, waiting)
            return Accepted(transport_id, recipient=recipient, detail=(
                f"handed to {where} for {recipient}, except {waiting}: a temporary refusal, not "
                "retried, as a retry would deliver it again to the others; forward it if needed"))
        if delivered:
            return Accepted(transport_id, recipient=recipient, detail=(
                f"handed to {where} for {', '.join(pending)}; the rest of {recipient} took it "
                "in an earlier attempt"))
        return Accepted(transport_id, detail=f"handed to {where} for {recipient}",
                        recipient=recipient)

    # -- bounces -------------------------------------------------------------------------------

    async def scan_bounces(self) -> int:
        """Turn every ``.eml`` DSN in ``bounce_dir`` into a status; returns how many were read."""
        if self.bounce_dir is None or self._context is None or self._context.status is None:
            raise GatewayError(f"channel {self.name!r} has no bounce_dir or was not started")
        status = self._context.status
        handled = 0
        for path in sorted(self.bounce_dir.glob("*.eml")):
            try:
                bounce = read_bounce(await asyncio.to_thread(read_inbox_file, path,
                                                             MAX_BOUNCE_BYTES))
            except FileNotFoundError:
                continue  # another instance took it
            except NotAnInboxFile as exc:
                await asyncio.to_thread(self._move, path, "error", str(exc))
                continue
            except NotABounce as exc:
                await asyncio.to_thread(self._move, path, "error", f"not a bounce: {exc}")
                continue
            handled += 1
            if bounce.action not in ("failed", "delayed"):
                await asyncio.to_thread(self._move, path, "done", None)
                continue
            report = StatusReport(
                code=f"dsn-{bounce.action} {bounce.status}".strip(),
                text=f"{bounce.recipient}: {bounce.diagnostic or bounce.status}",
                transport_id=bounce.original_message_id, failed=bounce.failed,
                final=bounce.failed, detail={"recipient": bounce.recipient,
                                             "status": bounce.status, "file": path.name},
            )
            found = await status(report)
            if found is None:
                await asyncio.to_thread(self._move, path, "error",
                                        f"names no message sent by channel {self.name}: "
                                        f"{bounce.original_message_id}")
            else:
                await asyncio.to_thread(self._move, path, "done", None)
        return handled

    def _move(self, path: Path, folder: str, note: str | None) -> None:
        assert self.bounce_dir is not None
        file_away(path, self.bounce_dir / folder, note)

    async def _watch(self) -> None:
        while True:
            try:
                await self.scan_bounces()
            except Exception:
                log.exception("email channel %s: bounce scan failed", self.name)
            await asyncio.sleep(self.poll_interval)
