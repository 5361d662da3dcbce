"""How `gateway run` (and the Digipoort simulator) stops: on each signal, and while busy.

Each test runs the real command in a session of its own, with a validation
pool (a route to a validated format, the installed standards) and TMPDIR in
the test's folder, so that what a stop leaves behind is the test's to see:
the pool's worker processes and forkserver, its folder in TMPDIR, a
simulator's temporary keys, half-written files, documents lost or stored
against an error answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from api_support import free_port
from process_support import alive, descendants, with_ctrl_c

from gateway.kinds import Direction
from gateway.store import open_store

GATEWAY = Path(sys.executable).with_name("gateway")
REPO = Path(__file__).resolve().parents[1]
AGENCY = "00000099003214345001"

CONFIG = """\
[gateway]
listen = "127.0.0.1:{port}"
token = "test-token"
{database}

[supplier]
name = "Voorbeeld Leveranciers B.V."
kvk = "12345678"
vestigingsnummer = "000012345678"

[channels.folder]
path = "out"

[agencies."00000099003214345001"]
name = "Testontvanger"

[agencies."00000099003214345001".documents.invoice]
channel = "folder"
format = "peppol-bis:invoice:3.0"
"""










def _command(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


class Gateway:
    """`gateway run` with a validation pool, started warm, in a session of its own."""

    def __init__(self, folder: Path, standards: Path, database: str | None = None) -> None:
        self.port = free_port()
        # The gateway's TMPDIR, where multiprocessing puts the forkserver's socket: a path
        # under pytest's tmp_path can pass the 107 bytes a socket path may have (an xdist
        # worker adds popen-gwN/), and the validation pool then cannot start.
        self.tmp = Path(tempfile.mkdtemp(prefix="wl-"))
        weakref.finalize(self, shutil.rmtree, self.tmp, ignore_errors=True)
        config = folder / "gateway.toml"
        config.write_text(CONFIG.format(
            port=self.port, database=f'database = "{database}"' if database else ""), "utf-8")
        self.log = folder / "gateway.log"
        env = {**os.environ, "TMPDIR": str(self.tmp), "GATEWAY_STANDARDS_DIR": str(standards)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(GATEWAY), "--config", str(config), "run", "--log-format", "text"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True, preexec_fn=with_ctrl_c)
        self.helpers: set[int] = set()

    def wait_warm(self) -> None:
        """Until /health says the validation workers are warm; notes every helper process."""
        deadline = time.monotonic() + 90
        while True:
            assert self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "the gateway did not get warm"
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{self.port}/health",
                    headers={"Authorization": "Bearer test-token"})
                with urllib.request.urlopen(request, timeout=5) as answer:
                    if json.load(answer)["validation"] == "warm":
                        break
            except OSError:
                pass
            time.sleep(0.2)
        self.helpers = descendants(self.process.pid)
        assert len(self.helpers) >= 3, "expected a forkserver, a resource tracker and workers"

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def left_running(self, within: float) -> list[int]:
        deadline = time.monotonic() + within
        while True:
            left = sorted(pid for pid in self.helpers if alive(pid))
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.05)

    def kill_all(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        # The resource tracker last, and given time to end by itself once the others
        # are gone: killed, it leaves the pool's semaphores in /dev/shm.
        tracker = {pid for pid in self.helpers if b"resource_tracker" in _command(pid)}
        for pid in self.helpers - tracker:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while any(alive(pid) for pid in tracker) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in tracker:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def gateway(tmp_path: Path, installed_standards: Path) -> Iterator[Gateway]:
    started = Gateway(tmp_path, installed_standards)
    try:
        yield started
    finally:
        started.kill_all()


def test_sigkill_of_the_gateway_ends_its_validation_workers(gateway: Gateway) -> None:
    """A worker waits on a queue it holds both ends of, and keeps the forkserver's pipe
    open: after kill -9 (or the out-of-memory killer) they ran on for good, some
    400 MB each, and every restart added a set."""
    gateway.wait_warm()
    gateway.process.kill()
    gateway.process.wait()
    left = gateway.left_running(within=10)
    assert not left, f"10 s after kill -9 of the gateway its helpers still run: {left}"


def test_ctrl_c_stops_the_gateway_without_tracebacks_from_its_workers(gateway: Gateway) -> None:
    """Ctrl-C reaches the terminal's whole process group, the workers too: each died
    of KeyboardInterrupt mid-wait and printed a traceback into the gateway's log."""
    gateway.wait_warm()
    os.killpg(gateway.process.pid, signal.SIGINT)
    assert gateway.process.wait(timeout=60) == 0
    output = gateway.output()
    assert "gateway: stopped" in output
    assert "KeyboardInterrupt" not in output, output
    assert "Traceback" not in output, output
    assert not gateway.left_running(within=5)


