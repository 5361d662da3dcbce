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
from process_support import session

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "run-local.sh"
EXAMPLE = REPO / "examples" / "gateway.toml"
BIN = Path(sys.executable).parent




def _on_ports(text: str, ports: dict[str, int]) -> str:
    for default, port in ports.items():
        assert f"127.0.0.1:{default}" in text, f"127.0.0.1:{default} is no longer there"
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}")
    return text




@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_to_the_script_stops_the_gateway_and_the_simulators(
    tmp_path: Path, stop: signal.Signals,
) -> None:
    """bash runs a trap only once its foreground command ends, and the gateway ran in
    the foreground: `kill` of the script (or of make, which passes SIGTERM on) stopped
    nothing at all, and SIGHUP ended the script alone, the gateway left running."""
    ports = {"8780": free_port(), "8781": free_port(), "8783": free_port(),
             "1025": free_port()}
    script = tmp_path / "run-local.sh"
    script.write_text(_on_ports(SCRIPT.read_text("utf-8"),
                                {k: v for k, v in ports.items() if k != "8780"}), "utf-8")
    script.chmod(0o755)
    config = tmp_path / "gateway.toml"
    text = _on_ports(EXAMPLE.read_text("utf-8"), {k: v for k, v in ports.items() if k != "1025"})
    config.write_text(text.replace("smtp_port = 1025", f"smtp_port = {ports['1025']}"), "utf-8")
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "BIN": str(BIN), "CONFIG": str(config), "TMPDIR": str(tmp_path / "tmp")}
    log = tmp_path / "run-local.log"
    with log.open("wb") as output:
        process = subprocess.Popen(["bash", str(script)], cwd=REPO, env=env, stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text("utf-8", errors="replace")
            assert time.monotonic() < deadline, "the gateway did not answer"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{ports['8780']}/health",
                                            timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        started = session(process.pid)
        assert len(started) >= 5, started  # the script, two simulators, SMTP, the gateway

        process.send_signal(stop)
        deadline = time.monotonic() + 15
        while session(process.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = session(process.pid)
        assert not left, (f"15 s after {stop.name} to run-local.sh these still run: {left}\n"
                          + log.read_text("utf-8", errors="replace")[-2000:])
        assert "gateway: stopped" in log.read_text("utf-8", errors="replace")
    finally:
        for pid in session(process.pid):
            os.kill(pid, signal.SIGKILL)
        process.wait()
