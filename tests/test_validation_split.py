"""One large document split over the pool's workers, one task per Schematron pattern.

The merged report must be the report of one process running each stylesheet
whole, finding by finding, line numbers included.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from gateway.validation import ValidationPool, Validator
from gateway.validation.engine import SAXON_ERROR_RULE, SKIPPED_RULE
from validation_layers import BASE_EXAMPLE, EN16931, PEPPOL, PEPPOL_INVOICE

CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"


def _invoice(lines: int) -> bytes:
    """The base example with ``lines`` copies of its first line, one of them mispriced.

    The totals no longer add up (EN 16931 BR-CO-10 and friends) and one line's
    amount is not its quantity times its price (Peppol R120), so both layers
    have findings, some of them deep in the document.
    """
    tree = etree.parse(str(BASE_EXAMPLE))
    root = tree.getroot()
    template = root.find(f"{{{CAC}}}InvoiceLine")
    assert template is not None
    for number in range(2, lines + 1):
        line = copy.deepcopy(template)
        identifier = line.find(f"{{{CBC}}}ID")
        assert identifier is not None
        identifier.text = f"L{number}"
        if number == lines - 3:
            amount = line.find(f"{{{CBC}}}LineExtensionAmount")
            assert amount is not None
            amount.text = "1.00"
        root.append(line)
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


@pytest.fixture(scope="module")
def whole(installed_standards: Path) -> Validator:
    return Validator(installed_standards, as_published=True)


@pytest.fixture(scope="module")
def pool(installed_standards: Path) -> Iterator[ValidationPool]:
    # split_bytes=0 treats every document as large.
    with ValidationPool(installed_standards, workers=2, split_bytes=0) as pool:
        yield pool


def test_a_large_document_becomes_one_part_per_pattern(
    installed_standards: Path, pool: ValidationPool, whole: Validator,
) -> None:
    parts = pool.parts(b"<x/>", PEPPOL_INVOICE)
    xsd = PEPPOL_INVOICE[0]
    assert [(part.schematron.name, part.pattern) for part in parts] == (
        [("en16931", p) for p in ("M11", "M12", "M13")]
        + [("peppol", p) for p in pool._planner.patterns(PEPPOL)])
    assert {part.layers for part in parts} == {(xsd, EN16931), (xsd, PEPPOL)}
    assert pool.parts(b"<x/>", [xsd]) == []  # nothing to spread
    with ValidationPool(installed_standards, workers=2) as unsplit:
        assert unsplit.parts(b"<x/>", PEPPOL_INVOICE) == []  # small: one task
    with ValidationPool(installed_standards, workers=1, split_bytes=0) as single:
        assert single.parts(b"<x/>", PEPPOL_INVOICE) == []  # no other worker to share with


def test_the_merged_report_is_the_one_process_report(
    pool: ValidationPool, whole: Validator,
) -> None:
    data = _invoice(120)
    expected = whole.validate(data, PEPPOL_INVOICE, format_key="k:i:1")
    assert {"BR-CO-10", "PEPPOL-EN16931-R120"} <= expected.rules()
    assert any(f.line is not None and f.line > 1000 for f in expected.findings)
    assert pool.run(data, PEPPOL_INVOICE, "k:i:1") == expected
    assert asyncio.run(pool.validate(data, PEPPOL_INVOICE, "k:i:1")) == expected
    assert pool.run(data, PEPPOL_INVOICE, only=["peppol"]) == whole.validate(
        data, PEPPOL_INVOICE, only=["peppol"])


def test_documents_in_turn_do_not_mix_their_parts(
    pool: ValidationPool, whole: Validator,
) -> None:
    # Each worker keeps the document of its last part: the next document must replace it.
    first, second = _invoice(30), _invoice(31)
    for data in (first, second, first):
        assert pool.run(data, PEPPOL_INVOICE) == whole.validate(data, PEPPOL_INVOICE)


@pytest.mark.parametrize(("change", "rule"), [
    ((b"<cbc:IssueDate>", b"<cbc:IssueDate>x"), SKIPPED_RULE),  # the XSD rejects it
    ((b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">abc'),
     SAXON_ERROR_RULE),
])
def test_skipped_and_failing_layers_are_said_once(
    pool: ValidationPool, whole: Validator, change: tuple[bytes, bytes], rule: str,
) -> None:
    data = _invoice(20).replace(*change)
    only = None if rule == SKIPPED_RULE else ["en16931", "peppol"]
    expected = whole.validate(data, PEPPOL_INVOICE, only=only)
    merged = pool.run(data, PEPPOL_INVOICE, only=only)
    assert merged == expected
    assert sum(1 for f in merged.findings if f.rule == rule) >= 1
    assert sum(1 for f in merged.findings if f.rule == rule and f.layer == "en16931") == 1


def test_a_refused_document_is_one_parse_finding(pool: ValidationPool, whole: Validator) -> None:
    data = b"<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"
    report = pool.run(data, PEPPOL_INVOICE)
    assert report == whole.validate(data, PEPPOL_INVOICE)
    assert [f.layer for f in report.findings] == ["parse"]


def test_the_shared_copy_of_the_document_is_freed(
    pool: ValidationPool, whole: Validator,
) -> None:
    # The parts read the document from one shared memory block, freed when the last is done.
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm to look into")
    before = set(shm.iterdir())
    data = _invoice(25)
    assert pool.run(data, PEPPOL_INVOICE) == whole.validate(data, PEPPOL_INVOICE)
    assert asyncio.run(pool.validate(data, PEPPOL_INVOICE)) == whole.validate(
        data, PEPPOL_INVOICE)
    # The last part's callback frees it just after its result is out: allow it a moment.
    deadline = time.monotonic() + 5
    while set(shm.iterdir()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(shm.iterdir()) - before == set()
