"""A task bundle folder left stale by a send elsewhere is rewritten when it is downloaded.

A person may take the files from the export folder itself (the manual export the README
describes) rather than through `gateway portal download`. When the task was sent again on
another instance (here: rerouted to another format there), this instance's folder holds
the earlier document; a download serves the store's, and the folder must then hold it too.
Real counterparts: two full instances on one database, each with its own export folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_portal_import_checks import _portal, _send, _started, _two_instances, _until
from test_portal_show_task_cost import counting_pdf_tool

from gateway.paths import STANDARDS_DIR_ENV
from gateway.pipeline import operator
from gateway.store import TransportState

NLCIUS = "nlcius:invoice:1.0"


@pytest.fixture(autouse=True)
def standards(monkeypatch: pytest.MonkeyPatch, installed_standards: Path) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


def _on_disk(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


async def test_a_download_rewrites_a_folder_holding_an_earlier_send(tmp_path: Path) -> None:
    first, second = _two_instances(tmp_path)
    folder_of = tmp_path / "first" / "data" / "portal-tasks"
    service = await _started(first)
    try:
        message_id, task_id = await _send(service, "F2024-0911")
        await _portal(service).cancel(task_id, "the agency wants NLCIUS", "bob")
    finally:
        await service.stop()
    service = await _started(second)
    try:
        assert service.store is not None
        assert service.validation is not None
        await operator.reroute(service.store, service.registry, service.validation,
                               message_id, actor="bob", format_key=NLCIUS,
                               reason="the agency wants NLCIUS", config=service.config)
        sent = await _until(service, message_id, TransportState.SENT)
        assert sent.transport_id == task_id  # the same task, sent again in another format
    finally:
        await service.stop()
    service = await _started(first)
    try:
        channel = _portal(service)
        served = await channel.bundle(task_id)
        assert sent.raw_payload in served.values()
        on_disk = _on_disk(folder_of / task_id)
        # The folder still held F2024-0911.json, the canonical document of the first send.
        assert on_disk == served, (sorted(on_disk), sorted(served))
        assert json.loads(on_disk["task.json"])["format"] == NLCIUS
        # Downloading again serves the folder as it now is: nothing is rebuilt.
        assert await channel.bundle(task_id) == on_disk
        leftovers = [p.name for p in folder_of.iterdir() if p.name != task_id]
        assert leftovers == [], leftovers
    finally:
        await service.stop()


async def test_a_download_notes_in_the_folder_a_close_recorded_elsewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Submitted on the second instance: the first's folder said the task was still open,
    so a person working from it would key the document into the portal a second time."""
    count = counting_pdf_tool(tmp_path, monkeypatch)
    first, second = _two_instances(tmp_path)
    folder = tmp_path / "first" / "data" / "portal-tasks"
    service = await _started(first)
    try:
        _, task_id = await _send(service, "F2024-0912")
    finally:
        await service.stop()
    service = await _started(second)
    try:
        await _portal(service).done(task_id, "DI-7790", "alice")
    finally:
        await service.stop()
    service = await _started(first)
    try:
        served = await _portal(service).bundle(task_id)
        note = json.loads((folder / task_id / "task.json").read_bytes())
        assert [(c["reference"], c["by"]) for c in note.get("closed", [])] == [
            ("DI-7790", "alice")], note
        assert _on_disk(folder / task_id) == served
        assert count() == 1, "the folder's bundle was printed again"
    finally:
        await service.stop()
