"""Log output for ``gateway run``: plain text for a person, JSON lines for a collector.

Records about a message carry its id (``extra={"message_id": ...}``), so
one message's story can be pulled from the log. Only a fixed set of extra
fields is written, the message text and each part of an error's traceback
are cut at a bounded length so a whole payload never lands in the log, and
any configured secret, or password in a URL (``scheme://user:password@``,
``?password=``), that still finds its way into a line is replaced before the
line is written.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TextIO

from gateway.errors import redact_urls

# The extra fields a record may carry into the output; anything else stays out.
FIELDS = (
    "message_id", "original", "channel", "kind", "stage", "agency_oin", "outcome", "attempt",
    "worker", "transport_id",
)
MAX_MESSAGE_CHARS = 2000
REDACTED = "[redacted]"

SecretSource = Callable[[], Iterable[str | None]]

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def _cut(text: str) -> str:
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[:MAX_MESSAGE_CHARS] + f"... [{len(text) - MAX_MESSAGE_CHARS} more chars]"
    return text


def _traceback(exc_info: ExcInfo) -> str:
    """The traceback as logging writes it, each frame and exception text cut on its own.

    An exception may quote the document it choked on; cutting each part rather
    than the whole keeps the frames and the start of every message in a chain.
    """
    kind, value, tb = exc_info
    if kind is None or value is None:
        return ""
    parts = traceback.TracebackException(kind, value, tb).format()
    return "".join(_cut(part) for part in parts).rstrip("\n")


class _Redacting:
    def __init__(self, secrets: SecretSource | None) -> None:
        self._secrets = secrets

    def hide(self, text: str) -> str:
        """``text`` with every configured secret and every password in a URL replaced."""
        text = redact_urls(text)
        if self._secrets is not None:
            # Longest first: a secret that contains another would otherwise keep its rest.
            for secret in sorted(filter(None, self._secrets()), key=len, reverse=True):
                # Very short values would blank out ordinary words; nobody uses them as secrets.
                if len(secret) >= 4:
                    text = text.replace(secret, REDACTED)
        return text

    def clean(self, text: str) -> str:
        """``text`` without secrets, cut to a bounded length."""
        return _cut(self.hide(text))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in FIELDS if hasattr(record, name)}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the known extras, error."""

    def __init__(self, secrets: SecretSource | None = None) -> None:
        super().__init__()
        self._redact = _Redacting(secrets)

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._redact.clean(record.getMessage()),
        }
        for name, value in _extras(record).items():
            entry[name] = value if isinstance(value, int | float | bool | None) else \
                self._redact.clean(str(value))
        if record.exc_info and record.exc_info[1] is not None:
            entry["error"] = self._redact.hide(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)

    def formatException(self, ei: Any) -> str:
        return _traceback(ei)


class TextFormatter(logging.Formatter):
    """``time level logger message [message_id=...]``."""

    def __init__(self, secrets: SecretSource | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._redact = _Redacting(secrets)

    def format(self, record: logging.LogRecord) -> str:
        # A copy with the cleaned text: other handlers still see the record as logged.
        cleaned = logging.makeLogRecord(record.__dict__)
        cleaned.msg, cleaned.args = self._redact.clean(record.getMessage()), None
        # Another handler may have cached its own, uncut, traceback text on the record.
        cleaned.exc_text = None
        line = self._redact.hide(super().format(cleaned))
        extras = " ".join(f"{k}={self._redact.clean(str(v))}"
                          for k, v in _extras(record).items())
        return f"{line} [{extras}]" if extras else line

    def formatException(self, ei: Any) -> str:
        return _traceback(ei)


def default_format(stream: TextIO) -> str:
    """Text on a terminal, JSON when the output goes to a file or a collector."""
    isatty = getattr(stream, "isatty", None)
    return "text" if isatty is not None and isatty() else "json"


def setup_logging(
    level: str = "INFO", log_format: str | None = None, *, secrets: SecretSource | None = None,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in ``log_format``; returns the handler."""
    out = stream or sys.stderr
    chosen = log_format or default_format(out)
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(secrets) if chosen == "json" else TextFormatter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
