"""The validation pool: the same reports as in-process, without blocking the event loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.validation import LayerSelectionError, ValidationPool, Validator, validator_for
from gateway.validation.pool import ValidationJob, split_layers
from validation_layers import PEPPOL_INVOICE, pool_documents


@pytest.fixture(scope="module")
def pool(installed_standards: Path) -> Iterator[ValidationPool]:
    with ValidationPool(installed_standards, workers=2, warm=PEPPOL_INVOICE) as pool:
        yield pool


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    return validator_for(installed_standards)


def test_bulk_reports_equal_in_process_reports(
    pool: ValidationPool, validator: Validator,
) -> None:
    documents = pool_documents() * 3
    jobs = [ValidationJob(data, PEPPOL_INVOICE, "peppol-bis:invoice:3.0") for data in documents]
    expected = [validator.validate(data, PEPPOL_INVOICE, format_key="peppol-bis:invoice:3.0")
                for data in documents]
    assert list(pool.map(jobs)) == expected
    assert [report.valid for report in expected[:4]] == [True, False, False, False]


async def test_validating_in_the_pool_leaves_the_event_loop_free(
    pool: ValidationPool, validator: Validator,
) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.002)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    reports = await asyncio.gather(
        *(pool.validate(data, PEPPOL_INVOICE, only=["xsd", "schematron"])
          for data in pool_documents() * 10))
    elapsed = time.perf_counter() - started
    task.cancel()
    assert reports[:4] == [validator.validate(d, PEPPOL_INVOICE) for d in pool_documents()]
    # A blocked loop would not tick at all while the documents are validated.
    assert ticks >= min(10, int(elapsed / 0.002) // 4), (ticks, elapsed)


def test_large_documents_are_split_by_layer_with_the_same_report(
    installed_standards: Path, validator: Validator,
) -> None:
    # split_bytes=0 treats every document as large.
    with ValidationPool(installed_standards, workers=2, split_bytes=0) as pool:
        for data in pool_documents():
            expected = validator.validate(data, PEPPOL_INVOICE, format_key="k:i:1")
            assert pool.run(data, PEPPOL_INVOICE, "k:i:1") == expected
            assert pool.run(data, PEPPOL_INVOICE, only=["peppol"]) == validator.validate(
                data, PEPPOL_INVOICE, only=["peppol"])
            assert asyncio.run(pool.validate(data, PEPPOL_INVOICE, "k:i:1")) == expected


def test_split_layers_keeps_the_xsd_in_every_group() -> None:
    xsd, en16931, peppol = PEPPOL_INVOICE
    assert split_layers(PEPPOL_INVOICE, 2) == [(xsd, en16931), (xsd, peppol)]
    assert split_layers(PEPPOL_INVOICE, 8) == [(xsd, en16931), (xsd, peppol)]
    assert split_layers(PEPPOL_INVOICE, 1) == [PEPPOL_INVOICE]
    assert split_layers((xsd, en16931), 2) == [(xsd, en16931)]


def test_the_pool_checks_layer_names_before_sending_work(pool: ValidationPool) -> None:
    with pytest.raises(LayerSelectionError):
        pool.submit(b"<x/>", PEPPOL_INVOICE, only=["nonsense"])


def test_a_pool_needs_a_worker(installed_standards: Path) -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        ValidationPool(installed_standards, workers=0)
