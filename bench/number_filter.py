"""The message list's ``number`` filter on a large store: time per search.

    .venv/bin/python bench/number_filter.py                  # SQLite and PostgreSQL, 200,000
    .venv/bin/python bench/number_filter.py --backend sqlite --count 50000

Fills a store with ``--count`` messages through the store's own API (nine in
ten outbound invoices, one in ten inbound orders, as the inbound pipeline
stores them: raw first, then keyed when decoded), then times
``list_messages(number=...)`` as ``GET /api/v1/messages?number=`` and
``gateway messages list --number`` run it: for a number one message has, for
an inbound one, and for one nobody has (the operator's typo). Prints the
median and the slowest of ``--repeat`` searches in milliseconds. PostgreSQL
runs on a throwaway local server unless ``--postgres-dsn`` names one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.devtools.pgcluster import PgCluster, create_database
from gateway.kinds import Direction
from gateway.store import MessageRecord, NewEvent, Store, TransportState, open_store

AGENCY = "00000001003214345000"
SUPPLIER = "12345678"


def outbound(n: int) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=f"{SUPPLIER}:{AGENCY}:invoice:F-{n}",
        agency_oin=AGENCY, channel="digipoort", format_key="nlcius:invoice:1.0",
        canonical_json=f'{{"number": "F-{n}"}}', raw_payload=b"<Invoice/>",
        now=datetime.now(UTC),
    )


async def add(store: Store, n: int) -> None:
    if n % 10:
        await store.add_outbound(outbound(n), [NewEvent("intake")])
        return
    record, _ = await store.add_inbound_raw(MessageRecord.new_inbound(
        channel="peppol", raw_payload=b"<Order/>", transport_id=f"in-{n}"))
    await store.transition(
        record.id, event=NewEvent("decoded", {}), transport_state=TransportState.DECODED,
        document_kind="order", agency_oin=AGENCY, business_key=f"{AGENCY}:order:PO-{n}")


async def fill(store: Store, count: int, concurrency: int) -> None:
    numbers = iter(range(count))

    async def client() -> None:
        for n in numbers:
            await add(store, n)

    await asyncio.gather(*(client() for _ in range(concurrency)))


async def timed(store: Store, repeat: int, number: str, expected: int,
                direction: Direction | None) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        page = await store.list_messages(number=number, direction=direction)
        times.append(time.perf_counter() - start)
        assert len(page.items) == expected, (number, page.items)
    return statistics.median(times) * 1000, max(times) * 1000


async def run(label: str, url: str, args: argparse.Namespace) -> None:
    async with open_store(url) as store:
        await store.migrate()
        start = time.perf_counter()
        await fill(store, args.count, args.concurrency)
        filled = time.perf_counter() - start
        middle = args.count // 2 + 1  # outbound: n % 10 != 0
        searches = [
            ("outbound hit", f"F-{middle}", 1, None),
            ("inbound hit", f"PO-{args.count // 2 // 10 * 10}", 1, None),
            ("no match", "F-nobody", 0, None),
            ("hit, direction=outbound", f"F-{middle}", 1, Direction.OUTBOUND),
        ]
        for name, number, expected, direction in searches:
            median, slowest = await timed(store, args.repeat, number, expected, direction)
            print(f"{label:<12} {args.count:>9,} {name:<24} {median:>10.2f} {slowest:>10.2f}"
                  f"   (filled in {filled:.0f} s)")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--postgres-dsn", help="a server to use instead of a throwaway one")
    args = parser.parse_args()
    print(f"{'backend':<12} {'messages':>9} {'search':<24} {'median ms':>10} {'max ms':>10}")
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="wissel-bench-") as folder:
            db = Path(folder) / "store.db"
            await run("sqlite", f"sqlite:///{db}?synchronous=normal", args)
    if args.backend in ("postgres", "both"):
        if args.postgres_dsn:
            await run("postgres", await create_database(args.postgres_dsn, "wissel_bench"),
                      args)
        else:
            with PgCluster.start() as cluster:
                await run("postgres", await create_database(cluster.dsn(), "wissel_bench"),
                          args)


if __name__ == "__main__":
    asyncio.run(main())
