"""What the reliability tests share: a config, a gateway process to kill, an ERP, a receiver's log.

The receiver's rule for repeats (see tests/reliability_gateway.py): it knows a
delivery by the transport id on the wire, which the gateway keeps stable
across retries. The same business key twice under the SAME transport id is a
repeat the receiver recognises and drops (allowed after a crash between the
send and recording it); the same business key under a DIFFERENT transport id
is a second document to the receiver, a double send: always a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import attrs

from gateway.model.json import to_json
from gateway.model.samples import example_invoice

TESTS = Path(__file__).resolve().parent
SCRIPT = TESTS / "reliability_gateway.py"
AGENCY_OIN = "00000001003227522000"
SUPPLIER_KVK = "30097265"
START_TIMEOUT = 60.0
TOKEN = "reliability-token"


def invoice_number(n: int) -> str:
    return f"REL-{n:06d}"


def invoice_json(n: int) -> bytes:
    """The sample invoice (lines, allowances, an attachment) under number ``n``."""
    invoice = attrs.evolve(example_invoice(), number=invoice_number(n))
    return json.dumps(to_json(invoice)).encode()


def gateway_config(
    folder: Path, database: str, *, record: Path, delay: float = 0.0, gate: Path | None = None,
    inbox: Path | None = None,
) -> Path:
    """A gateway.toml routing invoices for AGENCY_OIN, unvalidated, to the recorder."""
    gate_line = f"gate = {str(gate)!r}\n" if gate is not None else ""
    inbox_table = (f"\n[channels.inbox]\ntype = \"folder\"\ninbox = {str(inbox)!r}\n"
                   "poll_interval = 0.05\n") if inbox is not None else ""
    path = folder / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:0"
data_dir = {str(folder / "data")!r}
database = {database!r}
token = "{TOKEN}"

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.recorder]
record = {str(record)!r}
delay = {delay}
{gate_line}{inbox_table}
[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "recorder"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "canonical:invoice:1"
""", "utf-8")
    return path


class GatewayProcess:
    """One run of tests/reliability_gateway.py; logs go to a file beside the config."""

    def __init__(self, config: Path, *args: str, log_name: str = "gateway.log") -> None:
        self.log = config.parent / log_name
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SCRIPT), str(config), *args],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def wait_ready(self) -> str:
        """Block until the service is up; its base URL."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline().decode() if ready else "(nothing in time)"
        if not line.startswith("ready"):
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the gateway did not start ({line!r}); see {self.log}:\n"
                                 f"{self.log.read_text()[-3000:]}")
        _, host, port = line.split()
        return f"http://{host}:{port}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def stop(self) -> None:
        """SIGTERM and a clean stop; kill if it does not come."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def alive(self) -> bool:
        return self.process.poll() is None


class Erp:
    """The supplier's ERP: submits invoices 0..count-1 over the HTTP API, retrying until answered.

    ``urls`` are the gateways to talk to (invoice n goes to urls[n % len]),
    empty while none is up. A request that got no answer (connection refused
    or cut, 5xx) is sent again, as an ERP does; ``duplicates`` counts the 200
    answers saying it was stored already: the gateway had kept it but died
    before answering.
    """

    def __init__(self, count: int, concurrency: int = 4) -> None:
        self.count = count
        self.concurrency = concurrency
        self.urls: list[str] = []
        self.acknowledged: set[int] = set()
        self.duplicates = 0
        self.unanswered = 0

    async def run(self) -> None:
        numbers = iter(range(self.count))
        async with aiohttp.ClientSession(
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as session:
            await asyncio.gather(*(self._client(session, numbers)
                                   for _ in range(self.concurrency)))

    async def _client(self, session: aiohttp.ClientSession, numbers: Iterator[int]) -> None:
        for n in numbers:
            body = invoice_json(n)
            while n not in self.acknowledged:
                if not self.urls:
                    await asyncio.sleep(0.02)
                    continue
                url = self.urls[n % len(self.urls)]
                try:
                    async with session.post(f"{url}/api/v1/outbound/{AGENCY_OIN}",
                                            data=body) as response:
                        text = await response.text()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    self.unanswered += 1
                    await asyncio.sleep(0.02)
                    continue
                if status >= 500:
                    self.unanswered += 1
                    continue
                assert status in (200, 202), f"invoice {n}: HTTP {status}: {text}"
                self.duplicates += status == 200
                self.acknowledged.add(n)


@attrs.frozen
class Received:
    """The receiver's log, grouped by business key."""

    transport_ids: dict[str, set[str]]
    deliveries: dict[str, int]
    pids: dict[str, set[int]]

    @property
    def keys(self) -> set[str]:
        return set(self.transport_ids)

    def double_sends(self) -> dict[str, set[str]]:
        """Business keys the receiver got under more than one transport id."""
        return {key: ids for key, ids in self.transport_ids.items() if len(ids) > 1}

    def repeats(self) -> int:
        """Deliveries the receiver recognised as repeats (same transport id again)."""
        return sum(count - 1 for count in self.deliveries.values())


def read_received(path: Path) -> Received:
    transport_ids: dict[str, set[str]] = defaultdict(set)
    deliveries: dict[str, int] = defaultdict(int)
    pids: dict[str, set[int]] = defaultdict(set)
    if path.exists():
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            key = entry["business_key"]
            transport_ids[key].add(entry["transport_id"])
            deliveries[key] += 1
            pids[key].add(entry["pid"])
    return Received(dict(transport_ids), dict(deliveries), dict(pids))


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as data:
        return sum(1 for _ in data)


def reached(count: Callable[[], int], target: int) -> Callable[[], bool]:
    return lambda: count() >= target


async def wait_for(
    condition: Callable[[], bool], within: float, what: str, poll: float = 0.01,
) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(poll)
