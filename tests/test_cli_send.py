"""``gateway send`` against a running gateway: accepted, duplicate and rejected files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from api_support import invoice_json, running_gateway
from click.testing import CliRunner, Result
from pipeline_support import AGENCY_OIN

from gateway.cli.context import CliContext
from gateway.cli.main import cli
from gateway.kinds import Direction
from gateway.store import TransportState


async def gateway_cli(config: Path, *args: str) -> Result:
    """Run the CLI in a thread: it blocks on HTTP while this loop serves the gateway."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, ["--config", str(config), *args],
                                   obj=CliContext(config))


def write_invoices(folder: Path, numbers: list[str]) -> list[Path]:
    folder.mkdir(exist_ok=True)
    files = []
    for number in numbers:
        path = folder / f"{number}.json"
        path.write_bytes(invoice_json(number))
        files.append(path)
    return files


async def test_send_reports_accepted_duplicate_and_rejected(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        [first] = write_invoices(tmp_path / "docs", ["F-1"])
        result = await gateway_cli(gateway.config_path, "send", str(first),
                                   "--agency", AGENCY_OIN)
        assert result.exit_code == 0, result.output
        [stored] = (await gateway.store.list_messages(direction=Direction.OUTBOUND)).items
        assert f"accepted {first}: message {stored.id}" in result.output
        assert result.output.strip().endswith("1 accepted, 0 duplicate, 0 rejected")

        broken = tmp_path / "docs" / "broken.json"
        document: dict[str, Any] = json.loads(invoice_json("F-2"))
        document["lines"][0]["quantity"]["value"] = 4
        broken.write_text(json.dumps(document))
        result = await gateway_cli(gateway.config_path, "send", str(first), str(broken),
                                   "--agency", AGENCY_OIN)
        assert result.exit_code == 1
        assert f"duplicate {first}: already message {stored.id}" in result.output
        assert f"rejected {broken} (stored as message " in result.output
        assert "    $.lines[0].quantity.value: expected a decimal string" in result.output
        assert "0 accepted, 1 duplicate, 1 rejected" in result.output


async def test_send_reports_another_document_under_a_stored_number(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        [first] = write_invoices(tmp_path / "docs", ["F-1"])
        result = await gateway_cli(gateway.config_path, "send", str(first),
                                   "--agency", AGENCY_OIN)
        assert result.exit_code == 0, result.output
        [stored] = (await gateway.store.list_messages(direction=Direction.OUTBOUND)).items

        corrected = tmp_path / "docs" / "corrected.json"
        document: dict[str, Any] = json.loads(invoice_json("F-1"))
        document["due_date"] = "2024-04-30"
        corrected.write_text(json.dumps(document))
        later = tmp_path / "docs" / "later.json"
        later.write_bytes(invoice_json("F-2"))
        # A verdict on the one file: the run goes on to the next.
        result = await gateway_cli(gateway.config_path, "send", str(corrected), str(later),
                                   "--agency", AGENCY_OIN)
        assert result.exit_code == 1, result.output
        assert f"rejected {corrected}: a different invoice with number 'F-1'" in result.output
        assert f"as message {stored.id}" in result.output
        assert "stored as message" not in result.output
        assert f"accepted {later}" in result.output
        assert "1 accepted, 0 duplicate, 1 rejected" in result.output

        result = await gateway_cli(gateway.config_path, "send", str(corrected),
                                   "--agency", AGENCY_OIN, "--json")
        [outcome] = json.loads(result.output)["results"]
        assert outcome["status"] == 409
        assert outcome["taken_by"] == stored.id
        assert outcome["id"] is None


async def test_send_many_files_with_progress_and_json(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        files = write_invoices(tmp_path / "docs", [f"M-{n}" for n in range(12)])
        result = await gateway_cli(gateway.config_path, "send", *map(str, files),
                                   "--agency", AGENCY_OIN)
        assert result.exit_code == 0, result.output
        assert "12 accepted, 0 duplicate, 0 rejected" in result.output
        page = await gateway.store.list_messages(direction=Direction.OUTBOUND)
        assert len(page.items) == 12
        result = await gateway_cli(gateway.config_path, "send", *map(str, files[:2]),
                                   "--agency", AGENCY_OIN, "--json")
        report = json.loads(result.output)
        assert report["counts"] == {"accepted": 0, "duplicate": 2, "rejected": 0}
        assert {r["id"] for r in report["results"]} <= {m.id for m in page.items}
        assert all(m.transport_state is not TransportState.REJECTED for m in page.items)


async def test_clear_errors_for_a_wrong_token_a_bad_oin_and_no_gateway(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        [file] = write_invoices(tmp_path / "docs", ["T-1"])
        result = await gateway_cli(gateway.config_path, "send", str(file), "--agency", "123")
        assert result.exit_code == 2
        assert "is not an OIN" in result.output
        text = gateway.config_path.read_text().replace('token = "test-token"',
                                                       'token = "wrong-token"')
        wrong = tmp_path / "wrong.toml"
        wrong.write_text(text)
        result = await gateway_cli(wrong, "send", str(file), "--agency", AGENCY_OIN)
        assert result.exit_code != 0
        assert "401" in str(result.exception)
        assert "token" in str(result.exception)
        assert (await gateway.store.list_messages()).items == ()
    # The gateway has stopped: nobody answers at its address.
    result = await gateway_cli(gateway.config_path, "send", str(file), "--agency", AGENCY_OIN)
    assert "no gateway answers at" in str(result.exception)


def test_errors_reach_the_shell_as_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the real entry point: a one-line message and exit 2, no traceback."""
    from api_support import free_port
    from pipeline_support import config_text

    from gateway.cli.main import main

    config = tmp_path / "gateway.toml"
    config.write_text(config_text(tmp_path).replace('"127.0.0.1:0"',
                                                    f'"127.0.0.1:{free_port()}"'))
    [file] = write_invoices(tmp_path / "docs", ["U-1"])
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(config), "send", str(file), "--agency", AGENCY_OIN])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("gateway: no gateway answers at http://127.0.0.1:")
    assert err.count("\n") == 1
    assert "Traceback" not in err
