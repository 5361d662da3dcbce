"""A worker process for the multi-process claim tests.

    python tests/claim_worker.py DATABASE_URL WORKER_ID

Opens the store, prints "ready", waits for a line on stdin so that all
workers start claiming together, then claims until nothing is due, marking
each message sent, and prints the ids it claimed as one JSON list.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import timedelta

from gateway.store import TransportState, open_store


async def work(url: str, worker_id: str) -> list[str]:
    store = open_store(url)
    try:
        await store.get("warm-up")  # connect before the start signal
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        claimed: list[str] = []
        while batch := await store.claim_due(worker_id, 3, timedelta(minutes=5)):
            for record in batch:
                claimed.append(record.id)
                await store.transition(record.id, event="sent",
                                       transport_state=TransportState.SENT,
                                       expect_claimed_by=worker_id)
        return claimed
    finally:
        await store.close()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(work(sys.argv[1], sys.argv[2]))), flush=True)
