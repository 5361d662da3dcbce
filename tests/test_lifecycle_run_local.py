"""scripts/run-local.sh (`make run`) stops everything it started however it is told to stop.

The script runs on ports of the test's own (the ones it names are a
developer's `make run`), in a session of its own, so that every process it
started is found by the session id afterwards.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from api_support import free_port
from process_support import session, with_ctrl_c

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run-local.sh"
EXAMPLE = REPO / "examples" / "gateway.toml"
BIN = Path(sys.executable).parent


def _on_ports(text: str, ports: dict[str, int]) -> str:
    for default, port in ports.items():
        assert f"127.0.0.1:{default}" in text, f"127.0.0.1:{default} is no longer there"
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
    return text


def _start(tmp_path: Path, extra_config: str = "") -> tuple[subprocess.Popen[bytes], Path, int]:
    """run-local.sh on ports of the test's own, in a session of its own; it, its log, the
    gateway's port."""
    ports = {"8780": free_port(), "8781": free_port(), "8783": free_port(),
             "8784": free_port(), "8785": free_port(), "1025": free_port()}
    script = tmp_path / "run-local.sh"
    script.write_text(_on_ports(SCRIPT.read_text("utf-8"),
                                {k: v for k, v in ports.items() if k != "8780"}), "utf-8")
    script.chmod(0o755)
    config = tmp_path / "gateway.toml"
    text = _on_ports(EXAMPLE.read_text("utf-8"), {k: v for k, v in ports.items() if k != "1025"})
    text = text.replace("smtp_port = 1025", f"smtp_port = {ports['1025']}")
    config.write_text(text + extra_config, "utf-8")
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "BIN": str(BIN), "CONFIG": str(config), "TMPDIR": str(tmp_path / "tmp")}
    log = tmp_path / "run-local.log"
    with log.open("wb") as output:
        # Ctrl-C's default restored: bash cannot trap a signal ignored when it starts.
        process = subprocess.Popen(["bash", str(script)], cwd=REPO, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, preexec_fn=with_ctrl_c)
    return process, log, ports["8780"]


def _until_healthy(process: subprocess.Popen[bytes], log: Path, port: int) -> None:
    deadline = time.monotonic() + 90
    while True:
        assert process.poll() is None, log.read_text("utf-8", errors="replace")
        assert time.monotonic() < deadline, "the gateway did not answer"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)


def _kill_left(process: subprocess.Popen[bytes]) -> None:
    for pid in session(process.pid):
        os.kill(pid, signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "Ctrl-C"])
def test_a_signal_to_the_script_stops_the_gateway_and_the_simulators(
    tmp_path: Path, stop: signal.Signals,
) -> None:
    """bash runs a trap only once its foreground command ends, and the gateway ran in
    the foreground: `kill` of the script (or of make, which passes SIGTERM on) stopped
    nothing at all, and SIGHUP ended the script alone, the gateway left running.

    The script then ends with 0, as the gateway's stop did: it ended with 143 (130
    for Ctrl-C), which `make run` reported as "Error 143" after a clean stop."""
    process, log, port = _start(tmp_path)
    try:
        _until_healthy(process, log, port)
        started = session(process.pid)
        assert len(started) >= 5, started  # the script, two simulators, SMTP, the gateway

        if stop is signal.SIGINT:
            os.killpg(process.pid, stop)  # as a terminal's Ctrl-C: to the whole group
        else:
            process.send_signal(stop)
        deadline = time.monotonic() + 15
        while session(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = session(process.pid)
        output = log.read_text("utf-8", errors="replace")
        assert not left, (f"15 s after {stop.name} to run-local.sh these still run: {left}\n"
                          + output[-2000:])
        assert "gateway: stopped" in output
        assert process.wait(5) == 0, output[-2000:]
    finally:
        _kill_left(process)


def test_a_gateway_that_fails_fails_the_script(tmp_path: Path) -> None:
    # The clean stop is 0; a gateway that cannot start, or dies, is not.
    refused = tmp_path / "refused"
    refused.mkdir()
    process, log, _ = _start(refused, "\n[misspelt]\nkey = 1\n")
    try:
        assert process.wait(60) == 2, log.read_text("utf-8", errors="replace")
    finally:
        _kill_left(process)
    killed = tmp_path / "killed"
    killed.mkdir()
    process, log, port = _start(killed)
    try:
        _until_healthy(process, log, port)
        [gateway] = [pid for pid in session(process.pid)
                     if Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[-2:] ==
                     [b"run", b""]]
        os.kill(gateway, signal.SIGKILL)
        assert process.wait(30) == 128 + signal.SIGKILL
    finally:
        _kill_left(process)
