"""The hours each stored invoice bills on a timecard, for the intake of the next one.

Two invoices of 16 hours on a 16-hour timecard both passed the intake, as each
was held against the timecard alone; the agency refused the second. The store
now keeps every invoice line naming a timecard with the invoice, and says
which of them still stand.
"""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import attrs
import pytest
from test_store import BZK, T0, invoice
from test_store_migration_upgrades import postgres_to, sqlite_to

from gateway.model.json import to_json
from gateway.store import (
    BusinessState,
    MessageRecord,
    NewEvent,
    Store,
    StoreError,
    TimecardLine,
    TransportState,
    migrations,
    open_store,
)
from plugins.setu_ohnl import samples


def line(n: int, hours: str, order_line: str | None = "1.1.1", card: str = "TC-1",
         number: str = "F-1") -> TimecardLine:
    return TimecardLine(line=n, timecard_id=card, invoice_number=number, order_line=order_line,
                        unit_code="HUR", hours=Decimal(hours))


async def billed(store: Store, card: str = "TC-1", **kwargs: str) -> list[tuple[str, str]]:
    """(invoice number, hours) of each line standing on ``card``."""
    lines = await store.billed_on_timecard(BZK, card, **kwargs)
    return [(b.line.invoice_number, str(b.line.hours)) for b in lines]


async def test_the_lines_are_stored_with_the_invoice_and_read_back(store: Store) -> None:
    first, _ = await store.add_outbound(
        invoice("F-1"), timecard_lines=[line(0, "8.00"), line(2, "1.50", order_line=None)])
    await store.add_outbound(invoice("F-2"), timecard_lines=[line(0, "4", number="F-2"),
                                                             line(1, "2", card="TC-2")])
    await store.add_outbound(invoice("F-3"))  # names no timecard
    found = await store.billed_on_timecard(BZK, "TC-1")
    assert [(b.message_id, b.document_kind, b.line) for b in found][:2] == [
        (first.id, "invoice", line(0, "8.00")),
        (first.id, "invoice", line(2, "1.50", order_line=None))]
    assert await billed(store) == [("F-1", "8.00"), ("F-1", "1.50"), ("F-2", "4")]
    assert await billed(store, "TC-2") == [("F-1", "2")]
    assert await store.billed_on_timecard("00000001003227522000", "TC-1") == []
    # The invoice being submitted again is not an earlier one.
    assert await billed(store, besides="F-1") == [("F-2", "4")]


async def test_a_repeat_of_the_invoice_adds_no_lines(store: Store) -> None:
    await store.add_outbound(invoice("F-1"), timecard_lines=[line(0, "8")])
    _, created = await store.add_outbound(invoice("F-1"), timecard_lines=[line(0, "8")])
    assert not created
    assert await billed(store) == [("F-1", "8")]


async def test_invoices_that_do_not_stand_do_not_count(store: Store) -> None:
    dead, _ = await store.add_outbound(invoice("dead-letter"),
                                       timecard_lines=[line(0, "1", number="dead-letter")])
    await store.claim_due("w", 1, timedelta(minutes=1), now=T0)
    await store.dead_letter(dead.id, "the access point refused it", expect_claimed_by="w")
    ids = {}
    for number in ("cancelled", "agency-rejected", "paid"):
        record, _ = await store.add_outbound(invoice(number),
                                             timecard_lines=[line(0, "1", number=number)])
        ids[number] = record.id
    await store.transition(ids["cancelled"], event="cancelled",
                           transport_state=TransportState.CANCELLED)
    await store.transition(ids["agency-rejected"], event="status",
                           business_state=BusinessState.REJECTED)
    await store.transition(ids["paid"], event="status", business_state=BusinessState.PAID)
    assert await billed(store) == [("dead-letter", "1"), ("paid", "1")]
    # An operator's retry puts the cancelled invoice back, and its hours with it.
    await store.transition(ids["cancelled"], event="retry",
                           transport_state=TransportState.QUEUED)
    assert await billed(store) == [("dead-letter", "1"), ("cancelled", "1"), ("paid", "1")]


async def test_lines_the_store_cannot_keep_refuse_the_whole_message(store: Store) -> None:
    with pytest.raises(StoreError, match="timecard id is 1001 bytes"):
        await store.add_outbound(invoice("F-1"), timecard_lines=[line(0, "1", card="x" * 1001)])
    with pytest.raises(StoreError, match="NUL character"):
        await store.add_outbound(invoice("F-1"), timecard_lines=[line(0, "1", card="T\x00")])
    with pytest.raises(StoreError, match="not rejected"):
        await store.add_outbound(invoice("F-1", transport_state=TransportState.REJECTED),
                                 timecard_lines=[line(0, "1")])
    with pytest.raises(StoreError, match="a line is given twice"):
        await store.add_outbound(invoice("F-1"), timecard_lines=[line(0, "1"), line(0, "2")])
    assert (await store.list_messages()).items == ()


def stored_invoice(number: str, *, credit: bool = False,
                   state: TransportState = TransportState.QUEUED,
                   canonical: str | None = None) -> MessageRecord:
    document = attrs.evolve(samples.invoice(), number=number)
    data = to_json(document)
    if credit:
        data = {**data, "document": "credit-note", "type": "credit"}
    return MessageRecord.new_outbound(
        document_kind="credit-note" if credit else "invoice", business_key=number,
        agency_oin=BZK, canonical_json=canonical or json.dumps(data), raw_payload=b"<I/>",
        channel="digipoort", format_key="setu-ohnl:invoice:2.0", now=T0,
        transport_state=state)


async def test_the_upgrade_records_the_invoices_stored_before(store_url: str) -> None:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgres"
    [added] = [m for m in migrations.load(backend) if m.name == "invoice_timecards"]
    if backend == "sqlite":
        sqlite_to(Path(store_url.removeprefix("sqlite:///")), added.version - 1)
    else:
        await postgres_to(store_url, added.version - 1)
    async with open_store(store_url) as store:
        await store.add_outbound(stored_invoice("F-1"), [NewEvent("intake")])
        await store.add_outbound(stored_invoice("C-1", credit=True), [NewEvent("intake")])
        # Refused at intake, with text that is no JSON: skipped, not a failed upgrade.
        await store.add_outbound(stored_invoice("F-2", state=TransportState.REJECTED,
                                                canonical="{not json"), [NewEvent("intake")])
        await store.add_outbound(stored_invoice("F-3", state=TransportState.REJECTED),
                                 [NewEvent("intake")])
        assert await store.migrate() == len(migrations.load(backend))
        found = await store.billed_on_timecard(BZK, "135664")
        assert [(b.document_kind, b.line) for b in found] == [
            ("invoice", TimecardLine(0, "135664", "F-1", "1.1.1", "regular", Decimal("16.00"))),
            ("invoice", TimecardLine(1, "135664", "F-1", "3.1.1", "overtime", Decimal("2.00"))),
            ("invoice", TimecardLine(2, "135664", "F-1", "4.1.1", "Maaltijd", Decimal("1.00"))),
            ("credit-note",
             TimecardLine(0, "135664", "C-1", "1.1.1", "regular", Decimal("-16.00"))),
            ("credit-note",
             TimecardLine(1, "135664", "C-1", "3.1.1", "overtime", Decimal("-2.00"))),
            ("credit-note",
             TimecardLine(2, "135664", "C-1", "4.1.1", "Maaltijd", Decimal("-1.00"))),
        ]
