"""Message store throughput: intake inserts, claims, and memory under a large backlog.

    .venv/bin/python bench/store.py                        # SQLite and PostgreSQL, 20,000 each
    .venv/bin/python bench/store.py --backend sqlite --synchronous normal
    .venv/bin/python bench/store.py --backlog 100000       # the backlog memory check

Each run inserts outbound messages with a 10 KB payload and the six timeline
events of an intake from ``--concurrency`` tasks (as API requests would
arrive), then drains them with a Dispatcher of ``--workers`` workers claiming
``--batch`` at a time and sending to a channel that accepts at once, so every
message is claimed, sent, and marked sent with its attempt. It prints
inserts/s, insert latency p50/p99, the CPU time of this process per message
for the inserts (add µs) and for the dispatch (send µs, claim to sent
recorded), sent messages/s, the process's RSS now and at its peak, and the
database size. The CPU figures, unlike the rates, hold up when other
processes share the cores. PostgreSQL runs on a throwaway local server with
fsync on (durable, as in production) unless ``--postgres-dsn`` names one; its
server's CPU is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from gateway.channels import Accepted, Channel, OutboundMessage, SendOutcome
from gateway.devtools.pgcluster import PgCluster, create_database
from gateway.pipeline import Dispatcher, DispatchSettings
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.store import MessageRecord, NewEvent, Store, open_store

PAYLOAD = (b"<Invoice>" + b"<Line>Artikel 12,345 EUR</Line>" * 340)[:10_230] + b"</Invoice>"
LEASE = timedelta(minutes=5)
ROUTING = {"agency_oin": "00000001003214345000", "kind": "invoice", "channel": "digipoort",
           "format": "nlcius:invoice:1.0", "explanation": ["agency found", "route by kind"]}
# What an intake writes on the timeline of a message it queues.
INTAKE_EVENTS = [
    NewEvent("intake", {"bytes": 10_240}), NewEvent("check", {"passed": True}),
    NewEvent("route", ROUTING), NewEvent("encode", {"format": "nlcius:invoice:1.0",
                                                    "bytes": 10_240}),
    NewEvent("validate", {"format": "nlcius:invoice:1.0", "valid": True, "layers": [],
                          "errors": 0, "warnings": 0}),
    NewEvent("persist"),
]


class Sink(Channel):
    """Accepts every message at once: the bench measures the store and the dispatcher."""

    type_name = "bench-sink"

    async def send(self, message: OutboundMessage) -> SendOutcome:
        return Accepted(message.transport_id or f"KNM-{message.message_id}")


def cpu_seconds() -> float:
    """User and system CPU of this process so far, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def memory_mib() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MiB."""
    values = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def message(n: int, now: datetime) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=f"12345678:00000001003214345000:invoice:B{n}",
        agency_oin="00000001003214345000", channel="digipoort", format_key="nlcius:invoice:1.0",
        canonical_json=f'{{"number": "B{n}"}}', raw_payload=b"%08d" % n + PAYLOAD,
        routing=ROUTING, validation={"valid": True, "layers": []}, now=now,
    )


async def insert(store: Store, count: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    numbers = iter(range(count))

    async def client() -> None:
        for n in numbers:
            record = message(n, datetime.now(UTC))
            start = time.perf_counter()
            await store.add_outbound(record, INTAKE_EVENTS)
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


async def drain(store: Store, registry: Registry, count: int, workers: int,
                batch: int) -> None:
    """Run a Dispatcher until all ``count`` messages are recorded as sent."""
    dispatcher = Dispatcher(store, {"digipoort": Sink("digipoort", {})}, registry,
                            DispatchSettings(workers=workers, batch=batch, lease=LEASE,
                                             idle_poll=0.05), instance="bench")
    dispatcher.start()
    try:
        while True:
            counts = await store.count_by_state()
            if counts.get("outbound", {}).get("sent", 0) >= count:
                break
            await asyncio.sleep(0.05)  # the sent state is in the store, not in an event
    finally:
        await dispatcher.stop()


async def size_of(url: str, path: Path | None) -> str:
    """The database on disk: the SQLite file with its WAL, or pg_database_size."""
    if path is not None:
        total = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    else:
        conn = await asyncpg.connect(url)
        try:
            total = await conn.fetchval("SELECT pg_database_size(current_database())")
        finally:
            await conn.close()
    return f"{total / 2**20:,.0f} MiB"


async def run(label: str, url: str, args: argparse.Namespace, db_file: Path | None,
              registry: Registry) -> None:
    async with open_store(url) as store:
        await store.migrate()
        start, cpu = time.perf_counter(), cpu_seconds()
        latencies = await insert(store, args.count, args.concurrency)
        insert_s, insert_cpu = time.perf_counter() - start, cpu_seconds() - cpu
        rss_after_insert, _ = memory_mib()
        start, cpu = time.perf_counter(), cpu_seconds()
        await drain(store, registry, args.count, args.workers, args.batch)
        drain_s, drain_cpu = time.perf_counter() - start, cpu_seconds() - cpu
        counts = await store.count_by_state()
    rss, peak = memory_mib()
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{label:<22} {args.count:>8,} {args.count / insert_s:>10,.0f} "
        f"{quantiles[49] * 1000:>8.2f} {quantiles[98] * 1000:>8.2f} "
        f"{insert_cpu / args.count * 1e6:>7.0f} {drain_cpu / args.count * 1e6:>7.0f} "
        f"{args.count / drain_s:>10,.0f} {rss_after_insert:>9.0f} {rss:>7.0f} {peak:>8.0f} "
        f"{await size_of(url, db_file):>10}"
    )
    assert counts == {"outbound": {"sent": args.count}}, counts


def header() -> None:
    print(f"{'backend':<22} {'messages':>8} {'inserts/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'add µs':>7} {'send µs':>7} {'sent/s':>10} {'RSS@ins':>9} {'RSS':>7} "
          f"{'peak':>8} {'db size':>10}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--backlog", type=int, default=0,
                        help="insert this many instead of --count (memory check)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="dispatch workers")
    parser.add_argument("--batch", type=int, default=10, help="messages per claim")
    parser.add_argument("--synchronous", default="full", help="SQLite: full or normal")
    parser.add_argument("--postgres-dsn", help="a server to use instead of a throwaway one")
    args = parser.parse_args()
    if args.backlog:
        args.count = args.backlog
    registry = build_registry(make_plugin_manager())
    header()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="wissel-bench-") as folder:
            db = Path(folder) / "store.db"
            await run(f"sqlite ({args.synchronous})", f"sqlite:///{db}?synchronous="
                      f"{args.synchronous}", args, db, registry)
    if args.backend in ("postgres", "both"):
        if args.postgres_dsn:
            url = await create_database(args.postgres_dsn, "wissel_bench")
            await run("postgres", url, args, None, registry)
        else:
            with PgCluster.start(durable=True) as cluster:
                url = await create_database(cluster.dsn(), "wissel_bench")
                await run("postgres (fsync on)", url, args, None, registry)


if __name__ == "__main__":
    asyncio.run(main())
