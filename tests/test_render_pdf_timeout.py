"""A PDF tool that times out is killed with every process it started.

Debian's /usr/bin/chromium-headless-shell is a ``#!/bin/sh -e`` wrapper that
runs the real browser as its child; killing only the wrapper would leave the
browser printing for minutes into a folder already deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import stat
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import pytest

import gateway.render.pdf as pdf_module
from gateway.model import (
    Invoice,
    InvoiceLine,
    InvoiceType,
    Item,
    Party,
    Price,
    Quantity,
    VatCategory,
)
from gateway.render import PdfTool, PdfUnavailable, find_pdf_tool, render_html, render_pdf


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _pids_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if text in cmdline and _alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def test_the_child_of_a_wrapper_script_is_killed_on_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    pid_file = tmp_path / "child.pid"
    wrapper = tmp_path / "chromium"
    # Shaped like Debian's wrapper: a shell that runs the real program as a child.
    wrapper.write_text(f"#!/bin/sh -e\n/bin/sh -c 'echo $$ > {pid_file}; exec sleep 30'\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(pdf_module, "_TIMEOUT", 1.0)
    with pytest.raises(PdfUnavailable):
        render_pdf("<p>x</p>", PdfTool("chromium", str(wrapper)))
    child = int(pid_file.read_text())
    time.sleep(0.5)
    try:
        assert not _alive(child), "the tool's child process outlived the timeout"
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)


def _long_invoice(count: int) -> Invoice:
    lines = tuple(
        InvoiceLine(id=str(n), quantity=Quantity(value=Decimal("2"), unit_code="EA"),
                    price=Price(amount=Decimal("1.50")), item=Item(name=f"Artikel {n}"),
                    vat_category=VatCategory.STANDARD, vat_rate=Decimal("21"))
        for n in range(1, count + 1))
    return Invoice.build(number="F-LONG", issue_date=dt.date(2024, 3, 1), type=InvoiceType.DEBIT,
                         currency="EUR", seller=Party(name="S"), buyer=Party(name="B"), lines=lines)


@pytest.mark.skipif(find_pdf_tool() is None or find_pdf_tool().kind != "chromium",  # type: ignore[union-attr]
                    reason="no headless Chromium on PATH")
def test_a_timed_out_chromium_leaves_no_browser_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    tool = find_pdf_tool()
    assert tool is not None
    # The scratch folder (and so --user-data-dir) under tmp_path: our processes are findable.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(pdf_module, "_TIMEOUT", 1.0)
    with pytest.raises(PdfUnavailable, match="timed out"):
        render_pdf(render_html(_long_invoice(3000)), tool)
    time.sleep(1.0)
    left = _pids_mentioning(str(tmp_path))
    try:
        assert left == [], f"browser processes still running after the timeout: {left}"
    finally:
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
