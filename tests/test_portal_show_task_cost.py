"""Showing a portal task lists its bundle's files without printing a PDF.

``GET tasks/{id}`` (``gateway portal show``) names the files; where this
instance has no export folder for the task it must not run the PDF tool just
to list 'document.pdf' (44 s and 29 MB for a 10,000-line invoice here).
"""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from test_portal import start


def counting_pdf_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """A stand-in for the browser, set as the PDF tool: it writes a small PDF where asked
    and counts its runs; returns how to read the count."""
    runs = tmp_path / "pdf-runs"
    tool = tmp_path / "chromium"
    tool.write_text(
        "#!/bin/sh\n"
        f"echo run >> {runs}\n"
        'for arg in "$@"; do case "$arg" in --print-to-pdf=*) '
        "printf '%%PDF-1.4 stand-in' > \"${arg#--print-to-pdf=}\";; esac; done\n")
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("GATEWAY_PDF_TOOL", str(tool))
    return lambda: len(runs.read_text().splitlines()) if runs.exists() else 0


async def test_showing_a_task_does_not_run_the_pdf_tool(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    count = counting_pdf_tool(tmp_path, monkeypatch)

    running = await start(tmp_path)
    try:
        record = await running.submit("F2024-0301")
        task_id = str(record.transport_id)
        assert count() == 1  # the bundle written on send
        # Another instance of the gateway, without the export folder, serves the task.
        shutil.rmtree(tmp_path / "data" / "portal-tasks" / task_id)
        for _ in range(3):
            status, task = await running.api("GET", f"/tasks/{task_id}")
            assert status == 200, task
            assert "document.pdf" in task["files"]
        assert count() == 1, f"showing the task 3 times ran the PDF tool {count() - 1} times"
        # A download is where the PDF is made.
        status, bundle = await running.api("GET", f"/tasks/{task_id}/bundle")
        assert status == 200
        assert "document.pdf" in bundle["files"]
    finally:
        await running.service.stop()
