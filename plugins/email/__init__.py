"""The ``email`` channel: for agencies on no network, the document by e-mail.

The XML goes as an attachment (byte for byte as validated), the readable
rendering as the HTML body and, where a PDF tool is available, as a PDF
attachment. Bounces arrive as RFC 3464 reports saved in ``bounce_dir``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gateway.channels import ChannelContract, ChannelType, FailureCase
from gateway.hookspecs import hookimpl
from gateway.registry import Registry

from .channel import EmailChannel, recipient

__version__ = "1.0.0"

SETTINGS_HELP = {
    "smtp_host": "SMTP server host name",
    "smtp_port": "port (default 587 for starttls, 465 for tls, 25 for none)",
    "security": "starttls (default), tls (implicit TLS) or none (with a username only "
                "for a relay on this machine)",
    "username": "SMTP login (optional)",
    "password_env": "environment variable holding the SMTP password",
    "sender": "From address; its domain names the Message-IDs",
    "ca_file": "PEM file of a private CA that signed the server's certificate",
    "timeout": "seconds per SMTP exchange (default 30)",
    "to": "send everything to this address instead of the agency's own",
    "recipients": "table of agency OIN = address, overriding the directory's email",
    "pdf": "attach a PDF of the rendering when a tool is found (default true)",
    "bounce_dir": "folder where RFC 3464 bounce reports (.eml) are dropped (optional)",
    "poll_interval": "seconds between bounce_dir scans (default 30)",
}


@asynccontextmanager
async def _smtp_server(scratch: Path, reply: str | None) -> AsyncIterator[Mapping[str, Any]]:
    from .testserver import LocalSmtp

    async with LocalSmtp(refuse_all=reply) as server:
        yield {"smtp_host": server.host, "smtp_port": server.port, "security": "none",
               "sender": "gateway@supplier.example", "to": "agency@example.org",
               "timeout": 5, "pdf": False}


@asynccontextmanager
async def _working(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _smtp_server(scratch, None) as settings:
        yield settings


@asynccontextmanager
async def _busy(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _smtp_server(scratch, "451 4.3.0 Mailbox busy, try later") as settings:
        yield settings


@asynccontextmanager
async def _refused(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _smtp_server(scratch, "550 5.1.1 No such user") as settings:
        yield settings


@hookimpl
def register_channels(registry: Registry) -> None:
    registry.add_channel(
        ChannelType(
            name="email",
            factory=EmailChannel,
            description="Send documents by e-mail over SMTP (STARTTLS or TLS); bounces from "
                        "a folder of RFC 3464 reports",
            settings_help=SETTINGS_HELP,
            recipient=recipient,
            contract=ChannelContract(
                working=_working,
                failures=(FailureCase("recipient busy (451)", _busy, "retryable"),
                          FailureCase("recipient unknown (550)", _refused, "final")),
            ),
        )
    )
