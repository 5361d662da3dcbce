"""`gateway portal download --to DIR` writes inside DIR only, and all or nothing.

The folder it made was named after the task id in the gateway's answer: an id
of `../..` or with a `/` (from whatever answers at the configured address, or
typed by the operator) put the bundle outside DIR. A bad file name late in
the bundle was refused only after the files before it were written. The
counterpart is a real HTTP server standing at the gateway's address, and the
CLI runs as an operator would type it.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from test_peer_answer_limits import serving
from test_portal import Running, config

TASK = "01KB5Z3E8W9G6Q2M4T7X1C0V5R"


class StandIn:
    """Answers every bundle request with ``answer``; keeps the paths asked for."""

    def __init__(self) -> None:
        self.answer: dict[str, Any] = {}
        self.asked: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.asked.append(request.path)
        return web.json_response(self.answer)


def bundle(task_id: str, files: dict[str, bytes]) -> dict[str, Any]:
    return {"task_id": task_id,
            "files": {name: base64.b64encode(data).decode() for name, data in files.items()}}


@pytest.fixture
async def stand_in(tmp_path: Path) -> AsyncIterator[tuple[StandIn, Running]]:
    server = StandIn()
    async with serving(server.handle) as url:
        port = int(url.rsplit(":", 1)[1])
        # Running is used for its CLI runner only: no gateway starts here.
        yield server, Running(None, config(tmp_path, port), tmp_path)  # type: ignore[arg-type]


def written(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def written_anywhere(tmp_path: Path) -> list[str]:
    return [name for name in written(tmp_path) if name != "gateway.toml"]


@pytest.mark.parametrize("answered", ["../escaped", "..", f"{TASK}/../../escaped",
                                      "{tmp}/escaped"])
async def test_an_answered_task_id_that_leads_out_of_the_folder_is_refused(
        stand_in: tuple[StandIn, Running], tmp_path: Path, answered: str) -> None:
    server, cli = stand_in
    answered = answered.replace("{tmp}", str(tmp_path))
    server.answer = bundle(answered, {"document.html": b"<html/>"})
    target = tmp_path / "work" / "to"
    code, out, err = await cli.gateway("portal", "download", TASK, "--to", str(target))
    assert code == 2, (out, err)
    assert repr(answered) in err, err
    assert "nothing was written" in err, err
    assert written_anywhere(tmp_path) == []


@pytest.mark.parametrize("task_id", ["../escaped", "..", "a/b", "a\\b"])
async def test_a_task_id_that_is_not_one_folder_name_is_refused_before_asking(
        stand_in: tuple[StandIn, Running], tmp_path: Path, task_id: str) -> None:
    server, cli = stand_in
    server.answer = bundle(task_id, {"document.html": b"<html/>"})
    target = tmp_path / "work" / "to"
    code, out, err = await cli.gateway("portal", "download", task_id, "--to", str(target))
    assert code == 2, (out, err)
    assert f"task id {task_id!r} cannot name a folder in --to" in err, err
    assert server.asked == []
    assert written(tmp_path / "work") == []


async def test_a_bundle_with_a_bad_file_name_writes_nothing_at_all(
        stand_in: tuple[StandIn, Running], tmp_path: Path) -> None:
    server, cli = stand_in
    server.answer = bundle(TASK, {"a.html": b"<html/>", "z/../../../escaped": b"x"})
    target = tmp_path / "work" / "to"
    code, out, err = await cli.gateway("portal", "download", TASK, "--to", str(target))
    assert code == 2, (out, err)
    assert "outside the bundle: 'z/../../../escaped'" in err, err
    assert written(tmp_path / "work") == []


async def test_a_plain_bundle_is_written_under_its_task_id(
        stand_in: tuple[StandIn, Running], tmp_path: Path) -> None:
    server, cli = stand_in
    server.answer = bundle(TASK, {"document.html": b"<html/>", "attachments/f.pdf": b"%PDF"})
    target = tmp_path / "work" / "to"
    code, _, err = await cli.gateway("portal", "download", TASK, "--to", str(target))
    assert code == 0, err
    assert written(target) == [f"{TASK}/attachments/f.pdf", f"{TASK}/document.html"]
    assert server.asked == [f"/api/v1/channels/portal/tasks/{TASK}/bundle"]
