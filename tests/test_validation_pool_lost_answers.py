"""The validation pool answers every document even when the executor's own bookkeeping fails.

CPython 3.11's ProcessPoolExecutor, on a dead worker, fails the futures it holds
from its manager thread; a future cancelled meanwhile (a caller gone while its
document waited in the executor) makes that thread die halfway through, and a
submit racing with the death can slip past it. The futures it did not reach were
never settled: their callers waited for ever, with idle workers. Real processes
only: a worker is killed with SIGKILL, as the out-of-memory killer does.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from test_validation_pool_handoff import PEPPOL_KEY, _long_invoice

from gateway.validation import ValidationPool, validator_for
from gateway.validation.pool import WarmSet
from validation_layers import PEPPOL_INVOICE, pool_documents

# Far longer than the document takes on a busy machine, far shorter than for ever.
ANSWER_WITHIN = 60


async def test_a_worker_death_after_a_caller_gave_up_still_answers_the_others(
    installed_standards: Path,
) -> None:
    good = pool_documents()[0]
    expected = validator_for(installed_standards).validate(good, PEPPOL_INVOICE,
                                                           format_key=PEPPOL_KEY)
    long = _long_invoice(1500)
    with ValidationPool(installed_standards, workers=2, split_bytes=0) as pool:
        pool.start([WarmSet(PEPPOL_INVOICE, good, PEPPOL_KEY)])
        assert await asyncio.to_thread(pool.wait_warm, 180)
        victim = pool.warmth()[0].pid
        # Split into a task per Schematron pattern: most wait in the executor.
        given_up = asyncio.ensure_future(pool.validate(long, PEPPOL_INVOICE, PEPPOL_KEY))
        await asyncio.sleep(0.2)
        other = asyncio.ensure_future(pool.validate(good, PEPPOL_INVOICE, PEPPOL_KEY))
        await asyncio.sleep(0.05)  # its tasks wait behind the long document's
        given_up.cancel()  # its caller went away (a client hung up, the service stops)
        for _ in range(5):  # the cancellation reaches the tasks in a few callbacks
            await asyncio.sleep(0)
        os.kill(victim, signal.SIGKILL)
        assert await asyncio.wait_for(other, ANSWER_WITHIN) == expected
        assert given_up.cancelled()
