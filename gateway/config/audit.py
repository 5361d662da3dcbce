"""The audit trail of configuration changes, one JSON object per line.

A plain file for now, so that a change made with the CLI on a machine where
no gateway runs is still recorded. The class is small on purpose: the store
can take over its two methods later without callers noticing.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.errors import GatewayError


class AuditLog:
    """Append-only JSON Lines file of configuration changes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, record: Mapping[str, Any]) -> None:
        """Write ``record`` as one line and make it durable before returning."""
        line = json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write() on an O_APPEND descriptor keeps lines from concurrent
        # writers whole; fsync because an audit record that vanishes on a
        # crash is worse than a slow CLI command.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        """All records, oldest first; an empty list if nothing was ever written."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        records: list[dict[str, Any]] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GatewayError(
                    f"{self.path}:{number}: audit record is not valid JSON: {exc.msg}"
                ) from None
            if not isinstance(record, dict):
                raise GatewayError(f"{self.path}:{number}: audit record is not a JSON object")
            records.append(record)
        return records


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def default_actor() -> str:
    """``$USER@hostname``: who made a change when the caller does not say."""
    user = os.environ.get("USER") or os.environ.get("USERNAME")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry, e.g. an arbitrary uid in a container
            user = "unknown"
    return f"{user}@{socket.gethostname()}"
