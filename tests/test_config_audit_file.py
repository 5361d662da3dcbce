"""The audit file as the running gateway copies it: torn lines, rotation, older imports.

One unreadable line neither stops the gateway nor hides the lines after it;
a line is known by its sha256, so a rotated or truncated file is copied from
its first line on, and what an older gateway copied by line number is not
copied again.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text

from gateway.config import switch_route
from gateway.config.audit import IMPORT_SOURCE, AuditLog
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import AuditRecord, Store, open_store

TORN = '{"time": "2025-01-01T00:00:00Z", "actor": "piet@o\n'


def write_config(tmp_path: Path, database: str | None = None) -> Path:
    path = tmp_path / "gateway.toml"
    url = database or f"sqlite:///{tmp_path / 'gateway.db'}"
    path.write_text(config_text(tmp_path, database=url), "utf-8")
    return path


def gateway(path: Path, *, check_interval: float = 0.05) -> GatewayService:
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    service.config_holder.check_interval = check_interval
    return service


async def switches_in_store(store: Store, *, within: float = 3.0) -> list[AuditRecord]:
    """The imported `agencies switch` records, once they stop changing (or ``within`` s)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    found: list[AuditRecord] = []
    while loop.time() < deadline:
        found = [r for r in await store.audit_log() if r.action == "agencies.switch"]
        await asyncio.sleep(0.05)
    return found


async def reasons_in(store_url: str) -> list[str | None]:
    async with open_store(store_url) as store:
        return [r.reason for r in reversed(await store.audit_log())
                if r.action == "agencies.switch"]


async def run_once(path: Path) -> None:
    service = gateway(path)
    await service.start()
    await service.stop()


async def test_a_torn_line_in_the_audit_file_does_not_hide_later_switches(
    tmp_path: Path,
) -> None:
    """One unreadable line (a write cut short by a full disk or a crash) must not stop
    the later switches from reaching the store's audit table."""
    path = write_config(tmp_path)
    service = gateway(path)
    await service.start()
    try:
        assert service.store is not None
        audit_file = service.config.gateway.audit_log
        switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="first")
        with audit_file.open("a", encoding="utf-8") as torn:
            torn.write(TORN)
        switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="jan@ops", reason="back")
        reasons = [r.reason for r in await switches_in_store(service.store)]
    finally:
        await service.stop()
    assert "back" in reasons, (
        f"the switch after the torn line never reached the store; it has only {reasons}")


async def test_switches_after_the_audit_file_is_rotated_reach_the_store(tmp_path: Path) -> None:
    """A rotated (or truncated) audit file starts at line 1 again: its first lines are
    new records, not lines already copied."""
    path = write_config(tmp_path)
    service = gateway(path)
    await service.start()
    try:
        assert service.store is not None
        audit_file = service.config.gateway.audit_log
        switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="before")
        assert [r.reason for r in await switches_in_store(service.store, within=1.0)] == [
            "before"]
        audit_file.rename(audit_file.with_name(audit_file.name + ".1"))  # logrotate
        switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="jan@ops", reason="after")
        reasons = [r.reason for r in await switches_in_store(service.store, within=1.0)]
    finally:
        await service.stop()
    assert "after" in reasons, f"the switch after rotation is not in the store: {reasons}"


async def test_a_torn_line_in_the_audit_file_does_not_stop_the_gateway_starting(
    tmp_path: Path,
) -> None:
    """After a crash that tore the last audit line, `gateway run` starts (the
    configuration itself is fine) and names the line among its problems."""
    path = write_config(tmp_path)
    audit_file = tmp_path / "data" / "audit.jsonl"
    audit_file.parent.mkdir(parents=True)
    audit_file.write_text(TORN, "utf-8")
    service = gateway(path)
    error = ""
    problems: list[str] = []
    try:
        await service.start()
        started = True
        assert service.auditor is not None
        problems = service.auditor.problems()
    except Exception as exc:  # what start() lets out is the finding
        started = False
        error = f"{type(exc).__name__}: {exc}"
    finally:
        await service.stop()
    assert started, f"the gateway does not start because of one audit line: {error}"
    assert [p for p in problems if f"{audit_file}, line 1: not valid JSON" in p], problems


