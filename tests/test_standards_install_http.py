"""Installing standards from a mirror: every failure is one clear error, and nothing half-installed.

A server that does not speak HTTP, a chunked body cut short, a mirror that
trickles a byte a second (each file has a deadline) and Ctrl-C during the
downloads all end the install with a line naming the address.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from process_support import with_ctrl_c

from gateway.errors import StandardsError
from gateway.standards.installer import install_from_url
from gateway.standards.manifest import default_manifest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "standards"
ONLY = "digipoort-wus-1.2"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")

Answer = Callable[[socket.socket, bytes], None]


def _read_request(connection: socket.socket) -> str | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(4096)
        if not chunk:
            return None
        data += chunk
    return unquote(data.split(b" ")[1].decode()).lstrip("/")


@pytest.fixture
def mirror() -> Iterator[Callable[[Answer], str]]:
    """Start a loopback server whose every answer ``answer(connection, file_bytes)`` writes."""
    servers: list[socket.socket] = []
    open_connections: list[socket.socket] = []

    def start(answer: Answer) -> str:
        server = socket.create_server(("127.0.0.1", 0), backlog=64)
        servers.append(server)

        def handle(connection: socket.socket) -> None:
            with connection:
                path = _read_request(connection)
                if path is None:
                    return
                source = SHARED / path
                with contextlib.suppress(OSError):
                    answer(connection, source.read_bytes() if source.is_file() else b"")

        def serve() -> None:
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                open_connections.append(connection)
                threading.Thread(target=handle, args=(connection,), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}/"

    yield start
    for server in servers:
        server.close()
    for connection in open_connections:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
        connection.close()


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli.main", "standards", *args]


def installed_files(target: Path) -> list[str]:
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())


def not_http(connection: socket.socket, body: bytes) -> None:
    # What a --from pointing at the wrong port meets (here: an SSH server's greeting).
    connection.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")


def chunked_cut_short(connection: socket.socket, body: bytes) -> None:
    # A proxy or CDN that streams chunked and drops the connection half-way.
    connection.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + f"{len(body):x}\r\n".encode() + body[: len(body) // 2])


@pytest.mark.parametrize("answer", [not_http, chunked_cut_short], ids=["not-http", "chunked-cut"])
def test_a_broken_mirror_answer_is_a_one_line_error_and_installs_nothing(
    tmp_path: Path, mirror: Callable[[Answer], str], answer: Answer,
) -> None:
    base = mirror(answer)
    target = tmp_path / "standards"
    done = subprocess.run(cli("install", "--from", base, "--target", str(target), "--only", ONLY),
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr[-1500:]
    assert "Error:" in done.stderr, done.stderr[-1500:]
    assert "127.0.0.1" in done.stderr, done.stderr[-1500:]
    assert installed_files(target) == []


def trickle(connection: socket.socket, body: bytes) -> None:
    # One byte a second: never idle long enough for a per-read timeout to fire.
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
    for index in range(len(body)):
        connection.sendall(body[index:index + 1])
        time.sleep(1)


def test_a_trickling_mirror_does_not_hold_the_install_for_ever(
    tmp_path: Path, mirror: Callable[[Answer], str],
) -> None:
    # timeout=2 s; the smallest file (1065 bytes) would take 18 minutes at this rate and
    # the largest (32 KiB) 9 hours. An install that does not end is not a clear failure.
    base = mirror(trickle)
    target = tmp_path / "standards"
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            install_from_url(default_manifest(), target, base=base, only=[ONLY], timeout=2)
            outcome.append(None)
        except BaseException as exc:  # reported by the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(40)
    assert not worker.is_alive(), (
        f"install_from_url(timeout=2) still downloading after {time.monotonic() - started:.0f} s")
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], StandardsError), outcome
    assert installed_files(target) == []


def test_ctrl_c_stops_an_install_stuck_on_a_trickling_mirror(
    tmp_path: Path, mirror: Callable[[Answer], str],
) -> None:
    base = mirror(trickle)
    target = tmp_path / "standards"
    process = subprocess.Popen(cli("install", "--from", base, "--target", str(target),
                                   "--only", ONLY),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=REPO, env={**os.environ}, preexec_fn=with_ctrl_c)
    time.sleep(3)  # the downloads have started
    process.send_signal(signal.SIGINT)
    try:
        process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("`gateway standards install` still running 15 s after Ctrl-C")
    assert process.returncode != 0
    assert installed_files(target) == []
    assert not [p for p in target.iterdir() if p.name.startswith(".install-")]
