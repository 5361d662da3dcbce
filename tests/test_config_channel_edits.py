"""A reload that edits a running channel's table says, in /health, that it waits for a restart.

The running channel keeps the settings it started with; the example
configuration says which edits apply at once and which need a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from gateway.channels import Accepted, Channel, ChannelType, OutboundMessage, SendOutcome
from gateway.errors import GatewayError
from gateway.hookspecs import hookimpl
from gateway.pluginmanager import make_plugin_manager
from gateway.routing import route
from gateway.service import GatewayService

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"
RWS = "00000001006492083000"  # its invoice route: the portal, with e-mail as fallback


@asynccontextmanager
async def _started(path: Path, plugins: Any = None) -> AsyncIterator[GatewayService]:
    """A started service that reads an edit of its file at once (check_interval 0)."""
    service = GatewayService(path, plugins)
    await service.start()
    try:
        service.config_holder.check_interval = 0
        yield service
    finally:
        await service.stop()


def _config(tmp_path: Path) -> Path:
    text = EXAMPLE.read_text("utf-8").replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    path = tmp_path / "gateway.toml"
    path.write_text(text, "utf-8")
    return path


async def test_a_channel_settings_edit_is_applied_or_reported(tmp_path: Path) -> None:
    path = _config(tmp_path)
    async with _started(path) as service:
        old_outbox = service.channels["folder"].outbox  # type: ignore[attr-defined]
        new_outbox = tmp_path / "out-new"
        text = path.read_text("utf-8")
        assert '[channels.folder]\npath = "out"' in text
        path.write_text(text.replace('[channels.folder]\npath = "out"',
                                     f'[channels.folder]\npath = "{new_outbox}"'), "utf-8")
        assert service.config_holder.current().channels["folder"].settings["path"] == str(
            new_outbox)
        await asyncio.sleep(0.2)  # reload listeners run on the loop

        report = await service.health()
        applied = service.channels["folder"].outbox == new_outbox  # type: ignore[attr-defined]
        told = any("folder" in p and "restart" in p for p in report["problems"])
        assert applied or told, (
            f"config version {report['config']['version']} names {new_outbox}, the running "
            f"folder channel still writes to {old_outbox}, and /health says nothing: "
            f"{report['problems']}")


FOLDER_TABLE = '[channels.folder]\npath = "out"'


def _with_folder_table(path: Path, original: str, table: str) -> None:
    assert FOLDER_TABLE in original
    path.write_text(original.replace(FOLDER_TABLE, table), "utf-8")


async def _folder_notes(service: GatewayService) -> list[str]:
    """/health's notes on the folder channel once the edited file is read."""
    service.config_holder.current()  # read now (check_interval 0), not in a second
    await asyncio.sleep(0.2)  # a channel the edit starts starts on the loop
    report = await service.health()
    return [p for p in report["problems"] if p.startswith("channel folder:")]


async def test_a_running_channel_disabled_by_an_edit_is_reported_as_disabled(
    tmp_path: Path,
) -> None:
    # "its table changed; it runs with the settings it started with" left the operator
    # guessing whether enabled = false had taken effect: routes fall back at once, the
    # channel itself runs on until the restart.
    path = _config(tmp_path)
    async with _started(path) as service:
        _with_folder_table(path, path.read_text("utf-8"),
                           FOLDER_TABLE.replace("]\n", "]\nenabled = false\n"))
        [problem] = await _folder_notes(service)
        assert not service.config_holder.current().channels["folder"].enabled
        assert "disabled" in problem
        assert "fallback" in problem
        assert "restart" in problem


async def test_new_settings_the_plugin_refuses_are_reported_before_the_restart(
    tmp_path: Path,
) -> None:
    # A typo in a running channel's table changed nothing until the restart, when the
    # channel would not start: its plugin reads the new settings at the edit and says so.
    path = _config(tmp_path)
    async with _started(path) as service:
        original = path.read_text("utf-8")
        _with_folder_table(path, original, FOLDER_TABLE + "\npoll_intervall = 5")
        [problem] = await _folder_notes(service)
        assert "poll_intervall" in service.config_holder.current().channels["folder"].settings
        assert "refuses the new settings" in problem
        assert "poll_intervall" in problem
        assert "would not start" in problem
        assert service.channels["folder"].outbox is not None  # type: ignore[attr-defined]

        path.write_text(original, "utf-8")  # put right: the note goes
        assert not await _folder_notes(service)


class _LoopChannel(Channel):
    """Takes the running loop in its factory, as a channel may that hands results back
    from a thread later: valid, and no refusal of its settings."""

    def __init__(self, name: str, settings: Any) -> None:
        super().__init__(name, settings)
        self.loop = asyncio.get_running_loop()

    async def send(self, message: OutboundMessage) -> SendOutcome:
        return Accepted("x")


class _LoopPlugin:
    @hookimpl
    def register_channels(self, registry: Any) -> None:
        registry.add_channel(ChannelType(name="looped", factory=_LoopChannel))


async def test_an_edit_read_by_the_watcher_thread_is_not_taken_for_a_refusal(
    tmp_path: Path,
) -> None:
    # The file watcher reads the file in a worker thread, where the factory check runs
    # too: only its ValueError is a refusal, not an error of running off the loop.
    path = _config(tmp_path)
    text = path.read_text("utf-8") + '\n[channels.looped]\ntype = "looped"\nlabel = "a"\n'
    path.write_text(text, "utf-8")
    async with _started(path, make_plugin_manager(plugins=[("looped", _LoopPlugin())])) as service:
        assert "looped" in service.channels
        path.write_text(text.replace('label = "a"', 'label = "b"'), "utf-8")
        await asyncio.to_thread(service.config_holder.current)  # as the auditor's watch does
        [note] = [p for p in (await service.health())["problems"]
                  if p.startswith("channel looped:")]
        assert "table in the configuration changed" in note
        assert "refuses" not in note


async def test_the_disabled_note_says_a_route_without_fallback_refuses(tmp_path: Path) -> None:
    path = _config(tmp_path)
    routed = 'channel = "portal"\nformat = "nlcius:invoice:1.0"\n'
    text = path.read_text("utf-8")
    assert routed + 'fallback_channel = "email"\n' in text
    text = text.replace(routed + 'fallback_channel = "email"\n', routed)  # no fallback
    path.write_text(text, "utf-8")
    async with _started(path) as service:
        path.write_text(text.replace("[channels.portal]\n",
                                     "[channels.portal]\nenabled = false\n"), "utf-8")
        config = service.config_holder.current()
        with pytest.raises(GatewayError, match="no fallback_channel"):
            route(config, RWS, "invoice")
        await asyncio.sleep(0.2)
        [note] = [p for p in (await service.health())["problems"]
                  if p.startswith("channel portal:")]
        assert "refused where the route has none" in note
