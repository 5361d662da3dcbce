"""What is not canonical JSON is a CanonicalJSONError, never another exception.

Bytes that are not UTF-8 (an ERP export in Latin-1), an integer of thousands
of digits, and arrays nested thousands deep: ``loads`` names the fault, the
CLI prints no traceback, and the submit API answers 400 or 422, not 500.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from api_support import ERP, running_gateway
from pipeline_support import AGENCY_OIN

from gateway.model.json import CanonicalJSONError, loads, to_json
from gateway.model.samples import example_invoice

REPO = Path(__file__).resolve().parents[1]


def invoice_text(name: str = "Café Noord BV") -> str:
    data = to_json(example_invoice())
    data["seller"]["name"] = name
    return json.dumps(data, ensure_ascii=False)


def huge_number_text() -> str:
    return invoice_text().replace('"schema_version": 1', '"schema_version": 1' + "0" * 5000, 1)


def deeply_nested_text() -> str:
    return invoice_text().replace('"notes": [', '"notes": [' + "[" * 5_000 + "]" * 5_000 + ", ", 1)


def test_loads_names_text_that_is_not_utf8() -> None:
    with pytest.raises(CanonicalJSONError, match=r"^\(root\): not UTF-8 .*position \d+"):
        loads(invoice_text().encode("latin-1"))


def test_loads_names_a_number_with_too_many_digits() -> None:
    with pytest.raises(CanonicalJSONError, match=r"^\(root\): .*digits"):
        loads(huge_number_text())


def test_loads_names_arrays_nested_too_deeply() -> None:
    with pytest.raises(CanonicalJSONError, match=r"^\(root\): .*nested"):
        loads(deeply_nested_text())


def test_cli_encode_says_what_is_wrong_with_a_latin1_file(tmp_path: Path) -> None:
    source = tmp_path / "invoice.json"
    source.write_bytes(invoice_text().encode("latin-1"))
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "encode", str(source),
         "--format", "canonical:invoice:1"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 2
    assert result.stderr.startswith("gateway: ")
    assert "UTF-8" in result.stderr


@pytest.mark.parametrize(("text", "named"), [
    (huge_number_text, "digits"), (deeply_nested_text, "nested")])
async def test_submit_answers_json_beyond_the_parser_with_a_client_error(
    tmp_path: Path, text: Callable[[], str], named: str,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, body = await gateway.call(
            "POST", f"/api/v1/outbound/{AGENCY_OIN}", data=text().encode(), token=ERP)
    assert status in (400, 422), body
    assert named in body["detail"]
