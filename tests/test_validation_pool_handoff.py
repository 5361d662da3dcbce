"""The validation pool's hand-off: warm workers at start, a few documents per task, dead workers.

Documents that :meth:`ValidationPool.validate` gets together travel to the
workers a few per task; every one must still get exactly the report an
in-process validator gives it, and a worker that dies takes only the
documents it held, with an error that says so.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.errors import GatewayError, StandardsError
from gateway.formats import LayerKind, ValidationLayer
from gateway.validation import ValidationPool, ValidationReport, Validator, validator_for
from gateway.validation.pool import WARM_VALIDATIONS, ValidationWorkerDied, WarmSet, _warm_up
from validation_layers import BASE_EXAMPLE, EN16931, PEPPOL_INVOICE

PEPPOL_KEY = "peppol-bis:invoice:3.0"
UNKNOWN = ValidationLayer(LayerKind.SCHEMATRON, "nowhere", "no/such/stylesheet.xslt")


def _documents() -> list[bytes]:
    good = BASE_EXAMPLE.read_bytes()
    return [
        good,
        good.replace(b'<cbc:PayableAmount currencyID="EUR">',
                     b'<cbc:PayableAmount currencyID="EUR">1'),  # BR-CO-16
        good.replace(b"<cbc:IssueDate>", b"<cbc:IssueDate>x"),  # XSD, rules skipped
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",  # refused by the parser
    ]


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
    for data in _documents() * 3:
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


async def test_a_document_alone_travels_alone(pool: ValidationPool, validator: Validator) -> None:
    good = _documents()[0]
    before = pool.handoffs
    assert await pool.validate(good, PEPPOL_INVOICE, PEPPOL_KEY) == validator.validate(
        good, PEPPOL_INVOICE, format_key=PEPPOL_KEY)
    assert pool.handoffs == before + 1
    # Two documents, two idle workers: one each, not one batch for one worker.
    await asyncio.gather(*(pool.validate(good, PEPPOL_INVOICE) for _ in range(2)))
    assert pool.handoffs == before + 3


async def test_a_failing_document_does_not_fail_the_others_in_its_task(
    pool: ValidationPool, validator: Validator,
) -> None:
    good, bad = _documents()[:2]
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
    good = _documents()[0]
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


async def test_a_worker_killed_mid_batch_fails_its_documents_and_the_pool_recovers(
    installed_standards: Path, validator: Validator,
) -> None:
    good, bad = _documents()[:2]
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

        died = [result for result in results if isinstance(result, ValidationWorkerDied)]
        assert died, "the killed worker held documents"
        for error in died:
            assert isinstance(error, GatewayError)  # the API answers 503 for these
            assert "worker process ended" in str(error)
            assert "not validated" in str(error)
        for data, result in zip(documents, results, strict=True):
            if not isinstance(result, ValidationWorkerDied):
                assert result == expected[data]
        # Documents that waited for a worker, and new ones, go to new workers.
        assert any(isinstance(result, ValidationReport) for result in results[-10:])
        assert await pool.validate(bad, PEPPOL_INVOICE) == expected[bad]
        assert await asyncio.to_thread(pool.wait_warm, 180)
        assert victim not in {worker.pid for worker in pool.warmth()}


async def test_closing_while_busy_cancels_what_waits_and_keeps_what_ran(
    installed_standards: Path, validator: Validator,
) -> None:
    good = _documents()[0]
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
    warm = [WarmSet(PEPPOL_INVOICE, _documents()[0], PEPPOL_KEY)]
    warmth = _warm_up(Validator(installed_standards), warm, stop)
    assert (warmth.compiled, warmth.validated) == ((), ())
    assert warmth.problems == ("warm-up stopped: the pool is closing",)
    warmth = _warm_up(Validator(installed_standards), [WarmSet((PEPPOL_INVOICE[0],), None)])
    assert (warmth.compiled, warmth.validated, warmth.problems) == (("ubl-2.1",), (), ())
