"""Exceptions the core raises towards users.

Every error a user can cause names what is wrong and where. The CLI turns
:class:`GatewayError` into a one-line message and a non-zero exit status
instead of a traceback.
"""

from __future__ import annotations

import re

# Query parameters libpq and asyncpg take a secret in.
_SECRET_PARAMETERS = frozenset({"password", "sslpassword"})
# A URL as error texts quote it (aiohttp's InvalidUrlClientError gives the whole
# webhook URL, basic-auth password included): up to a space or a quote.
_URL = re.compile(r"""[A-Za-z][A-Za-z0-9+.-]*://[^\s'"<>]+""")


def redact_url(url: str) -> str:
    """``url`` as an error or a log line may quote it: every password replaced by ``***``.

    A database URL carries its password after the user name (``user:pw@``, the
    user may be empty) or as a query parameter (``?password=``); both reach
    errors that end up in the log and in /health.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        return url
    head, question, query = rest.partition("?")
    authority, slash, path = head.partition("/")
    if "@" in authority:
        # The last @ ends the credentials: an unencoded @ in a password stays hidden too.
        credentials, _, host = authority.rpartition("@")
        if ":" in credentials:
            authority = f"{credentials.partition(':')[0]}:***@{host}"
    if question:
        parts = []
        for part in query.split("&"):
            name, equals, _value = part.partition("=")
            parts.append(f"{name}=***" if equals and name.lower() in _SECRET_PARAMETERS
                         else part)
        query = "&".join(parts)
    return f"{scheme}://{authority}{slash}{path}{question}{query}"


def redact_urls(text: str) -> str:
    """``text`` with every URL in it passed through :func:`redact_url`.

    For texts that quote a URL somewhere (an HTTP client's error): they end up
    in the log, in a message's last error, and so in the API and the CLI.
    """
    return _URL.sub(lambda url: redact_url(url.group()), text) if "://" in text else text


class GatewayError(Exception):
    """Base class for errors that are the user's or the environment's, not a bug."""


class ConfigError(GatewayError):
    """The configuration file is missing, malformed or inconsistent.

    ``file``, ``line`` and ``key`` locate the problem where known.
    """

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.file:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        if self.key:
            where.append(f"key {self.key!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class PluginError(GatewayError):
    """A plugin could not be loaded, registered something invalid, or clashes with another."""


class StandardsError(GatewayError):
    """An official artifact is missing, altered or cannot be installed."""


class UnsafeXMLError(GatewayError):
    """An XML document was refused by the hardened parser (DTD, entity, size, encoding)."""
