"""Message store throughput: intake inserts, claims, and memory under a large backlog.

    .venv/bin/python bench/store.py                        # SQLite and PostgreSQL, 20,000 each
    .venv/bin/python bench/store.py --backend sqlite --synchronous normal
    .venv/bin/python bench/store.py --backlog 100000       # the backlog memory check

Each run inserts outbound messages with a 10 KB payload from ``--concurrency``
tasks (as API requests would arrive), then drains them with ``--workers``
claimers that claim batches and mark every message sent with its attempt, as
the dispatcher will. It prints inserts/s, insert latency p50/p99, claimed and
finished messages/s, the process's RSS now and at its peak, and the database
size. PostgreSQL runs on a throwaway local server with fsync on (durable, as
in production) unless ``--postgres-dsn`` names one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from gateway.devtools.pgcluster import PgCluster, create_database
from gateway.store import (
    Attempt,
    AttemptOutcome,
    MessageRecord,
    NewEvent,
    Store,
    TransportState,
    open_store,
)

PAYLOAD = (b"<Invoice>" + b"<Line>Artikel 12,345 EUR</Line>" * 340)[:10_230] + b"</Invoice>"
LEASE = timedelta(minutes=5)


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
        routing={"channel": "digipoort", "explanation": ["agency found", "route by kind"]},
        now=now,
    )


async def insert(store: Store, count: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    numbers = iter(range(count))

    async def client() -> None:
        for n in numbers:
            record = message(n, datetime.now(UTC))
            start = time.perf_counter()
            await store.add_outbound(record, [NewEvent("intake"), NewEvent("persist")])
            latencies.append(time.perf_counter() - start)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return latencies


async def drain(store: Store, workers: int, batch: int) -> int:
    done = 0

    async def worker(name: str) -> None:
        nonlocal done
        while claimed := await store.claim_due(name, batch, LEASE):
            for record in claimed:
                now = datetime.now(UTC)
                attempt = Attempt(record.id, record.attempts, now, now, AttemptOutcome.ACCEPTED,
                                  transport_id=f"KNM-{record.id}")
                await store.transition(record.id, event="sent",
                                       transport_state=TransportState.SENT,
                                       expect_claimed_by=name, attempt=attempt)
            done += len(claimed)

    await asyncio.gather(*(worker(f"w{n}") for n in range(workers)))
    return done


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


async def run(label: str, url: str, args: argparse.Namespace, db_file: Path | None) -> None:
    async with open_store(url) as store:
        await store.migrate()
        start = time.perf_counter()
        latencies = await insert(store, args.count, args.concurrency)
        insert_s = time.perf_counter() - start
        rss_after_insert, _ = memory_mib()
        start = time.perf_counter()
        drained = await drain(store, args.workers, args.batch)
        drain_s = time.perf_counter() - start
        assert drained == args.count, (drained, args.count)
        counts = await store.count_by_state()
    rss, peak = memory_mib()
    quantiles = statistics.quantiles(latencies, n=100)
    print(
        f"{label:<22} {args.count:>8,} {args.count / insert_s:>10,.0f} "
        f"{quantiles[49] * 1000:>8.2f} {quantiles[98] * 1000:>8.2f} "
        f"{drained / drain_s:>10,.0f} {rss_after_insert:>9.0f} {rss:>7.0f} {peak:>8.0f} "
        f"{await size_of(url, db_file):>10}"
    )
    assert counts == {"outbound": {"sent": args.count}}, counts


def header() -> None:
    print(f"{'backend':<22} {'messages':>8} {'inserts/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'sent/s':>10} {'RSS@ins':>9} {'RSS':>7} {'peak':>8} {'db size':>10}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--backlog", type=int, default=0,
                        help="insert this many instead of --count (memory check)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--synchronous", default="full", help="SQLite: full or normal")
    parser.add_argument("--postgres-dsn", help="a server to use instead of a throwaway one")
    args = parser.parse_args()
    if args.backlog:
        args.count = args.backlog
    header()
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="wissel-bench-") as folder:
            db = Path(folder) / "store.db"
            await run(f"sqlite ({args.synchronous})", f"sqlite:///{db}?synchronous="
                      f"{args.synchronous}", args, db)
    if args.backend in ("postgres", "both"):
        if args.postgres_dsn:
            url = await create_database(args.postgres_dsn, "wissel_bench")
            await run("postgres", url, args, None)
        else:
            with PgCluster.start(durable=True) as cluster:
                url = await create_database(cluster.dsn(), "wissel_bench")
                await run("postgres (fsync on)", url, args, None)


if __name__ == "__main__":
    asyncio.run(main())
