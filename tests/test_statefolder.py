"""The simulators' state folders: a file per id that stays in its folder, read back or named."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.statefolder import field, load_records, record_file_name, record_of


def test_ids_become_file_names_inside_the_folder_and_never_share_one() -> None:
    assert record_file_name("3f1c-kenmerk.1") == "3f1c-kenmerk.1.json"
    odd = ["../../etc/passwd", "a/b", "a_b", ".hidden", "", "ü", "a b", "a\x00b"]
    names = [record_file_name(ident) for ident in odd]
    assert len(set(names)) == len(odd)
    for name in names:
        assert "/" not in name
        assert not name.startswith(".")
        assert name.endswith(".json")
        assert "\x00" not in name


def read(data: bytes) -> dict[str, Any]:
    record = json.loads(data)
    if not isinstance(record, dict):
        raise ValueError("the file holds no JSON object")
    field(record, "id", str)
    return record


def test_bad_files_are_named_and_skipped_and_the_rest_read_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    for ident in ("one", "odd/id"):
        (folder / record_file_name(ident)).write_text(json.dumps({"id": ident}))
    (folder / "broken.json").write_text("{")
    (folder / "number.json").write_text(json.dumps({"id": 7}))
    (folder / "moved.json").write_text(json.dumps({"id": "elsewhere"}))
    (folder / ".one.json.tmp.json").write_text("{")  # a write cut short: not a record
    with caplog.at_level(logging.INFO):
        found = load_records(folder, read, lambda record: str(record["id"]),
                             who="test simulator", what="record(s)")
    assert sorted(record["id"] for record in found) == ["odd/id", "one"]
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == 3, skipped
    assert any("broken.json" in line for line in skipped)
    assert any("'id' must be a str, not 7" in line for line in skipped)
    assert any("moved.json" in line and "elsewhere.json" in line for line in skipped)
    assert "2 record(s) taken up" in caplog.text


def test_a_missing_folder_is_made_and_holds_nothing(tmp_path: Path) -> None:
    assert load_records(tmp_path / "new", read, lambda r: str(r["id"]), who="t", what="r") == []
    assert (tmp_path / "new").is_dir()


def test_fields_are_typed_and_a_bool_is_no_number() -> None:
    record = {"count": 1, "flag": True, "text": None}
    assert field(record, "count", int) == 1
    assert field(record, "text", str, optional=True) is None
    with pytest.raises(ValueError, match="'count' must be a bool, not 1"):
        field(record, "count", bool)
    with pytest.raises(ValueError, match=r"'x\.flag' must be an int, not True"):
        field(record, "flag", int, where="x.")
    with pytest.raises(ValueError, match="'text' must be a str"):
        field(record, "text", str)


def test_a_record_is_a_json_object_of_its_version() -> None:
    assert record_of(b'{"version": 2, "id": "x"}', 2) == {"version": 2, "id": "x"}
    with pytest.raises(ValueError, match="no JSON object"):
        record_of(b"[1, 2]", 2)
    with pytest.raises(ValueError, match="'version' is 1, expected 2"):
        record_of(b'{"version": 1}', 2)
    with pytest.raises(json.JSONDecodeError):
        record_of(b"{half", 2)
