"""gateway/fileio.py: a refused inbox file never shows up without its reason."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gateway.fileio import file_away


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    for folder in ("done", "error"):
        (tmp_path / folder).mkdir()
    return tmp_path


def test_the_reason_is_beside_the_file_before_the_file_arrives(
    inbox: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A watcher of error/ may look the moment the file lands there.
    path = inbox / "order-1.xml"
    path.write_bytes(b"<Order/>")
    reason = inbox / "error" / "order-1.xml.error.txt"
    seen: list[bool] = []
    replace = os.replace

    def watched(source: Any, target: Any) -> None:
        if Path(source) == path:
            seen.append(reason.exists())
        replace(source, target)

    monkeypatch.setattr(os, "replace", watched)
    assert file_away(path, inbox / "error", "no format reads it") == inbox / "error" / path.name
    assert seen == [True]
    assert reason.read_text("utf-8") == "no format reads it"
    assert not path.exists()


def test_a_taken_name_gets_a_suffix_and_its_own_reason(inbox: Path) -> None:
    (inbox / "error" / "order-1.xml").write_bytes(b"earlier")
    path = inbox / "order-1.xml"
    path.write_bytes(b"later")
    target = file_away(path, inbox / "error", "why")
    assert target is not None
    assert target.name.startswith("order-1-")
    assert target.suffix == ".xml"
    assert target.read_bytes() == b"later"
    assert (inbox / "error" / "order-1.xml").read_bytes() == b"earlier"
    assert target.with_name(target.name + ".error.txt").read_text("utf-8") == "why"
    assert not (inbox / "error" / "order-1.xml.error.txt").exists()


def test_a_file_another_scanner_took_leaves_no_reason_behind(inbox: Path) -> None:
    assert file_away(inbox / "gone.xml", inbox / "error", "why") is None
    assert list((inbox / "error").iterdir()) == []


def test_a_file_taken_in_goes_without_a_note(inbox: Path) -> None:
    path = inbox / "invoice.xml"
    path.write_bytes(b"<Invoice/>")
    assert file_away(path, inbox / "done") == inbox / "done" / "invoice.xml"
    assert [p.name for p in (inbox / "done").iterdir()] == ["invoice.xml"]
