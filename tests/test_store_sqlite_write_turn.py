"""Writers of several processes on one SQLite file take turns through a lock file.

SQLite's own wait for its write lock sleeps between looks (up to 100 ms), so a
second gateway process on the file (an intake instance beside the full one)
waited out those sleeps long after the lock was free. Each store's writer takes
an exclusive flock on ``<database>-writers`` around its transaction, which the
kernel hands to the next writer the moment it is let go.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import stat
from pathlib import Path

from pipeline_support import AGENCY_OIN

from gateway.store import MessageRecord, TransportState
from gateway.store.sqlite import SqliteStore


def record(number: int) -> MessageRecord:
    return MessageRecord.new_outbound(
        document_kind="invoice", business_key=f"turn:{number}", agency_oin=AGENCY_OIN,
        canonical_json="{}", raw_payload=b"<Invoice/>", format_key="canonical:invoice:1",
        channel="folder", routing={}, validation=None, max_attempts=3,
    )


async def test_a_write_waits_for_the_turn_another_process_holds(
    tmp_path: Path,
) -> None:
    database = tmp_path / "gateway.db"
    store = SqliteStore(database)
    try:
        await store.migrate()
        turn_file = tmp_path / "gateway.db-writers"
        assert turn_file.exists()
        assert stat.S_IMODE(turn_file.stat().st_mode) == 0o600
        # Another process in the middle of its write transaction holds the turn.
        other = os.open(turn_file, os.O_RDWR)
        try:
            fcntl.flock(other, fcntl.LOCK_EX)
            write = asyncio.ensure_future(store.add_outbound(record(1), []))
            await asyncio.sleep(0.3)
            assert not write.done(), "the write went ahead while another writer had the turn"
            fcntl.flock(other, fcntl.LOCK_UN)
            stored, created = await asyncio.wait_for(write, 10)
        finally:
            os.close(other)
        assert created
        assert stored.transport_state is TransportState.QUEUED
    finally:
        await store.close()


async def test_two_stores_on_one_file_write_in_turns_and_lose_nothing(tmp_path: Path) -> None:
    database = tmp_path / "gateway.db"
    first, second = SqliteStore(database), SqliteStore(database)
    try:
        await first.migrate()
        await second.migrate()
        results = await asyncio.gather(*(
            (first if n % 2 else second).add_outbound(record(n), []) for n in range(200)))
        assert all(created for _, created in results)
        counts = await first.count_by_state()
        assert counts["outbound"]["queued"] == 200
    finally:
        await first.close()
        await second.close()


async def test_the_turn_file_is_let_go_when_the_store_closes(tmp_path: Path) -> None:
    database = tmp_path / "gateway.db"
    store = SqliteStore(database)
    await store.migrate()
    await store.add_outbound(record(1), [])
    await store.close()
    # Nobody holds it: a non-blocking lock is granted at once.
    other = os.open(tmp_path / "gateway.db-writers", os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(other)
