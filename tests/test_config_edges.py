"""Configuration at its edges: links, in-place saves, moved lines, spelled OINs, audits, reloads."""

from __future__ import annotations

import asyncio
import os
import textwrap
import tomllib
from pathlib import Path

import pytest
from pipeline_support import AGENCY_OIN, FAST, RecorderPlugin, config_text
from test_config import BASE  # the small valid file both break in their own ways

from gateway.config import ConfigHolder, check_against_registry, parse_config, switch_route
from gateway.config.audit import StoreAuditor
from gateway.config.changes import config_changes
from gateway.errors import GatewayError
from gateway.pluginmanager import make_plugin_manager
from gateway.routing import route
from gateway.service import GatewayService
from gateway.store import AuditRecord, open_store

OIN = "00000001003214345000"
OTHER = "00000001007465075000"


def _invoice_route(path: Path, key: str = OIN) -> dict[str, str]:
    route: dict[str, str] = tomllib.loads(path.read_text("utf-8"))["agencies"][key][
        "documents"]["invoice"]
    return route


# -- switch ------------------------------------------------------------------------------------


def test_switch_through_a_symlink_edits_the_target_and_keeps_the_link(tmp_path: Path) -> None:
    """Operators keep the file in a repository and link it (or a ConfigMap-style ..data link).

    switch_route renames its temporary file over the *link*: the link becomes a
    plain file, the real file keeps the old route, and every later edit of the
    real file is invisible to the gateway (which watches the path).
    """
    real = tmp_path / "repo" / "gateway.toml"
    real.parent.mkdir()
    real.write_text(BASE, "utf-8")
    link = tmp_path / "gateway.toml"
    link.symlink_to(real)

    switch_route(link, OIN, "invoice", "portal", actor="test")

    assert link.is_symlink(), "the symlink was replaced by a regular file"
    assert _invoice_route(real)["channel"] == "portal", "the real file was not switched"


# -- reload ------------------------------------------------------------------------------------


def test_holder_notices_an_in_place_edit_within_one_timestamp_tick(tmp_path: Path) -> None:
    """An in-place save (vim backupcopy=yes, `cat > file`, a config tool writing in place)
    of the same size within the file system's timestamp granularity (jiffies on kernels
    without multigrain timestamps, 1-2 s on NFS/SMB/FAT) keeps dev, inode, mtime and size:
    the holder's signature does not change and the edit is never applied. The mtime is put
    back with os.utime to simulate the coarse clock deterministically.
    """
    path = tmp_path / "gateway.toml"
    path.write_text(BASE, "utf-8")
    before = os.stat(path)
    holder = ConfigHolder(path, check_interval=0)
    assert route(holder.current(), OIN, "invoice").channel == "digipoort"

    edited = BASE.replace('channel = "digipoort"', 'channel = "portal"   ')
    assert len(edited) == len(BASE)
    with open(path, "r+", encoding="utf-8") as handle:  # in place: same inode
        handle.write(edited)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same clock tick

    assert route(holder.current(), OIN, "invoice").channel == "portal"


def test_reload_with_only_moved_lines_names_the_new_lines(tmp_path: Path) -> None:
    """A reload whose configuration compares equal (locator has eq=False) must still take
    the new KeyLocator: route explanations and the registry problems shown on /health
    name the lines that hold the keys now."""
    path = tmp_path / "gateway.toml"
    path.write_text(BASE, "utf-8")
    holder = ConfigHolder(path, check_interval=0)
    holder.current()

    text = "# edited by ops\n# see ticket 42\n# reviewed\n" + BASE
    path.write_text(text, "utf-8")
    config = holder.current()
    lines = text.splitlines()
    header = lines.index(f'[agencies."{OIN}".documents.invoice]') + 1
    format_line = lines.index('format = "ubl-ohnl:invoice:1.9"') + 1

    [problem] = check_against_registry(config, {"other:invoice:1"}, {"digipoort", "portal"})
    assert problem.line == format_line, f"error points at line {problem.line}"
    explanation = route(config, OIN, "invoice").explanation[1]
    assert f"(line {header})" in explanation, explanation


def test_registry_error_for_an_agency_spelled_with_spaces_points_at_its_own_line(
    tmp_path: Path,
) -> None:
    """The loader accepts an OIN key written with spaces (OIN() normalises), and
    check_against_registry looks up ('agencies', <normalised OIN>, ...) in the locator:
    without an alias it would fall back to ('agencies',), the first agency header of
    the file, which is another agency."""
    spaced = "0000 0001 0074 6507 5000"
    text = BASE + textwrap.dedent(f'''
        [agencies."{spaced}"]
        name = "Ministerie van Justitie"

        [agencies."{spaced}".documents.invoice]
        channel = "portal"
        format = "missing:invoice:1"
    ''')
    config = parse_config(text, tmp_path / "gateway.toml")
    installed = {"ubl-ohnl:invoice:1.9"}
    [problem] = check_against_registry(config, installed, {"digipoort", "portal"})
    lines = text.splitlines()
    expected = lines.index('format = "missing:invoice:1"') + 1
    assert problem.line is not None
    assert problem.line == expected, f"points at line {problem.line}: {lines[problem.line - 1]!r}"


# -- audit -------------------------------------------------------------------------------------


def test_config_changes_reports_api_token_changes(tmp_path: Path) -> None:
    """A reload that adds an API token with the operate scope is recorded as a change of
    [api] (token names only, never secrets)."""
    old = parse_config(BASE, tmp_path / "gateway.toml")
    new = parse_config(
        BASE + '\n[api.tokens.robot]\ntoken_env = "ROBOT"\nscopes = ["operate"]\n',
        tmp_path / "gateway.toml",
    )
    assert old != new
    changes = config_changes(old, new)
    assert changes, "an added operate token leaves an empty change record"
    assert "api" in changes


