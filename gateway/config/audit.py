"""The audit trail of configuration changes, one JSON object per line.

A plain file, so that a change made with the CLI on a machine where no
gateway runs is still recorded. A running gateway copies the file's new
lines, and every configuration it loads, into the store's audit table
(:class:`StoreAuditor`), where the API and operators read them.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from gateway.config.changes import config_changes
from gateway.config.model import GatewayConfig
from gateway.errors import GatewayError
from gateway.store.model import AuditRecord

if TYPE_CHECKING:
    from gateway.config.holder import ConfigHolder
    from gateway.store.base import Store

log = logging.getLogger(__name__)

RELOAD_ACTOR = "gateway"
RELOAD_ACTION = "config-reload"


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

    def check_writable(self) -> None:
        """Raise OSError unless a record could be appended now (the file is created)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640))

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


IMPORT_SOURCE = "audit-file"


class StoreAuditor:
    """Copies configuration changes into the store's audit table while a gateway runs.

    Two sources: every configuration the running gateway swaps in (with what
    changed, from :func:`gateway.config.changes.config_changes`), and the
    JSON Lines file the CLI writes, so a `gateway agencies switch` made while
    no gateway ran, or while one runs, reaches the store with its who and
    why. File lines are imported once: each stored copy remembers its file
    and line number.
    """

    def __init__(self, store: Store, holder: ConfigHolder) -> None:
        self.store = store
        self.holder = holder
        self.file = AuditLog(holder.current().gateway.audit_log)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._imported = 0
        self._file_size = -1
        self._pending: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Import file lines not yet in the store, then follow reloads."""
        self._loop = asyncio.get_running_loop()
        path = str(self.file.path)
        # Operator actions share the table: page back until the newest import of this
        # file (line numbers only grow), or the table's start.
        before: int | None = None
        while not self._imported:
            records = await self.store.audit_log(limit=1000, before=before)
            for record in records:
                detail = record.detail
                if detail.get("source") == IMPORT_SOURCE and detail.get("file") == path:
                    self._imported = max(self._imported, int(detail.get("line", 0)))
            if len(records) < 1000:
                break
            before = records[-1].seq
        await self.import_file()
        self.holder.subscribe(self._changed)

    def _changed(self, old: GatewayConfig, new: GatewayConfig, version: int) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # Reloads are noticed in whatever thread asked for the configuration.
        loop.call_soon_threadsafe(self._spawn, old, new, version)

    def _spawn(self, old: GatewayConfig, new: GatewayConfig, version: int) -> None:
        task = asyncio.get_running_loop().create_task(self.record_reload(old, new, version))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def record_reload(self, old: GatewayConfig, new: GatewayConfig, version: int) -> None:
        changes = config_changes(old, new)
        try:
            await self.store.append_audit(AuditRecord(
                actor=RELOAD_ACTOR, action=RELOAD_ACTION, subject=str(new.path),
                detail={"version": version, "changes": changes},
            ))
            await self.import_file()
        except (GatewayError, OSError):
            log.exception("configuration change (version %d) not recorded in the store",
                          version)

    async def import_file(self) -> int:
        """Copy lines the audit file gained since the last look; returns how many."""
        async with self._lock:
            try:
                size = self.file.path.stat().st_size
            except FileNotFoundError:
                return 0
            if size == self._file_size:
                return 0
            entries = await asyncio.to_thread(self.file.read)
            path = str(self.file.path)
            new: list[AuditRecord] = []
            for number, entry in enumerate(entries, start=1):
                if number <= self._imported:
                    continue
                record = AuditRecord.from_mapping(entry)
                detail = {**record.detail, "source": IMPORT_SOURCE, "file": path,
                          "line": number}
                new.append(attrs.evolve(record, detail=detail))
            # Another gateway instance following the same file may have copied some of
            # them since this one last looked: the store skips those.
            copied = await self.store.import_audit(new, source=IMPORT_SOURCE, file=path)
            self._imported = len(entries)
            self._file_size = size
            return copied

    async def watch(self, interval: float | None = None) -> None:
        """Look at the file and the audit file every ``interval`` s, also while no message
        asks for the configuration; run as a task until cancelled."""
        while True:
            await asyncio.sleep(interval or max(self.holder.check_interval, 0.05))
            try:
                await asyncio.to_thread(self.holder.current)
                await self.import_file()
            except (GatewayError, OSError):
                log.exception("cannot copy configuration changes into the store")

    async def flush(self) -> None:
        """Wait for reload records still being written (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