async def test_an_unreadable_line_is_logged_once_and_named_until_it_is_mended(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = write_config(tmp_path)
    service = gateway(path)
    await service.start()
    try:
        assert service.store is not None
        assert service.auditor is not None
        audit_file = service.config.gateway.audit_log
        switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="first")
        with audit_file.open("a", encoding="utf-8") as torn:
            torn.write(TORN)
            # JSON, but its time has no zone: no record the store can take either.
            torn.write('{"time": "2025-01-01T00:00:00", "actor": "piet@ops", "action": "x"}\n')
        switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="jan@ops", reason="back")
        for _ in range(100):  # copied, so the file is read again below with the lines in it
            if len([r for r in await service.store.audit_log() if r.reason == "back"]) == 1:
                break
            await asyncio.sleep(0.02)
        switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="again")
        assert [r.reason for r in await switches_in_store(service.store, within=1.0)] == [
            "again", "back", "first"]
        problems = service.auditor.problems()
        reported = [p for p in (await service.health())["problems"] if p.startswith("audit file")]
        # The operator takes the two lines out: nothing is named, nothing copied twice.
        lines = audit_file.read_text("utf-8").splitlines(keepends=True)
        audit_file.write_text("".join(lines[:1] + lines[3:]), "utf-8")
        for _ in range(100):
            if not service.auditor.problems():
                break
            await asyncio.sleep(0.02)
        mended = service.auditor.problems()
        after = [r.reason for r in await switches_in_store(service.store, within=0.5)]
    finally:
        await service.stop()
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"audit file {audit_file}, line 2: not valid JSON ("), problems
    assert problems[1].startswith(f"audit file {audit_file}, line 3: not an audit record ("
                                  "datetime 2025-01-01T00:00:00 has no time zone"), problems
    logged = [r.getMessage() for r in caplog.records
              if r.name == "gateway.config.audit" and r.levelno == logging.WARNING]
    assert logged == problems  # once each, though the file was read again after them
    assert reported == problems  # and /health names them
    assert mended == []
    assert after == ["again", "back", "first"]


@pytest.mark.parametrize("rotate", ["truncate", "rename"])
async def test_a_file_rotated_while_no_gateway_ran_is_copied_from_its_first_line(
    tmp_path: Path, store_url: str, rotate: str,
) -> None:
    path = write_config(tmp_path, store_url)
    audit_file = tmp_path / "data" / "audit.jsonl"
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="before")
    await run_once(path)
    if rotate == "truncate":  # logrotate's copytruncate: the same inode, shorter
        audit_file.write_bytes(b"")
    else:
        audit_file.rename(audit_file.with_name(audit_file.name + ".1"))
    switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="jan@ops", reason="after")
    await run_once(path)
    await run_once(path)  # a restart copies nothing twice
    assert await reasons_in(store_url) == ["before", "after"]


async def test_lines_an_older_gateway_copied_are_not_copied_again(
    tmp_path: Path, store_url: str,
) -> None:
    """Before lines carried their sha256 the store knew them by file and line number."""
    path = write_config(tmp_path, store_url)
    audit_file = tmp_path / "data" / "audit.jsonl"
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="first")
    switch_route(path, AGENCY_OIN, "invoice", "recorder", actor="jan@ops", reason="back")
    async with open_store(store_url) as store:
        await store.migrate()
        for number, entry in enumerate(AuditLog(audit_file).read(), start=1):
            record = AuditRecord.from_mapping(entry)  # as the older gateway stored a line
            await store.append_audit(attrs.evolve(record, detail={
                **record.detail, "source": IMPORT_SOURCE, "file": str(audit_file),
                "line": number}))
    await run_once(path)
    assert await reasons_in(store_url) == ["first", "back"]
    # Rotated afterwards: line 1 of the new file is a new record, though not by line number.
    audit_file.rename(audit_file.with_name(audit_file.name + ".1"))
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops", reason="after")
    await run_once(path)
    assert await reasons_in(store_url) == ["first", "back", "after"]


# Run in a child process: RLIMIT_FSIZE makes the kernel write only part of the line,
# as a full disk does.
SHORT_WRITE = """
import resource, signal, sys
from pathlib import Path
from gateway.config.audit import AuditLog
path = Path(sys.argv[1])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = path.stat().st_size + 20
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    AuditLog(path).append({"actor": "jan@ops", "action": "agencies.switch", "reason": "x" * 200})
except OSError as exc:
    print("refused:", exc.strerror)
else:
    print("written")
"""


def test_a_record_written_in_part_fails_and_the_next_one_starts_a_line(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append({"actor": "jan@ops", "action": "agencies.switch", "reason": "first"})
    child = subprocess.run([sys.executable, "-c", SHORT_WRITE, str(log.path)],
                           capture_output=True, text=True, timeout=60, check=True)
    assert child.stdout.startswith("refused: only 20 of "), child.stdout + child.stderr
    log.append({"actor": "jan@ops", "action": "agencies.switch", "reason": "next"})
    lines = log.lines()
    assert [(line.number, line.problem is None) for line in lines] == [
        (1, True), (2, False), (3, True)]
    assert [entry["reason"] for entry in log.read()] == ["first", "next"]


def test_a_reason_with_a_unicode_line_separator_is_one_record(tmp_path: Path) -> None:
    """json.dumps(ensure_ascii=False) keeps U+2028 as it is; str.splitlines splits there."""
    path = write_config(tmp_path)
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="jan@ops",
                 reason="one\u2028two")
    [entry] = AuditLog(tmp_path / "data" / "audit.jsonl").read()
    assert entry["reason"] == "one\u2028two"
