"""Configuration values TOML allows but no setting can use, and files as editors on other
systems save them (a byte order mark, an empty file)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_config import BASE, line_of

from gateway.config import ConfigHolder, check_against_registry, load_config
from gateway.errors import ConfigError
from gateway.pluginmanager import build_registry, make_plugin_manager

OIN = "00000001003214345000"


def _load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    return info.value


@pytest.mark.parametrize(("section", "key", "value"), [
    ("dispatch", "poll_interval", "nan"),
    ("dispatch", "lease", "inf"),
    ("dispatch", "backoff_base", "nan"),
    ("dispatch", "send_timeout", "+inf"),
    ("erp", "webhook_timeout", "nan"),
])
def test_a_number_that_is_not_finite_is_refused_with_its_line(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    # TOML has nan and inf; no pause, lease or timeout can be either, and nan passes every
    # "at least" comparison, so it got through to the workers.
    text = BASE + f"\n[{section}]\n{key} = {value}\n"
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    error = _load_error(path)
    assert error.key == f"{section}.{key}"
    assert error.line == line_of(text, f"{key} = {value}")
    assert "finite" in str(error)


def test_a_file_saved_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    # Windows editors (Notepad before 2019, PowerShell's Out-File) start UTF-8 files with a BOM;
    # tomllib then reported "Invalid statement (column 1)" on line 1, a line that looks fine.
    path = tmp_path / "gateway.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode("utf-8"))
    config = load_config(path)
    assert config.supplier.name == "Test B.V."


def test_a_byte_order_mark_keeps_error_lines_right(tmp_path: Path) -> None:
    text = BASE.replace('name = "Test B.V."', 'name = "Test B.V."\nnmae = "typo"')
    path = tmp_path / "gateway.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    error = _load_error(path)
    assert error.line == line_of(text, "nmae")
    assert "did you mean 'name'" in str(error)


def test_an_empty_file_says_it_is_empty(tmp_path: Path) -> None:
    # A file emptied by a failed save or a wrong redirect (> gateway.toml) reported only
    # "missing required table [supplier]", which sends the operator looking for a typo.
    path = tmp_path / "gateway.toml"
    path.write_text("\n  \n", encoding="utf-8")
    error = _load_error(path)
    assert "the file is empty" in str(error)


def test_a_reload_to_an_empty_file_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(BASE, encoding="utf-8")
    holder = ConfigHolder(path, check_interval=0)
    path.write_text("", encoding="utf-8")
    assert holder.current().supplier.name == "Test B.V."
    assert holder.last_error is not None
    assert "the file is empty" in str(holder.last_error)
    assert holder.version == 1


def _routed(tmp_path: Path, fmt: str) -> tuple[Path, str]:
    text = BASE.replace('format = "ubl-ohnl:invoice:1.9"', f'format = "{fmt}"')
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path, text


@pytest.mark.parametrize(("fmt", "says"), [
    ("ubl-ohnl:order:1.9", "is for order documents, not invoice"),
    # The document part of the key is no guide: this one is an invoice-response format.
    ("peppol-bis:invoice-response:3", "is for invoice-response documents, not invoice"),
])
def test_a_route_to_a_format_of_another_kind_is_an_error_at_its_line(
    tmp_path: Path, fmt: str, says: str
) -> None:
    # Loaded, listed and served without a word; intake then refused every invoice with
    # "format ... does not send invoice documents".
    path, text = _routed(tmp_path, fmt)
    config = load_config(path)
    registry = build_registry(make_plugin_manager())
    errors = check_against_registry(config, registry.formats, set(registry.channels))
    assert [e.key for e in errors] == [f'agencies."{OIN}".documents.invoice.format']
    assert errors[0].line == line_of(text, f'format = "{fmt}"')
    assert says in errors[0].message
    assert "ubl-ohnl:invoice:1.9" in errors[0].message.partition("formats for invoice")[2]


def test_a_route_for_what_the_agency_sends_may_name_a_format_we_only_read(
    tmp_path: Path,
) -> None:
    # An order comes from the agency: its route names the format we read it in.
    text = BASE.replace('[agencies."00000001003214345000".documents.invoice]',
                        '[agencies."00000001003214345000".documents.order]')
    text = text.replace('format = "ubl-ohnl:invoice:1.9"', 'format = "peppol-bis:order:3"')
    path = tmp_path / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    registry = build_registry(make_plugin_manager())
    assert check_against_registry(load_config(path), registry.formats,
                                  set(registry.channels)) == []


def test_a_fitting_route_and_key_only_checks_are_unchanged(tmp_path: Path) -> None:
    path, _ = _routed(tmp_path, "ubl-ohnl:invoice:1.9")
    registry = build_registry(make_plugin_manager())
    config = load_config(path)
    assert check_against_registry(config, registry.formats, set(registry.channels)) == []
    # Callers that pass only the keys get only the "not provided" check.
    mismatched, _ = _routed(tmp_path, "ubl-ohnl:order:1.9")
    assert check_against_registry(load_config(mismatched), set(registry.formats),
                                  set(registry.channels)) == []
