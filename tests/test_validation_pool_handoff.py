"""The validation pool's hand-off: warm workers at start, a few documents per task, dead workers.

Documents that :meth:`ValidationPool.validate` gets together travel to the
workers a few per task; every one must still get exactly the report an
in-process validator gives it. A worker that dies costs the documents it
held a second try on new workers; only a second death refuses them, with an
error that says so.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.errors import GatewayError, StandardsError
from gateway.formats import LayerKind, ValidationLayer
from gateway.validation import ValidationPool, Validator, validator_for
from gateway.validation.pool import WARM_VALIDATIONS, ValidationWorkerDied, WarmSet, _warm_up
from validation_layers import BASE_EXAMPLE, EN16931, PEPPOL_INVOICE, pool_documents

PEPPOL_KEY = "peppol-bis:invoice:3.0"
UNKNOWN = ValidationLayer(LayerKind.SCHEMATRON, "nowhere", "no/such/stylesheet.xslt")


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return validator_for(installed_standards)


@pytest.fixture(scope="module")
def pool(installed_standards: Path) -> Iterator[ValidationPool]:
    with ValidationPool(installed_standards, workers=2, warm=PEPPOL_INVOICE) as pool:
        yield pool


async def test_documents_of_one_tick_travel_together_with_their_own_reports(
    pool: ValidationPool, validator: Validator,
) -> None:
    xsd_en16931 = (PEPPOL_INVOICE[0], EN16931)
    cases: list[tuple[bytes, tuple[ValidationLayer, ...], str | None, list[str] | None]] = []
    for data in pool_documents() * 3:
        cases += [(data, PEPPOL_INVOICE, PEPPOL_KEY, None),
                  (data, xsd_en16931, "en16931:invoice:1", None),
                  (data, PEPPOL_INVOICE, None, ["xsd"])]
    expected = [validator.validate(data, layers, format_key=key, only=only)
                for data, layers, key, only in cases]
    before = pool.handoffs
    reports = await asyncio.gather(*(pool.validate(data, layers, key, only=only)
                                     for data, layers, key, only in cases))
    assert reports == expected
    assert {report.valid for report in reports} == {True, False}
    # 36 documents at most four to a task: batched, yet never more than four together.
    assert len(cases) / 4 <= pool.handoffs - before < len(cases)


async def test_a_document_on_idle_workers_is_spread_over_them_by_schematron_layer(
    pool: ValidationPool, validator: Validator,
) -> None:
    for data in pool_documents():
        splits, handoffs = pool.splits, pool.handoffs
        assert await pool.validate(data, PEPPOL_INVOICE, PEPPOL_KEY) == validator.validate(
            data, PEPPOL_INVOICE, format_key=PEPPOL_KEY)
        assert (pool.splits, pool.handoffs) == (splits + 1, handoffs)
    # One Schematron layer: nothing to spread, the document travels alone.
    handoffs = pool.handoffs
    xsd_en16931 = (PEPPOL_INVOICE[0], EN16931)
    assert await pool.validate(good := pool_documents()[0], xsd_en16931) == validator.validate(
        good, xsd_en16931)
    assert pool.handoffs == handoffs + 1


async def test_documents_that_find_workers_busy_are_not_spread(
    pool: ValidationPool, validator: Validator,
) -> None:
    good = pool_documents()[0]
    splits, handoffs = pool.splits, pool.handoffs
    # The first finds the workers idle and takes both; the other waits as under load,
    # alone in its task since only one place is left for it.
    reports = await asyncio.gather(*(pool.validate(good, PEPPOL_INVOICE) for _ in range(2)))
    assert reports == [validator.validate(good, PEPPOL_INVOICE)] * 2
    assert (pool.splits, pool.handoffs) == (splits + 1, handoffs + 1)
    # Many at once: one spread, every other one batched as before.
    splits, handoffs = pool.splits, pool.handoffs
    await asyncio.gather(*(pool.validate(good, PEPPOL_INVOICE) for _ in range(12)))
    assert pool.splits == splits + 1
    assert 11 / 4 <= pool.handoffs - handoffs < 11


async def test_a_failing_document_does_not_fail_the_others_in_its_task(
    pool: ValidationPool, validator: Validator,
) -> None:
    good, bad = pool_documents()[:2]
    results = await asyncio.gather(
        pool.validate(good, PEPPOL_INVOICE), pool.validate(good, (UNKNOWN,)),
        pool.validate(bad, PEPPOL_INVOICE), pool.validate(good, PEPPOL_INVOICE),
        pool.validate(bad, PEPPOL_INVOICE), return_exceptions=True)
    assert isinstance(results[1], StandardsError)
    assert "no/such/stylesheet.xslt" in str(results[1])
    assert [results[0], results[2], results[3], results[4]] == [
        validator.validate(data, PEPPOL_INVOICE) for data in (good, bad, good, bad)]


def test_start_warms_every_worker_before_it_takes_work(
    installed_standards: Path, validator: Validator,
) -> None:
    good = pool_documents()[0]
    with ValidationPool(installed_standards, workers=2) as pool:
        assert not pool.warming()
        pool.start([WarmSet(PEPPOL_INVOICE, good, PEPPOL_KEY),
                    WarmSet((UNKNOWN,), None, "nowhere:invoice:1"),
                    WarmSet((), good, "canonical:invoice:1")])
        assert pool.running
        assert pool.wait_warm(timeout=180)
        warmth = pool.warmth()
        assert len({worker.pid for worker in warmth}) == 2  # both processes, each warm
        for worker in warmth:
            assert worker.validated == (PEPPOL_KEY,)
            # Past Saxon's first pause (around its tenth document) before taking work.
            assert worker.runs == WARM_VALIDATIONS
            assert set(worker.compiled) == {"ubl-2.1", "en16931", "peppol"}
            [problem] = worker.problems  # noted, and the worker still works
            assert problem.startswith("nowhere:invoice:1: StandardsError")
        assert pool.run(good, PEPPOL_INVOICE, PEPPOL_KEY) == validator.validate(
            good, PEPPOL_INVOICE, format_key=PEPPOL_KEY)


def test_a_pool_that_is_not_started_starts_no_worker(installed_standards: Path) -> None:
    with ValidationPool(installed_standards, workers=2) as pool:
        assert not pool.running
        assert pool.warmth() == []
        assert not pool.warming()
        assert not pool.wait_warm(timeout=0)


async def test_a_worker_killed_mid_batch_costs_its_documents_a_second_try_only(
    installed_standards: Path, validator: Validator, caplog: pytest.LogCaptureFixture,
) -> None:
    good, bad = pool_documents()[:2]
    expected = {data: validator.validate(data, PEPPOL_INVOICE) for data in (good, bad)}
    with ValidationPool(installed_standards, workers=2) as pool:
        pool.start([WarmSet(PEPPOL_INVOICE, good, PEPPOL_KEY)])
        assert await asyncio.to_thread(pool.wait_warm, 180)
        victim = pool.warmth()[0].pid
        documents = [good, bad] * 30
        tasks = [asyncio.ensure_future(pool.validate(data, PEPPOL_INVOICE))
                 for data in documents]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # Both workers now hold a batch, and more documents wait for them.
        os.kill(victim, signal.SIGKILL)
        results = await asyncio.gather(*tasks, return_exceptions=True)

        # The executor fails every task it held, the other worker's too; new
        # workers validate them all the same, each document with its own report.
        assert results == [expected[data] for data in documents]
        assert victim not in {worker.pid for worker in pool.warmth()}
        assert await asyncio.to_thread(pool.wait_warm, 180)
        assert pool.second_tries > 0, "the killed worker held documents"
        # The operator hears of it (the out-of-memory killer is the usual cause).
        deaths = [r for r in caplog.records if "validation worker process ended" in r.message]
        assert deaths
        assert all(r.levelname == "WARNING" for r in deaths)


async def test_a_worker_that_died_while_idle_costs_the_next_document_nothing(
    installed_standards: Path, validator: Validator,
) -> None:
    good = pool_documents()[0]
    with ValidationPool(installed_standards, workers=1) as pool:
        pool.start([WarmSet(PEPPOL_INVOICE, good, PEPPOL_KEY)])
        assert await asyncio.to_thread(pool.wait_warm, 180)
        [idle] = pool.warmth()
        os.kill(idle.pid, signal.SIGKILL)
        # At once: the executor may not have noticed the death yet.
        assert await pool.validate(good, PEPPOL_INVOICE, PEPPOL_KEY) == validator.validate(
            good, PEPPOL_INVOICE, format_key=PEPPOL_KEY)


def _long_invoice(lines: int) -> bytes:
    """The base example with ``lines`` invoice lines: a second or so of Schematron."""
    head, line, tail = _split_first_line(BASE_EXAMPLE.read_bytes())
    return head + line * lines + tail


def _split_first_line(data: bytes) -> tuple[bytes, bytes, bytes]:
    start = data.index(b"<cac:InvoiceLine>")
    end = data.index(b"</cac:InvoiceLine>") + len(b"</cac:InvoiceLine>")
    rest = data[end:]
    last = rest.rindex(b"</cac:InvoiceLine>") + len(b"</cac:InvoiceLine>")
    return data[:start], data[start:end], rest[last:]


async def test_a_document_whose_workers_die_twice_is_refused_as_not_validated(
    installed_standards: Path,
) -> None:
    good = pool_documents()[0]
    long = _long_invoice(1500)
    killed: list[int] = []

    def kill_whoever_holds_it(pool: ValidationPool, task: asyncio.Future[Any]) -> None:
        # Each worker is idle and warm when it reports warmth, so it takes the
        # document at once; validating it takes far longer than the pause here.
        deadline = time.monotonic() + 180
        for _ in range(2):
            while not (fresh := [w.pid for w in pool.warmth() if w.pid not in killed]):
                if time.monotonic() > deadline or task.done():
                    return  # no second worker took it: the assertions below say so
                time.sleep(0.01)
            time.sleep(0.3)
            os.kill(fresh[0], signal.SIGKILL)
            killed.append(fresh[0])

    with ValidationPool(installed_standards, workers=1) as pool:
        pool.start([WarmSet(PEPPOL_INVOICE, good, PEPPOL_KEY)])
        assert await asyncio.to_thread(pool.wait_warm, 180)
        task = asyncio.ensure_future(pool.validate(long, PEPPOL_INVOICE, PEPPOL_KEY))
        await asyncio.to_thread(kill_whoever_holds_it, pool, task)
        with pytest.raises(ValidationWorkerDied) as died:
            await task
        assert isinstance(died.value, GatewayError)  # the API answers 503 for it
        assert "ended twice" in str(died.value)
        assert "not validated" in str(died.value)
        assert len(killed) == 2
        assert pool.second_tries == 1
        # Other documents go on to new workers.
        report = await pool.validate(good, PEPPOL_INVOICE, PEPPOL_KEY)
        assert report.valid


def _kill_twice_while(pool: ValidationPool, task: asyncio.Future[Any], killed: list[int]) -> None:
    """Kill each fresh worker 0.3 s after it is warm, twice: long enough for a few
    typical documents, far too short for the long one, which it is then busy with."""
    deadline = time.monotonic() + 180
    for _ in range(2):
        while not (fresh := [w.pid for w in pool.warmth() if w.pid not in killed]):
            if time.monotonic() > deadline or task.done():
                return
            time.sleep(0.01)
        time.sleep(0.3)
        os.kill(fresh[0], signal.SIGKILL)
        killed.append(fresh[0])


async def test_a_document_that_kills_workers_twice_takes_no_other_document_with_it(
    installed_standards: Path, validator: Validator,
) -> None:
    good = pool_documents()[0]
    expected = validator.validate(good, PEPPOL_INVOICE, format_key=PEPPOL_KEY)
    long = _long_invoice(1500)
    killed: list[int] = []
    with ValidationPool(installed_standards, workers=1) as pool:
        pool.start([WarmSet(PEPPOL_INVOICE, good, PEPPOL_KEY)])
        assert await asyncio.to_thread(pool.wait_warm, 180)
        # Travelling in one batch with the long one, and queued behind it.
        poison = asyncio.ensure_future(pool.validate(long, PEPPOL_INVOICE, PEPPOL_KEY))
        others = [asyncio.ensure_future(pool.validate(good, PEPPOL_INVOICE, PEPPOL_KEY))
                  for _ in range(3)]
        await asyncio.to_thread(_kill_twice_while, pool, poison, killed)
        with pytest.raises(ValidationWorkerDied):
            await poison
        # Each went out again alone after the first death, so the second one, with
        # the long document, was charged to it alone.
        assert await asyncio.gather(*others) == [expected] * 3
        assert len(killed) == 2


async def test_closing_while_busy_cancels_what_waits_and_keeps_what_ran(
    installed_standards: Path, validator: Validator,
) -> None:
    good = pool_documents()[0]
    expected = validator.validate(good, PEPPOL_INVOICE)
    pool = ValidationPool(installed_standards, workers=2, warm=PEPPOL_INVOICE)
    try:
        tasks = [asyncio.ensure_future(pool.validate(good, PEPPOL_INVOICE)) for _ in range(40)]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.to_thread(pool.close)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert not pool.running
        cancelled = [r for r in results if isinstance(r, asyncio.CancelledError)]
        assert cancelled, "documents still waiting when the pool closed"
        assert all(r == expected for r in results if not isinstance(r, asyncio.CancelledError))
        # close() stops the workers; the pool starts new ones when asked again.
        assert await pool.validate(good, PEPPOL_INVOICE) == expected
    finally:
        pool.close()


def test_a_closing_pool_stops_the_warm_up_at_the_next_stylesheet(
    installed_standards: Path,
) -> None:
    stop = threading.Event()
    stop.set()
    warm = [WarmSet(PEPPOL_INVOICE, pool_documents()[0], PEPPOL_KEY)]
    warmth = _warm_up(Validator(installed_standards), warm, stop)
    assert (warmth.compiled, warmth.validated) == ((), ())
    assert warmth.problems == ("warm-up stopped: the pool is closing",)
    warmth = _warm_up(Validator(installed_standards), [WarmSet((PEPPOL_INVOICE[0],), None)])
    assert (warmth.compiled, warmth.validated, warmth.problems) == (("ubl-2.1",), (), ())


async def test_a_split_document_whose_worker_dies_is_split_again_on_new_workers(
    installed_standards: Path, validator: Validator,
) -> None:
    # Large enough that its parts outlast the pause below on a quick, quiet machine too
    # (600 lines took about a quarter of a second per worker, and sometimes less).
    long = _long_invoice(1200)
    expected = validator.validate(long, PEPPOL_INVOICE, format_key=PEPPOL_KEY)
    second_tries = []
    # A machine busy elsewhere may stall this process past the parts' end, so that the
    # worker dies idle with nothing to try again: then the run is made once more.
    for _ in range(3):
        with ValidationPool(installed_standards, workers=2, split_bytes=0) as pool:
            pool.start([WarmSet(PEPPOL_INVOICE, pool_documents()[0], PEPPOL_KEY)])
            assert await asyncio.to_thread(pool.wait_warm, 180)
            assert len(pool.parts(long, PEPPOL_INVOICE)) > 2
            victim = pool.warmth()[0].pid
            task = asyncio.ensure_future(pool.validate(long, PEPPOL_INVOICE, PEPPOL_KEY))
            await asyncio.sleep(0.2)  # the parts are out: each takes longer than that
            if task.done():  # quicker after all: no part left to lose, run it again
                assert await task == expected
                second_tries.append(0)
                continue
            os.kill(victim, signal.SIGKILL)
            assert await task == expected
            second_tries.append(pool.second_tries)
        if second_tries[-1]:
            break
    assert second_tries[-1] == 1, second_tries
