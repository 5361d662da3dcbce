"""SIGTERM stops a gateway started in the background, where SIGINT is ignored."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from api_support import free_port

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"




def _as_a_background_job() -> None:
    # What a non-interactive shell does for `command &`: SIGINT and SIGQUIT ignored.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def test_sigterm_stops_a_gateway_started_in_the_background(tmp_path: Path) -> None:
    port = free_port()
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


# A process with the gateway's SIGTERM handling around a main coroutine that stands for
# the service: SIGTERM arrives while a transport callback (a connection's end of file)
# runs Python code, and main's finally needs a task of the service to go on running.
PROGRAM = """
import asyncio, os, signal, sys
from gateway import eventloop
from gateway.eventloop import until_terminated

signal.signal(signal.SIGINT, signal.SIG_IGN)  # started in the background


async def ticking():
    while True:
        await asyncio.sleep(0.01)


async def main():
    loop = asyncio.get_running_loop()
    ticker = asyncio.create_task(ticking())

    class Client(asyncio.Protocol):
        def eof_received(self):
            os.kill(os.getpid(), signal.SIGTERM)
            total = 0
            for n in range(100_000):  # a signal handler runs between these steps
                total += n
            return None

    server = await asyncio.start_server(lambda reader, writer: writer.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    await loop.create_connection(Client, "127.0.0.1", port)
    try:
        await asyncio.Event().wait()
    finally:
        await asyncio.sleep(0.1)  # the service stopping, its tasks still at work
        print("ticker", "cancelled" if ticker.cancelled() else "running", flush=True)
        ticker.cancel()
        server.close()


print("terminated" if eventloop.run(until_terminated(main())) else "ended", flush=True)
"""


def test_sigterm_in_a_transport_callback_stops_main_alone_and_cleanly() -> None:
    """Raised from a signal handler, the stop landed in the callback then running:
    uvloop logged a fatal transport error and the loop cancelled every task at once,
    the service's own included while it was stopping."""
    for loop in ("uvloop", "asyncio"):
        done = subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True,
                              timeout=30, env={**os.environ, "WISSEL_EVENT_LOOP": loop})
        assert done.returncode == 0, (loop, done.stderr)
        assert done.stdout.split("\n")[:2] == ["ticker running", "terminated"], (loop, done)
        assert "Fatal error" not in done.stderr, (loop, done.stderr)
        assert "Traceback" not in done.stderr, (loop, done.stderr)
