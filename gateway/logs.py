"""Log output for ``gateway run``: plain text for a person, JSON lines for a collector.

Records about a message carry its id (``extra={"message_id": ...}``), so
one message's story can be pulled from the log. Only a fixed set of extra
fields is written, the message text is cut at a bounded length so a whole
payload never lands in the log, and any configured secret that still finds
its way into a line is replaced before the line is written.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

# The extra fields a record may carry into the output; anything else stays out.
FIELDS = (
    "message_id", "original", "channel", "kind", "stage", "agency_oin", "outcome", "attempt",
    "worker", "transport_id",
)
MAX_MESSAGE_CHARS = 2000
REDACTED = "[redacted]"

SecretSource = Callable[[], Iterable[str | None]]


class _Redacting:
    def __init__(self, secrets: SecretSource | None) -> None:
        self._secrets = secrets

    def hide(self, text: str) -> str:
        """``text`` with every configured secret replaced."""
        if self._secrets is not None:
            for secret in self._secrets():
                # Very short values would blank out ordinary words; nobody uses them as secrets.
                if secret and len(secret) >= 4:
                    text = text.replace(secret, REDACTED)
        return text

    def clean(self, text: str) -> str:
        """``text`` without secrets, cut to a bounded length."""
        text = self.hide(text)
        if len(text) > MAX_MESSAGE_CHARS:
            text = text[:MAX_MESSAGE_CHARS] + f"... [{len(text) - MAX_MESSAGE_CHARS} more chars]"
        return text


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


class TextFormatter(logging.Formatter):
    """``time level logger message [message_id=...]``."""

    def __init__(self, secrets: SecretSource | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")
        self._redact = _Redacting(secrets)

    def format(self, record: logging.LogRecord) -> str:
        # A copy with the cleaned text: other handlers still see the record as logged.
        cleaned = logging.makeLogRecord(record.__dict__)
        cleaned.msg, cleaned.args = self._redact.clean(record.getMessage()), None
        line = self._redact.hide(super().format(cleaned))
        extras = " ".join(f"{k}={self._redact.clean(str(v))}"
                          for k, v in _extras(record).items())
        return f"{line} [{extras}]" if extras else line


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
