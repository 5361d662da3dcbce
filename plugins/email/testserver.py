"""A real SMTP server on loopback (aiosmtpd) for the contract kit and the tests.

It can refuse recipients with chosen replies, refuse the first few messages
with a temporary error, drop the connection, and speak STARTTLS or implicit
TLS with a given certificate. Needs the ``aiosmtpd`` package (a test extra).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Self


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class _Handler:
    def __init__(self, owner: LocalSmtp) -> None:
        self.owner = owner

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        owner = self.owner
        if owner.refuse_all is not None:
            return owner.refuse_all
        if address in owner.replies:
            return owner.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        owner = self.owner
        owner.attempts += 1
        if owner.drop_connections > 0:
            owner.drop_connections -= 1
            server.transport.close()
            return "421 4.4.2 connection dropped on purpose"
        if owner.busy_first > 0:
            owner.busy_first -= 1
            return "451 4.3.0 Temporary failure, try again"
        data = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        owner.received.append(parsed)
        owner.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 queued"


class LocalSmtp:
    """``async with LocalSmtp(...) as server``: ``server.host``/``port``, ``received`` mails.

    ``security`` is ``none``, ``starttls`` (STARTTLS required before MAIL) or
    ``tls`` (implicit TLS); both TLS modes need ``tls_context``.
    ``replies`` maps a recipient to the reply its RCPT gets (e.g. ``"550 5.1.1 unknown"``).
    """

    def __init__(self, *, security: str = "none", tls_context: ssl.SSLContext | None = None,
                 replies: Mapping[str, str] | None = None, refuse_all: str | None = None,
                 busy_first: int = 0, drop_connections: int = 0,
                 data_size_limit: int | None = None, host: str = "127.0.0.1") -> None:
        self.security = security
        self.tls_context = tls_context
        self.replies = dict(replies or {})
        self.refuse_all = refuse_all
        self.busy_first = busy_first
        self.drop_connections = drop_connections
        self.data_size_limit = data_size_limit
        self.host = host
        self.port = 0
        self.attempts = 0
        self.received: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self._controller: Any = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = _free_port(self.host)
        kwargs: dict[str, Any] = {}
        if self.security == "starttls":
            kwargs = {"tls_context": self.tls_context, "require_starttls": True}
        elif self.security == "tls":
            kwargs = {"ssl_context": self.tls_context}
        if self.data_size_limit is not None:
            kwargs["data_size_limit"] = self.data_size_limit
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      ready_timeout=10, **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)
