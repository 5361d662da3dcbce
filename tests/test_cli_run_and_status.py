"""`gateway run` and `gateway status` as an operator meets them: one-line errors, clean stops."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from api_support import free_port, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN
from process_support import with_ctrl_c
from test_cli_send import gateway_cli

REPO = Path(__file__).resolve().parents[1]
TOKEN = "review-token-0123456789"


def write_config(tmp_path: Path, port: int) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:{port}"
data_dir = {str(tmp_path / "data")!r}
token = "{TOKEN}"

[supplier]
name = "Naam Leverancier BV"
kvk = "30097265"
vestigingsnummer = "000018727409"

[channels.folder]
type = "folder"
path = {str(tmp_path / "out")!r}

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "folder"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "canonical:invoice:1"
""", "utf-8")
    return path


def start(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "--config", str(config), "run",
         "--log-format", "text", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, **(env or {})}, preexec_fn=with_ctrl_c)


def finish(process: subprocess.Popen[str], within: float = 20) -> tuple[int | None, str, str]:
    """Wait for the process to end by itself; stop it (and say so) if it does not."""
    try:
        out, err = process.communicate(timeout=within)
        return process.returncode, out, err
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
        return None, out, err


def assert_one_line_error(code: int | None, err: str, wanted: str) -> None:
    assert code is not None, f"still running: {err}"
    assert "Traceback" not in err, err
    assert code == 2, err
    assert wanted in err, err


@pytest.mark.parametrize("listen", ["8780", "127.0.0.1:http"])
def test_run_with_a_malformed_listen_says_so_in_one_line(tmp_path: Path, listen: str) -> None:
    code, _, err = finish(start(write_config(tmp_path, free_port()), "--listen", listen))
    assert_one_line_error(code, err, "listen")


def test_run_with_a_port_beyond_65535_is_refused_not_wrapped(tmp_path: Path) -> None:
    # The configuration file's `listen` refuses it, and so must --listen: uvloop (the
    # default loop) would bind port 99999 & 0xffff = 34463 without a word.
    code, _, err = finish(start(write_config(tmp_path, free_port()),
                                "--listen", "127.0.0.1:99999"), within=10)
    assert "listening on 127.0.0.1:34463" not in err, err
    assert_one_line_error(code, err, "listen")


def test_run_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = finish(start(write_config(tmp_path, port)))
    assert_one_line_error(code, err, str(port))


def test_run_with_an_unknown_event_loop_says_so_in_one_line(tmp_path: Path) -> None:
    code, _, err = finish(start(write_config(tmp_path, free_port()),
                                env={"WISSEL_EVENT_LOOP": "uvlop"}))
    assert_one_line_error(code, err, "WISSEL_EVENT_LOOP")


def test_sigterm_stops_the_gateway_cleanly_and_flushes_its_spans(tmp_path: Path) -> None:
    # systemd, docker and Kubernetes stop a service with SIGTERM: the gateway must stop
    # as on SIGINT, with stop() (channels, leases, store) and telemetry.shutdown(), or
    # the spans still batched are lost.
    port = free_port()
    process = start(write_config(tmp_path, port), env={"OTEL_TRACES_EXPORTER": "console"})
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        request = urllib.request.Request(
            f"{base}/api/v1/outbound/{AGENCY_OIN}", data=invoice_json("T-1"), method="POST",
            headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 202
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, f"exit {process.returncode}: {err[-500:]}"
    assert '"name": "wissel.intake"' in out


async def test_status_against_a_gateway_that_shows_only_public_health(
    tmp_path: Path,
) -> None:
    # A gateway on a non-loopback address with [api.tokens.*] only (no operator token):
    # /health answers the status command with its public fields, and `gateway status`
    # prints what it got rather than a KeyError traceback.
    address = None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent: picks the interface
            address = probe.getsockname()[0]
        except OSError:
            pass
    if address is None or address.startswith("127."):
        pytest.skip("no non-loopback IPv4 address on this machine")
    async with running_gateway(tmp_path, listen=f"{address}:{free_port()}",
                               gateway_token=False) as gateway:
        result = await gateway_cli(gateway.config_path, "status")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok")


async def test_health_and_status_show_who_holds_each_turn(store_url: str, tmp_path: Path) -> None:
    # Of several instances on one database one polls each channel's transport, the one
    # holding the turn's lease; which one it was, and until when, was only in the log.
    async with running_gateway(tmp_path, database=store_url) as gateway:
        holder = gateway.service._turn_holder
        assert holder is not None
        await gateway.store.hold_lease("channel:recorder:status", "elsewhere:0f0f0f0f",
                                       timedelta(minutes=5))
        await gateway.store.hold_lease("channel:recorder:inbox:a1", holder.name,
                                       timedelta(minutes=15))
        [ours, theirs] = await gateway.store.leases("channel:recorder:")
        status, _, report = await gateway.call("GET", "/health", token=None)
        result = await gateway_cli(gateway.config_path, "status")
    assert status == 200
    assert report["turns"] == [
        {"channel": "recorder", "purpose": "inbox:a1", "holder": holder.name,
         "until": ours.expires_at.isoformat(), "here": True},
        {"channel": "recorder", "purpose": "status", "holder": "elsewhere:0f0f0f0f",
         "until": theirs.expires_at.isoformat(), "here": False},
    ]
    assert (f"turn recorder inbox:a1: {holder.name} (this instance) until "
            f"{ours.expires_at.isoformat()}") in result.output
    assert (f"turn recorder status: elsewhere:0f0f0f0f until {theirs.expires_at.isoformat()}"
            in result.output)