async def test_audit_file_lines_are_not_imported_twice_after_many_operator_actions(
    tmp_path: Path,
) -> None:
    """Operator actions (retry, cancel, reroute) share the audit table: after 1000 of them
    a restart must still find the last imported line, not import the whole file again."""
    path = tmp_path / "gateway.toml"
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    path.write_text(config_text(tmp_path, database=url), "utf-8")
    switch_route(path, AGENCY_OIN, "invoice", "folder", actor="piet@ops", reason="first")
    holder = ConfigHolder(path)
    async with open_store(url) as store:
        await store.migrate()
        await StoreAuditor(store, holder).start()
        for i in range(1000):
            await store.append_audit(AuditRecord(actor="ops", action="message.retry",
                                                 subject=f"m{i}"))
        await StoreAuditor(store, holder).start()  # the next gateway start
        records = await store.audit_log(limit=5000)
    switches = [r for r in records if r.action == "agencies.switch"]
    assert len(switches) == 1, f"the switch is in the store {len(switches)} times"


# -- service -----------------------------------------------------------------------------------


async def test_a_channel_enabled_by_a_reload_is_started(tmp_path: Path) -> None:
    """Routes may be switched, without a restart, to a channel that the same edit enables
    (the example's digipoort-pre) or adds: the service starts it, or the dispatcher would
    find no such channel and every message retry 'channel ... is not running'."""
    path = tmp_path / "gateway.toml"
    text = config_text(tmp_path) + '\n[channels.spare]\ntype = "recorder"\nenabled = false\n'
    path.write_text(text, "utf-8")
    plugin = RecorderPlugin()
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", plugin)]),
                             dispatch=FAST)
    await service.start()
    try:
        path.write_text(text.replace("enabled = false", "enabled = true"), "utf-8")
        switch_route(path, AGENCY_OIN, "invoice", "spare", actor="ops")
        assert service.config_holder.reload() or service.config_holder.version > 1
        assert route(service.config, AGENCY_OIN, "invoice").channel == "spare"
        await asyncio.sleep(0.2)
        assert "spare" in service.channels, (
            f"running channels: {sorted(service.channels)}; routed messages cannot be sent"
        )
    finally:
        await service.stop()


async def test_run_forever_cleans_up_when_start_fails(tmp_path: Path) -> None:
    """When start fails late (the listen port is taken), run_forever still stops what it
    started: the store, the channels, dispatcher, delivery and background tasks."""
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path).replace('listen = "127.0.0.1:0"',
                                                  f'listen = "127.0.0.1:{port}"'), "utf-8")
    service = GatewayService(path, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
                             dispatch=FAST)
    try:
        with pytest.raises(GatewayError, match=r"(?i)cannot listen on .*address already in use"):
            await service.run_forever()
        left = [t for t in asyncio.all_tasks()
                if t is not asyncio.current_task() and not t.done()]
        assert service.channels == {}
        assert not left, f"tasks left after the failed start: {sorted(t.get_name() for t in left)}"
    finally:
        blocker.close()
        await service.stop()


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"


def test_switch_of_a_defaulted_route_keeps_the_key_in_its_table_and_comments_in_place(
    tmp_path: Path,
) -> None:
    """Switching a route whose channel came from default_channel adds `channel = ...` to
    its table: tomlkit counts the blank line and the comment that introduce the next
    agency as the end of the table's body, and the key must not land after them."""
    path = tmp_path / "gateway.toml"
    path.write_text(EXAMPLE.read_text("utf-8"), "utf-8")
    switch_route(path, "00000001009898347000", "invoice", "email", actor="test")
    lines = path.read_text("utf-8").splitlines()
    comment = lines.index(
        "# E-invoices in NLCIUS (SI-UBL 2.0) over Peppol, with the portal as fallback.")
    assert lines[comment + 1] == '[agencies."00000001001417058000"]', lines[comment - 3:comment + 2]
    header = lines.index('[agencies."00000001009898347000".documents.invoice]')
    table = lines[header + 1:lines.index("", header)]
    assert 'channel = "email"' in table, table


def test_a_peppol_id_edited_in_case_only_is_a_reload_with_an_audited_change(
    tmp_path: Path,
) -> None:
    """Peppol ids compare without case, but go out as written: an edit of the case alone
    changed what the SBDH carries with no reload record (the holder saw "no change")."""
    path = tmp_path / "gateway.toml"
    # Schemes whose values the gateway keeps as given (9944, say, it writes in capitals).
    lower = BASE.replace('vestigingsnummer = "000012345678"\n',
                         'vestigingsnummer = "000012345678"\npeppol_id = "9930:de123456789"\n')
    lower = lower.replace('name = "Ministerie van Test"\n',
                          'name = "Ministerie van Test"\npeppol_id = "0204:991-abcde-12"\n')
    path.write_text(lower, "utf-8")
    holder = ConfigHolder(path)
    seen: list[dict[str, object]] = []
    holder.subscribe(lambda old, new, _version: seen.append(config_changes(old, new)))
    path.write_text(lower.replace("de123456789", "DE123456789")
                    .replace("991-abcde-12", "991-ABCDE-12"), "utf-8")
    assert holder.reload()
    assert str(holder.current().supplier.peppol_id) == "9930:DE123456789"
    assert seen == [{"agencies": {"changed": [OIN]}, "supplier": ["peppol_id"]}]
    # The same text again is no change.
    path.write_text(path.read_text("utf-8") + "\n", "utf-8")
    assert not holder.reload()
    assert len(seen) == 1
