"""SIGTERM stops a gateway started in the background, where SIGINT is ignored."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_a_background_job() -> None:
    # What a non-interactive shell does for `command &`: SIGINT and SIGQUIT ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def test_sigterm_stops_a_gateway_started_in_the_background(tmp_path: Path) -> None:
    port = _free_port()
    text = EXAMPLE.read_text("utf-8").replace('listen = "127.0.0.1:8780"',
                                              f'listen = "127.0.0.1:{port}"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    config = tmp_path / "gateway.toml"
    config.write_text(text, "utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "--config", str(config), "run"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ),
        preexec_fn=_as_a_background_job)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, "the gateway did not start"
                assert time.monotonic() < deadline, "the gateway did not answer"
                time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("SIGTERM did not stop the gateway within 30 s") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
