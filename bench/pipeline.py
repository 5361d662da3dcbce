"""The whole outbound pipeline through the HTTP API: intake, validation, store, dispatch.

    .venv/bin/python bench/pipeline.py      # everything; the 100,000 backlog takes minutes
    .venv/bin/python bench/pipeline.py --backend sqlite --backlog 0 --count 500

A real gateway process (GatewayService, started by this script with a
``bench-sink`` channel that accepts every message at once) serves the API on
loopback; this process plays the ERP. For SQLite and PostgreSQL (a throwaway
local server, fsync on), with and without Schematron validation, it POSTs
``--count`` copies of the sample invoice (each its own number) from
``--concurrency`` clients to ``POST /api/v1/outbound/{oin}`` and prints:

- accepted/s: 202 answers per second of the submission phase;
- delivered/s: messages marked sent per second, from the first request until
  the last message was sent (read from the store);
- p50/p99 intake latency: request to answer, per request;
- peak RSS of the gateway process (VmHWM), and of its validation workers;
- repeats/s: the last 500 invoices sent again once all were delivered, as an
  ERP that missed the answers would (200 with the stored message).

The run marked "split" sends unvalidated invoices to an intake instance
(``gateway run --role intake``) while a full instance on the same database
sends them: one Python process keeps to about one core, and this is the
topology that uses the second for intake.

Validated invoices go out as Peppol BIS 3 (UBL XSD, EN 16931 and Peppol
Schematron); unvalidated ones as canonical JSON. Right before and right
after each validated run it measures the bare lxml + Saxon validation of the
same Peppol invoice in two processes (one per core): their mean is the floor
of the whole run. Each validated run then goes on for ``--stretches`` short
stretches, each between two floors taken within seconds of it; the target
is judged on the median of the stretches' ratios, since this machine's speed
can move by a third between the start and the end of a whole run. Then an
open-loop run at ``--rate`` requests/s (latency counted from when each request
was due, so a stall is not hidden), and a backlog of ``--backlog`` queued
messages drained by a fresh gateway, with the gateway's peak RSS.

On PostgreSQL each finished run's database is dropped and the server
checkpoints before the next run starts, so a run does not carry the write-out
and vacuum of the runs before it.

Figures are printed next to the targets of issue #6. Other processes on the
two cores change every figure: compare runs on a quiet machine. This VM's
speed also drifts by a fifth within minutes, so every run also prints the CPU
time per invoice of each process involved (gateway, validation workers,
PostgreSQL server, this ERP process), and each validated run sets the bare
check's CPU time per invoice against their total: a ratio that holds still
while the machine's speed moves, and says which process to make cheaper. It
also sets it against the total without the gateway process: the share a
gateway that cost nothing would reach, so the part of a shortfall that no
change to the gateway's code can close (the validation workers' cost above
the bare check, the PostgreSQL server sharing the two cores) shows apart.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg
import attrs

from gateway import eventloop
from gateway.channels import Accepted, Channel, ChannelType, OutboundMessage, SendOutcome
from gateway.devtools.pgcluster import PgCluster, create_database, drop_database
from gateway.formats import EncodeContext
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction
from gateway.model.json import to_json
from gateway.model.samples import example_invoice
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.standards.installer import install_from_dir
from gateway.standards.manifest import default_manifest
from gateway.store import MessageRecord, NewEvent, Store, TransportState, open_store

BENCH = Path(__file__).resolve().parent
SHARED_STANDARDS = BENCH.parents[1] / "shared" / "standards"
AGENCY_OIN = "00000001003227522000"  # the buyer of the sample invoice
SUPPLIER_KVK = "30097265"
TOKEN = "bench-token"
VALIDATED = "peppol-bis:invoice:3.0"
UNVALIDATED = "canonical:invoice:1"
REPEATS = 500
"""Invoices each throughput run sends a second time, after the first were delivered."""


# -- the gateway process -------------------------------------------------------------------------


class Sink(Channel):
    """Accepts every message at once: the bench measures the gateway, not a transport."""

    type_name = "bench-sink"

    async def send(self, message: OutboundMessage) -> SendOutcome:
        return Accepted(message.transport_id or message.message_id)


class SinkPlugin:
    @hookimpl
    def register_channels(self, registry: Registry) -> None:
        registry.add_channel(ChannelType("bench-sink", Sink, "accepts everything"))


async def serve(config: Path, role: str) -> None:
    from gateway.cli.run import secrets_of
    from gateway.logs import setup_logging
    from gateway.scheduling import schedule_gateway
    from gateway.service import GatewayService

    # The [dispatch] table of the file, as `gateway run` reads it: the bench measures
    # settings a user can write.
    service = GatewayService(
        config, make_plugin_manager(plugins=[("bench-sink", SinkPlugin())]), role=role)
    # Logs as `gateway run` writes them (INFO, one JSON object per line, secrets
    # masked), into a file beside the configuration rather than the bench's terminal:
    # a line per queued and per sent message is part of what a gateway costs.
    known = secrets_of(service.config)
    log_file = (config.parent / f"gateway-{role}.log").open("a", encoding="utf-8")
    setup_logging("INFO", "json", secrets=lambda: known, stream=log_file)
    schedule_gateway(service.config.gateway.scheduling)  # as `gateway run` does
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await service.start()
    gc.freeze()  # as GatewayService.run_forever does after its start
    try:
        assert service.address is not None
        print("ready", *service.address, flush=True)
        await stop.wait()
    finally:
        await service.stop()


def write_config(folder: Path, database: str, invoice_format: str, standards: Path) -> Path:
    path = folder / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:0"
data_dir = {str(folder / "data")!r}
database = {database!r}
standards_dir = {str(standards)!r}
token = "{TOKEN}"

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

# The sink answers at once, so a worker claims many due messages in one go. The short
# poll dates from before a wake that finds every worker busy was kept for the next one
# to finish (pipeline/workers.py); since then the default 1 second measures the same
# (delivered/s and CPU alike in alternating runs, with and without validation), and
# 0.05 stays so that the figures compare with those of earlier runs.
[dispatch]
batch = 10
poll_interval = 0.05

[channels.sink]
type = "bench-sink"

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "sink"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "{invoice_format}"
""", "utf-8")
    return path


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            return int(rest.split()[0])
    return 0


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_of(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` so far; 0 once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_pids(cluster: PgCluster | None) -> list[int]:
    """The server processes of ``cluster``: the postmaster and every backend below it."""
    if cluster is None:
        return []
    try:
        postmaster = int((cluster.data_dir / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, IndexError, ValueError):
        return []
    return [postmaster, *descendants(postmaster)]


@attrs.frozen
class CpuShares:
    """CPU milliseconds per invoice, by process, over one run."""

    gateway: float
    workers: float
    postgres: float
    client: float

    @property
    def total(self) -> float:
        return self.gateway + self.workers + self.postgres + self.client

    @property
    def beside_gateway(self) -> float:
        """Everything but the gateway process: what no change to its code can take away.

        The bare check set against this is the ceiling of the CPU share, and so
        says how much of a shortfall lies outside the gateway (the workers'
        cost above the bare check, the PostgreSQL server on the same cores).
        """
        return self.workers + self.postgres + self.client


class CpuMeter:
    """CPU time of the gateway (one process, or an intake instance and the full one), its
    validation workers, the PostgreSQL server and this process."""

    def __init__(self, gateways: Sequence[Gateway], cluster: PgCluster | None) -> None:
        self.gateways = gateways
        self.cluster = cluster
        self.before = self._now()

    def _groups(self) -> dict[str, list[int]]:
        pids = [gateway.process.pid for gateway in self.gateways]
        return {"gateway": pids,
                "workers": [child for pid in pids for child in descendants(pid)],
                "postgres": postgres_pids(self.cluster)}

    def _now(self) -> dict[str, dict[int, float]]:
        taken = {name: {pid: cpu_of(pid) for pid in pids}
                 for name, pids in self._groups().items()}
        taken["client"] = {0: time.process_time()}
        return taken

    def per_invoice(self, count: int) -> CpuShares:
        """Milliseconds per invoice since the meter was made; processes that started count whole.

        A process that ended meanwhile (a closed PostgreSQL connection) is
        missed: the gateway keeps its connections, so that is the polling only.
        """
        after = self._now()
        spent = {name: sum(cpu - self.before[name].get(pid, 0.0) for pid, cpu in now.items())
                 for name, now in after.items()}
        return CpuShares(**{name: 1000 * seconds / count for name, seconds in spent.items()})


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: the validation workers hang off a forkserver."""
    found: list[int] = []
    with contextlib.suppress(FileNotFoundError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    return found


class Gateway:
    """`bench/pipeline.py --serve` in a subprocess; its URL and its memory."""

    def __init__(self, config: Path, role: str = "full") -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(config),
             "--role", role],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().split()
        if not line or line[0] != "ready":
            self.process.kill()
            raise SystemExit(f"the gateway did not start: {line}")
        self.url = f"http://{line[1]}:{line[2]}"
        self.worker_peaks: dict[int, int] = {}

    def sample(self) -> None:
        """Remember the peaks of the processes below the gateway (validation workers)."""
        for child in descendants(self.process.pid):
            with contextlib.suppress(FileNotFoundError):
                self.worker_peaks[child] = status_kib(child, "VmHWM")

    def peak_mib(self) -> float:
        return status_kib(self.process.pid, "VmHWM") / 1024

    def workers_mib(self) -> float:
        self.sample()
        return sum(self.worker_peaks.values()) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the ERP -------------------------------------------------------------------------------------


def invoice_bodies(count: int, prefix: str) -> list[bytes]:
    template = to_json(example_invoice())
    bodies = []
    for n in range(count):
        template["number"] = f"{prefix}-{n:07d}"
        bodies.append(json.dumps(template).encode())
    return bodies


class Connection:
    """One keep-alive HTTP/1.1 connection to the gateway, written to cost the client little.

    The ERP shares the two cores with the gateway here, so its side is a
    bare request writer and answer reader (a general HTTP client costs some
    0.3 ms of CPU per request, about what the gateway's own HTTP handling
    costs): the figures then say what the gateway does, not the client.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 host: str) -> None:
        self.reader = reader
        self.writer = writer
        self.host = host

    @classmethod
    async def open(cls, url: str) -> Connection:
        host, _, port = url.removeprefix("http://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, f"{host}:{port}")

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        return await self.request("POST", path, body)

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode("ascii") + body)
        status = int((await self.reader.readline()).split()[1])
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "transfer-encoding":
                raise SystemExit(f"unexpected Transfer-Encoding: {value.strip()}")
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


async def wait_warm(url: str, within: float = 300) -> None:
    """Until /health no longer says the validation workers are warming, as a balancer would."""
    connection = await Connection.open(url)
    try:
        deadline = time.perf_counter() + within
        while True:
            status, answer = await connection.request("GET", "/health")
            if status == 200 and json.loads(answer).get("validation") != "warming":
                return
            if time.perf_counter() > deadline:
                raise SystemExit(f"the validation workers were not warm after {within} s")
            await asyncio.sleep(0.1)
    finally:
        connection.close()


async def post(connection: Connection, body: bytes, expect: int = 202) -> None:
    status, answer = await connection.post(f"/api/v1/outbound/{AGENCY_OIN}", body)
    if status != expect:
        raise SystemExit(f"HTTP {status}: {answer[:500].decode('utf-8', 'replace')}")


async def closed_loop(
    url: str, bodies: Sequence[bytes], concurrency: int, expect: int = 202,
) -> list[float]:
    """``concurrency`` clients, each posting its next invoice when the last was answered."""
    latencies: list[float] = []
    queue = iter(bodies)

    async def client() -> None:
        connection = await Connection.open(url)
        try:
            for body in queue:
                start = time.perf_counter()
                await post(connection, body, expect)
                latencies.append(time.perf_counter() - start)
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


async def open_loop(url: str, bodies: Sequence[bytes], rate: float) -> list[float]:
    """One request every 1/rate s whatever the answers; latency from when it was due."""
    latencies: list[float] = []
    idle: list[Connection] = []
    # Connections are opened before the clock starts, enough for the usual overlap.
    idle += await asyncio.gather(*(Connection.open(url) for _ in range(8)))

    async def one(body: bytes, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        connection = idle.pop() if idle else await Connection.open(url)
        await post(connection, body)
        latencies.append(time.perf_counter() - due)
        idle.append(connection)

    start = time.perf_counter() + 0.1
    await asyncio.gather(*(one(body, start + n / rate) for n, body in enumerate(bodies)))
    for connection in idle:
        connection.close()
    return latencies


async def sent_count(store: Store) -> int:
    counts = await store.count_by_state()
    return counts.get("outbound", {}).get("sent", 0)


PENDING = (TransportState.QUEUED, TransportState.SENDING, TransportState.RETRYING)


async def pending(store: Store) -> bool:
    """Whether an outbound message still waits to be sent: one index probe per state."""
    for state in PENDING:
        page = await store.list_messages(direction=Direction.OUTBOUND, transport_state=state,
                                         limit=1)
        if page.items:
            return True
    return False


async def wait_sent(database: str, count: int, gateway: Gateway, within: float) -> float:
    """Poll until ``count`` messages are sent; returns the time (perf_counter) it happened.

    For once every submission was answered. One connection for the whole wait:
    opening one per poll would add its cost (and PostgreSQL's) to the figures of
    the gateway being measured. Each poll asks whether anything still waits,
    which the state index answers at once; the count of sent messages, which
    reads every message stored so far, only once nothing does: polled every
    50 ms, that count cost the PostgreSQL server more as every run went on.
    """
    deadline = time.perf_counter() + within
    async with open_store(database) as store:
        while await pending(store) or await sent_count(store) < count:
            gateway.sample()
            if time.perf_counter() > deadline:
                raise SystemExit(f"only {await sent_count(store)} of {count} sent after "
                                 f"{within} s")
            await asyncio.sleep(0.05)
    return time.perf_counter()


def quantile(values: Sequence[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1000 if len(values) > 1 else 0.0


# -- bare validation -----------------------------------------------------------------------------


def peppol_invoice(folder: Path, standards: Path) -> bytes:
    """The sample invoice as the validated runs send it."""
    from gateway.config import parse_config

    folder.mkdir()
    path = write_config(folder, f"sqlite:///{folder / 'unused.db'}", VALIDATED, standards)
    config = parse_config(path.read_text("utf-8"), path)
    registry = build_registry(make_plugin_manager())
    return registry.format(VALIDATED).encode(
        example_invoice(), EncodeContext(agency_oin=AGENCY_OIN, agency_name="Bench",
                                         supplier=config.supplier))


_bare: Any = None
_together: Any = None


def _bare_start(standards: str, together: Any) -> None:
    """A bare process: the artifacts compiled once, as the gateway's workers do."""
    global _bare, _together
    sys.path.insert(0, str(BENCH))
    from validation import LAYERS, Bare

    from gateway.validation import Validator

    validator = Validator(Path(standards))
    validator.prepare(LAYERS)
    _bare, _together = Bare(validator), together


def _bare_run(data: bytes, count: int) -> tuple[float, float]:
    _bare.everything(data)  # warm
    _together.wait(60)  # both processes at once, or the floor is one process's alone
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        _bare.everything(data)
    return time.perf_counter() - start, time.process_time() - cpu


@attrs.frozen
class BareFigures:
    rate: float
    """Documents per second of both processes together."""
    cpu: float
    """CPU milliseconds per document."""


class BareFloor:
    """The bare lxml + Saxon check in two warm processes, one per core, for the whole bench.

    Kept warm so that a floor can be taken between two short stretches of a
    run, a second apart, not only before and after it.
    """

    def __init__(self, standards: Path, data: bytes) -> None:
        context = multiprocessing.get_context("spawn")
        self._data = data
        self._pool = context.Pool(2, initializer=_bare_start,
                                  initargs=(str(standards), context.Barrier(2)))

    def measure(self, count: int) -> BareFigures:
        runs = self._pool.starmap(_bare_run, [(self._data, count)] * 2, chunksize=1)
        return BareFigures(2 * count / max(wall for wall, _ in runs),
                           1000 * sum(cpu for _, cpu in runs) / (2 * count))

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


# -- the runs ------------------------------------------------------------------------------------


@attrs.frozen
class Stretch:
    """A short stretch of a validated run and the bare floor taken right before and after."""

    delivered: float
    floor: float
    cpu: CpuShares
    floor_cpu: float
    """The bare check's CPU milliseconds per invoice, mean of the two floors."""

    @property
    def ratio(self) -> float:
        return self.delivered / self.floor


@attrs.frozen
class Figures:
    accepted: float
    delivered: float
    p50: float
    p99: float
    peak: float
    workers: float
    cpu: CpuShares
    repeats: float
    """Repeats of stored invoices answered per second (200, the stored message)."""
    stretches: tuple[Stretch, ...] = ()


async def stretches(
    label: str, gateway: Gateway, database: str, sent: int, floor: BareFloor,
    args: argparse.Namespace, cluster: PgCluster | None,
) -> tuple[Stretch, ...]:
    """``--stretches`` short closed-loop stretches, each between two bare floors.

    The floor of a whole run is taken seconds before and after it, and this
    machine's speed can move by a third in between; a stretch and its floors
    lie within a few seconds of each other.
    """
    found = []
    before = floor.measure(args.stretch_bare)
    for n in range(args.stretches):
        bodies = invoice_bodies(args.stretch_count, f"S{n}{label}")
        meter = CpuMeter([gateway], cluster)
        start = time.perf_counter()
        await closed_loop(gateway.url, bodies, args.concurrency)
        sent += len(bodies)
        delivered = len(bodies) / (await wait_sent(database, sent, gateway, 600) - start)
        cpu = meter.per_invoice(len(bodies))
        after = floor.measure(args.stretch_bare)
        found.append(Stretch(delivered, (before.rate + after.rate) / 2, cpu,
                             (before.cpu + after.cpu) / 2))
        before = after
    return tuple(found)


async def throughput(
    label: str, folder: Path, database: str, invoice_format: str, args: argparse.Namespace,
    cluster: PgCluster | None = None, floor: BareFloor | None = None, intake: bool = False,
) -> Figures:
    """One closed-loop run; with ``intake`` the ERP posts to an intake instance
    (``gateway run --role intake``) while a full instance on the same database sends."""
    config = write_config(folder, database, invoice_format, args.standards)
    gateway = Gateway(config)
    gateways = [gateway]
    try:
        if intake:
            gateways.insert(0, Gateway(config, role="intake"))
        front = gateways[0]
        # Warm up (validation workers start, stylesheets compile) outside the measurement.
        for started in gateways:
            await wait_warm(started.url)
        await closed_loop(front.url, invoice_bodies(4, f"W{label}"), 2)
        await wait_sent(database, 4, gateway, 120)
        bodies = invoice_bodies(args.count, f"B{label}")
        meter = CpuMeter(gateways, cluster)
        start = time.perf_counter()
        latencies = await closed_loop(front.url, bodies, args.concurrency)
        accepted_at = time.perf_counter()
        sent_at = await wait_sent(database, args.count + 4, gateway, 600)
        cpu = meter.per_invoice(args.count)
        # An ERP that missed the answers sends the last of them again.
        again = bodies[-min(len(bodies), REPEATS):]
        repeated = time.perf_counter()
        await closed_loop(front.url, again, args.concurrency, expect=200)
        repeats = len(again) / (time.perf_counter() - repeated)
        paired = () if floor is None else await stretches(
            label, gateway, database, args.count + 4, floor, args, cluster)
        figures = Figures(
            accepted=args.count / (accepted_at - start), delivered=args.count / (sent_at - start),
            p50=quantile(latencies, 50), p99=quantile(latencies, 99),
            peak=max(started.peak_mib() for started in gateways),
            workers=sum(started.workers_mib() for started in gateways), cpu=cpu,
            repeats=repeats, stretches=paired)
    finally:
        for started in gateways:
            started.stop()
    print(f"{label:<32} {args.count:>7,} {figures.accepted:>10,.0f} {figures.delivered:>11,.0f} "
          f"{figures.p50:>8.1f} {figures.p99:>8.1f} {figures.peak:>8.0f} {figures.workers:>10.0f}",
          flush=True)
    return figures


async def settle(cluster: PgCluster | None, database: str) -> None:
    """Drop a finished run's PostgreSQL database and checkpoint, before the next run.

    Otherwise the server writes out and vacuums what the finished run left
    while the next one is measured, on the same two cores and disk: the later
    figures (the open-loop p99 above all) would carry the earlier runs' work.
    """
    if cluster is None:
        return
    await drop_database(cluster.dsn(), database.rsplit("/", 1)[1])
    conn = await asyncpg.connect(cluster.dsn())
    try:
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()


async def open_loop_run(
    label: str, folder: Path, database: str, invoice_format: str, args: argparse.Namespace,
) -> float:
    config = write_config(folder, database, invoice_format, args.standards)
    gateway = Gateway(config)
    try:
        await wait_warm(gateway.url)
        await closed_loop(gateway.url, invoice_bodies(4, "W"), 2)
        count = int(args.rate * args.open_seconds)
        latencies = await open_loop(gateway.url, invoice_bodies(count, "O"), args.rate)
    finally:
        gateway.stop()
    p50, p99 = quantile(latencies, 50), quantile(latencies, 99)
    print(f"  {label:<40} {count:>6,} requests  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms "
          f"max {max(latencies) * 1000:6.1f} ms", flush=True)
    return p99


async def backlog_run(folder: Path, args: argparse.Namespace) -> float:
    """Queue ``--backlog`` messages, then let a fresh gateway drain them; its peak RSS."""
    database = f"sqlite:///{folder / 'backlog.db'}"
    config = write_config(folder, database, UNVALIDATED, args.standards)
    # One real submission through the API gives the stored shape every copy takes.
    gateway = Gateway(config, role="intake")  # stores the submission, sends nothing
    try:
        await closed_loop(gateway.url, invoice_bodies(1, "T"), 1)
    finally:
        gateway.stop()
    async with open_store(database) as store:
        page = await store.list_messages(limit=1)
        template = page.items[0]
        assert template.business_key is not None
        assert template.document_kind is not None
        kind, prefix = template.document_kind, template.business_key.rsplit(":", 1)[0]
        start = time.perf_counter()
        numbers = iter(range(1, args.backlog))

        async def writer() -> None:
            for n in numbers:
                await store.add_outbound(MessageRecord.new_outbound(
                    document_kind=kind, business_key=f"{prefix}:K{n:07d}",
                    agency_oin=template.agency_oin, canonical_json=template.canonical_json,
                    raw_payload=template.raw_payload, format_key=template.format_key,
                    channel=template.channel, routing=template.routing,
                    validation=template.validation), [NewEvent("intake"), NewEvent("persist")])

        await asyncio.gather(*(writer() for _ in range(32)))
        queued_s = time.perf_counter() - start
    print(f"  queued {args.backlog:,} messages in the store in {queued_s:.0f} s "
          "(copies of one real submission, written straight to the store)", flush=True)
    gateway = Gateway(config)
    try:
        start = time.perf_counter()
        idle_peak = gateway.peak_mib()
        sent_at = await wait_sent(database, args.backlog, gateway, 3600)
        peak = gateway.peak_mib()
    finally:
        gateway.stop()
    print(f"  a fresh gateway drained them at {args.backlog / (sent_at - start):,.0f}/s; "
          f"peak RSS {peak:.0f} MiB (at start {idle_peak:.0f} MiB)", flush=True)
    return peak


def header() -> None:
    print("split: an intake instance (gateway run --role intake) takes the submissions, "
          "a full instance on the same database sends them")
    print(f"{'run':<32} {'count':>7} {'accepted/s':>10} {'delivered/s':>11} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'peak MiB':>8} {'pool MiB':>10}", flush=True)


async def main(args: argparse.Namespace) -> int:
    checks: list[tuple[str, bool, str]] = []
    with tempfile.TemporaryDirectory(prefix="wissel-bench-") as scratch:
        folder = Path(scratch)
        if args.standards is None:
            args.standards = folder / "standards"
            install_from_dir(default_manifest(), SHARED_STANDARDS, args.standards)
        data = peppol_invoice(folder / "encode", args.standards)
        floor = BareFloor(args.standards, data)
        bare = floor.measure(args.bare_count)
        print(f"bare lxml + Saxon, 2 processes, the Peppol invoice ({len(data):,} bytes): "
              f"{bare.rate:,.0f}/s, {bare.cpu:.2f} ms CPU each", flush=True)
        backends: list[tuple[str, Any]] = []
        if args.backend in ("sqlite", "both"):
            backends.append(("sqlite", None))
        cluster = None
        if args.backend in ("postgres", "both"):
            cluster = PgCluster.start(durable=True)
            backends.append(("postgres", cluster))
        try:
            header()
            results: dict[tuple[str, bool, bool], Figures] = {}
            # Per backend, the bare rate measured right before and after its validated run:
            # this machine's speed drifts by a fifth within minutes, so a floor taken at the
            # start would compare the run with another machine.
            floors: dict[str, float] = {}
            bare_cpu: dict[str, float] = {}
            for name, server in backends:
                # "split": an intake instance takes the submissions, a full one sends.
                for validated, split in ((False, False), (False, True), (True, False)):
                    label = (f"{name}, {'validated' if validated else 'no validation'}"
                             f"{', split' if split else ''}")
                    run = folder / label.replace(", ", "-").replace(" ", "-")
                    run.mkdir()
                    database = (f"sqlite:///{run / 'gateway.db'}" if server is None else
                                await create_database(server.dsn(), f"bench_{len(results)}"))
                    if validated:
                        before = floor.measure(args.bare_count)
                    results[name, validated, split] = figures = await throughput(
                        label, run, database, VALIDATED if validated else UNVALIDATED, args,
                        server, floor if validated else None, intake=split)
                    await settle(server, database)
                    if validated:
                        after = floor.measure(args.bare_count)
                        floors[name] = (before.rate + after.rate) / 2
                        bare_cpu[name] = (before.cpu + after.cpu) / 2
                        print(f"{'':<32} bare lxml + Saxon just before / after: "
                              f"{before.rate:,.0f} / {after.rate:,.0f}/s", flush=True)
                        print(f"{'':<32} {len(figures.stretches)} stretches of "
                              f"{args.stretch_count} between floors:", flush=True)
                        for stretch in figures.stretches:
                            cpu = stretch.cpu
                            print(f"{'':<34}delivered {stretch.delivered:,.0f}/s = "
                                  f"{stretch.ratio:.0%} of {stretch.floor:,.0f}/s; CPU ms: "
                                  f"gateway {cpu.gateway:.2f}, workers {cpu.workers:.2f}, "
                                  f"postgres {cpu.postgres:.2f} against bare "
                                  f"{stretch.floor_cpu:.2f} "
                                  f"({stretch.floor_cpu / cpu.total:.0%}; "
                                  f"{stretch.floor_cpu / cpu.beside_gateway:.0%} without "
                                  "the gateway)", flush=True)
                    print(f"{'':<32} repeats of stored invoices: {figures.repeats:,.0f}/s",
                          flush=True)
                    cpu = figures.cpu
                    print(f"{'':<32} CPU ms per invoice: gateway {cpu.gateway:.2f}, "
                          f"validation workers {cpu.workers:.2f}, postgres {cpu.postgres:.2f}, "
                          f"ERP client {cpu.client:.2f}; total {cpu.total:.2f}", flush=True)
                    if validated:
                        print(f"{'':<32} bare check {bare_cpu[name]:.2f} ms CPU per invoice: "
                              f"{bare_cpu[name] / cpu.total:.0%} of the pipeline's; "
                              f"{bare_cpu[name] / cpu.beside_gateway:.0%} if the gateway "
                              "process cost nothing", flush=True)
            for name, _ in backends:
                validated_rate = results[name, True, False].delivered
                whole = validated_rate / floors[name]
                ratios = [stretch.ratio for stretch in results[name, True, False].stretches]
                # The median of the stretches, each held against floors taken seconds
                # from it: the whole run's floor can be a different machine's.
                ratios = ratios or [whole]
                paired = statistics.median(ratios)
                checks.append((f"{name}: validated delivered >= 80% of bare 2-process",
                               paired >= 0.8,
                               f"median of stretches {paired:.0%} (range {min(ratios):.0%}-"
                               f"{max(ratios):.0%}); whole run {validated_rate:,.0f}/s = "
                               f"{whole:.0%} of {floors[name]:,.0f}/s"))
            if ("sqlite", False, False) in results:
                alone = results["sqlite", False, False].accepted
                beside = results["sqlite", False, True].accepted
                checks.append(("sqlite: >= 1,000 accepted/s without validation",
                               max(alone, beside) >= 1000,
                               f"one process {alone:,.0f}/s; an intake instance beside the "
                               f"gateway {beside:,.0f}/s"))

            print(f"open loop, {args.rate:.0f} requests/s for {args.open_seconds:.0f} s:")
            for name, server in backends:
                for validated in (False, True):
                    label = f"{name}, {'validated' if validated else 'no validation'}"
                    run = folder / ("open-" + label.replace(", ", "-").replace(" ", "-"))
                    run.mkdir()
                    database = (f"sqlite:///{run / 'gateway.db'}" if server is None else
                                await create_database(server.dsn(), f"bench_open_{name}"
                                                      f"_{int(validated)}"))
                    if validated:
                        # The machine's pace at the time: at 100/s the checks alone take
                        # this share of the two cores, and the queueing grows with it.
                        pace = floor.measure(args.stretch_bare)
                        print(f"  (bare check just before: {pace.cpu:.2f} ms CPU per invoice, "
                              f"{args.rate * pace.cpu / 20:.0f}% of two cores at "
                              f"{args.rate:.0f}/s)", flush=True)
                    p99 = await open_loop_run(
                        label, run, database, VALIDATED if validated else UNVALIDATED, args)
                    await settle(server, database)
                    checks.append((f"{label}: intake p99 < 50 ms at {args.rate:.0f}/s",
                                   p99 < 50, f"{p99:.1f} ms"))
        finally:
            floor.close()
            if cluster is not None:
                cluster.stop()
        if args.backlog:
            print(f"backlog of {args.backlog:,} (SQLite):")
            peak = await backlog_run(folder, args)
            checks.append((f"{args.backlog:,} backlog: gateway peak RSS < 300 MB",
                           peak * 2**20 < 300e6, f"{peak:.0f} MiB"))
    print("targets (issue #6):")
    for label, holds, figure in checks:
        print(f"  {'holds' if holds else 'FAILS'}  {label}: {figure}")
    return 0 if all(holds for _, holds, _ in checks) else 1


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--count", type=int, default=2000, help="invoices per throughput run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests/s")
    parser.add_argument("--open-seconds", type=float, default=10.0)
    parser.add_argument("--backlog", type=int, default=100_000, help="0 skips the backlog run")
    parser.add_argument("--bare-count", type=int, default=200,
                        help="invoices per process for the bare validation floor")
    parser.add_argument("--stretches", type=int, default=8,
                        help="short stretches of each validated run, each between two floors")
    parser.add_argument("--stretch-count", type=int, default=400,
                        help="invoices per stretch")
    parser.add_argument("--stretch-bare", type=int, default=60,
                        help="invoices per process for the floor between stretches")
    parser.add_argument("--standards", type=Path, default=None,
                        help="installed standards (default: installed from ../shared/standards)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--role", default="full", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse()
    if arguments.serve is not None:
        # The loop `gateway run` uses.
        eventloop.run(serve(arguments.serve, arguments.role))
    else:
        sys.exit(asyncio.run(main(arguments)))