def test_sighup_stops_the_gateway_as_sigterm_does(gateway: Gateway) -> None:
    """A closed terminal or ssh session (or an operator expecting a reload) sends SIGHUP;
    its default ended the gateway on the spot, with no stop: sends cut off, the
    workers orphaned, the pool's folder left in TMPDIR."""
    gateway.wait_warm()
    gateway.process.send_signal(signal.SIGHUP)
    status = gateway.process.wait(timeout=60)
    assert status == 0, f"exit status {status}: {gateway.output()[-2000:]}"
    assert "gateway: stopped" in gateway.output()
    assert not gateway.left_running(within=5)
    assert sorted(p.name for p in gateway.tmp.iterdir()) == []


def test_sigterm_right_after_sighup_lets_the_stop_finish(gateway: Gateway) -> None:
    """A closed terminal sends SIGHUP to its whole process group, and
    scripts/run-local.sh passes SIGTERM on to the gateway at the same moment."""
    gateway.wait_warm()
    gateway.process.send_signal(signal.SIGHUP)
    gateway.process.send_signal(signal.SIGTERM)
    status = gateway.process.wait(timeout=60)
    assert status == 0, f"exit status {status}: {gateway.output()[-2000:]}"
    assert "gateway: stopped" in gateway.output()


def _digipoort_simulator(tmp: Path, *, ignore_sighup: bool) -> tuple[subprocess.Popen[str], Path]:
    """The simulator with a temporary PKI, and that PKI's folder once it serves."""

    def prepare() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in the background (make run)
        if ignore_sighup:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup

    process = subprocess.Popen(
        [str(GATEWAY), "simulate", "digipoort", "--listen", "127.0.0.1:0", "--no-validate"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "TMPDIR": str(tmp)}, preexec_fn=prepare)
    assert process.stdout is not None
    folder = None
    for line in process.stdout:
        found = re.match(r"Certificates in (.+):$", line.strip())
        if found:
            folder = Path(found.group(1))
        if "Ctrl-C" in line:
            break
    assert folder is not None, "no temporary PKI printed"
    assert (folder / "ca.pem").is_file()
    return process, folder


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_signal_stops_the_digipoort_simulator_and_removes_its_temporary_keys(
    tmp_path: Path, stop: signal.Signals,
) -> None:
    """Without --pki-dir the simulator makes a CA and a supplier key in a temporary folder;
    `kill` (make run's clean-up, systemd) and a closed terminal ended it on the spot with
    the keys left behind."""
    process, folder = _digipoort_simulator(tmp_path, ignore_sighup=False)
    try:
        process.send_signal(stop)
        assert process.wait(timeout=30) == 0
        assert not folder.exists(), f"the CA and supplier keys in {folder} were left behind"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_sighup_ignored_under_nohup_stays_ignored(tmp_path: Path) -> None:
    process, folder = _digipoort_simulator(tmp_path, ignore_sighup=True)
    try:
        process.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert process.poll() is None, "nohup's SIGHUP stopped the simulator"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not folder.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_client_stalled_mid_request_does_not_hold_the_stop(gateway: Gateway) -> None:
    """An ERP that lost its network halfway through a submission: aiohttp's default lets
    the handler waiting for the rest of the body hold the stop a whole minute, past
    the grace docker and Kubernetes give before SIGKILL."""
    gateway.wait_warm()
    with socket.create_connection(("127.0.0.1", gateway.port)) as client:
        client.sendall(
            f"POST /api/v1/outbound/{AGENCY} HTTP/1.1\r\nHost: gateway\r\n"
            "Authorization: Bearer test-token\r\nContent-Type: application/json\r\n"
            'Content-Length: 100000\r\n\r\n{"document": "invoice"'.encode())
        time.sleep(0.5)  # the handler runs, reading the body
        began = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        try:
            status = gateway.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("one stalled request kept the gateway from stopping for 30 s")
    took = time.monotonic() - began
    assert status == 0
    assert took < 20, f"the stop took {took:.1f} s"


def _invoice(number: str) -> bytes:
    document = json.loads((REPO / "examples" / "erp-payloads" / "invoice.json").read_text())
    document["number"] = number
    return json.dumps(document).replace("00000001003227522000", AGENCY).encode()


def _submit(port: int, number: str) -> int | str:
    """The HTTP status of one submission, or the name of the error that stood for one."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/outbound/{AGENCY}", data=_invoice(number),
        method="POST", headers={"Authorization": "Bearer test-token",
                                "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status: int = answer.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError as exc:
        return type(exc).__name__


async def test_sigterm_during_a_burst_keeps_what_was_accepted_and_only_that(
    tmp_path: Path, installed_standards: Path, store_url: str, isolated_data_dir: Path,
) -> None:
    """Every submission answered 200/202 is stored and sent after a restart; none answered
    otherwise is stored; the stop is quick and leaves no half-written file."""
    gateway = Gateway(tmp_path, installed_standards, store_url)
    outcomes: dict[str, int | str] = {}
    try:
        gateway.wait_warm()
        stop = threading.Event()
        numbers = iter(range(1_000_000))
        lock = threading.Lock()

        def client() -> None:
            while not stop.is_set():
                with lock:
                    number = f"BURST-{next(numbers):06d}"
                outcomes[number] = _submit(gateway.port, number)

        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        await asyncio.sleep(2)
        began = time.monotonic()
        gateway.process.send_signal(signal.SIGTERM)
        status = gateway.process.wait(timeout=60)
        took = time.monotonic() - began
        stop.set()
        for thread in clients:
            thread.join()
    finally:
        gateway.kill_all()
    assert status == 0
    assert took < 20, f"the stop took {took:.1f} s"
    accepted = {n for n, outcome in outcomes.items() if outcome in (200, 202)}
    assert accepted, outcomes
    async with open_store(store_url) as store:
        for number in sorted(outcomes):
            found = await store.find_by_business_key(
                Direction.OUTBOUND, f"12345678:{AGENCY}:invoice:{number}")
            if number in accepted:
                assert found is not None, f"{number} was answered {outcomes[number]}, not stored"
            else:
                assert found is None, f"{number} was answered {outcomes[number]}, yet stored"

    # The same data directory at once: what was accepted before the stop is sent now.
    again = Gateway(tmp_path, installed_standards, store_url)
    try:
        again.wait_warm()
        deadline = time.monotonic() + 60
        async with open_store(store_url) as store:
            while (counts := await store.count_by_state()) != {
                    "outbound": {"sent": len(accepted)}}:
                assert time.monotonic() < deadline, counts
                await asyncio.sleep(0.2)
    finally:
        again.process.send_signal(signal.SIGTERM)
        again.process.wait(timeout=60)
        again.kill_all()
    written = [p for p in (isolated_data_dir / "out").rglob("*") if p.is_file()]
    assert not [p for p in written if p.name.startswith(".") or p.suffix == ".tmp"]
    assert len(written) == len(accepted)
    for path in written:
        ElementTree.parse(path)  # whole documents only
