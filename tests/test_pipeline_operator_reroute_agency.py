"""Rerouting everything an agency has waiting to the route it was switched to.

After an agency's route is switched, each message stored before the switch
would need its own reroute. The bulk form takes them page by page, each with
its own audit entry; one that the new route refuses, or that a worker took
meanwhile, stays as it was and is reported.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest
from pipeline_support import AGENCY_OIN, OTHER_OIN, Pipeline, config_text, make_pipeline

from gateway.channels import FinalError, RetryableError
from gateway.config import GatewayConfig, parse_config, switch_route
from gateway.model.json import to_json
from gateway.model.samples import example_invoice
from gateway.pipeline.operator import BulkOutcome, reroute_agency
from gateway.store import MessageRecord, Store, TransportState
from gateway.validation.pool import ValidationPool

PEPPOL = "peppol-bis:invoice:3.0"


def switched(tmp_path: Path, channel: str, format_key: str | None = None) -> GatewayConfig:
    """The pipeline's configuration after `gateway agencies switch` moved the invoices."""
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    switch_route(path, AGENCY_OIN, "invoice", channel, format_key, reason="agency moved")
    return parse_config(path.read_text("utf-8"), path)


async def submitted(pipe: Pipeline, number: str, agency: str = AGENCY_OIN) -> MessageRecord:
    document = to_json(attrs.evolve(example_invoice(), number=number))
    buyer = document["buyer"]
    for oin in (buyer["ids"][0], buyer["legal_id"], buyer["endpoint_id"]):
        oin["value"] = agency
    return await pipe.submit(json.dumps(document).encode(), agency)


async def every_page(pipe: Pipeline, config: GatewayConfig, **options: object,
                     ) -> list[list[BulkOutcome]]:
    pages = []
    cursor = None
    while True:
        page = await reroute_agency(pipe.store, pipe.registry, pipe.outbound.validator,
                                    config, AGENCY_OIN, actor="fatima", reason="moved",
                                    cursor=cursor, **options)  # type: ignore[arg-type]
        pages.append(list(page.items))
        cursor = page.next_cursor
        if cursor is None:
            return pages


async def test_what_waits_for_the_agency_follows_its_new_route_page_by_page(
    pipe: Pipeline, tmp_path: Path,
) -> None:
    pipe.recorder.script = [FinalError("refused for good")]
    failed = await submitted(pipe, "F-1")
    await pipe.until(failed.id, {TransportState.FAILED})
    pipe.recorder.script = [RetryableError("down", retry_after=timedelta(hours=1))]
    retrying = await submitted(pipe, "R-1")
    await pipe.until(retrying.id, {TransportState.RETRYING})
    queued = [await submitted(pipe, f"Q-{n}") for n in range(3)]
    other = await submitted(pipe, "O-1", OTHER_OIN)
    config = switched(tmp_path, "folder")

    dry = await every_page(pipe, config, dry_run=True, limit=2)
    assert [len(page) for page in dry] == [2, 2]
    assert [(o.message_id, o.outcome) for page in dry for o in page] == [
        (m.id, "would-reroute") for m in (retrying, *queued)]
    assert await pipe.store.audit_log() == []
    for message in (retrying, *queued):
        unchanged = await pipe.store.get(message.id)
        assert unchanged is not None
        assert unchanged.channel == "recorder"

    pages = await every_page(pipe, config, limit=2)
    outcomes = [o for page in pages for o in page]
    assert [(o.message_id, o.outcome, o.source, o.target) for o in outcomes] == [
        (m.id, "rerouted", {"channel": "recorder", "format": "canonical:invoice:1"},
         {"channel": "folder", "format": "canonical:invoice:1"})
        for m in (retrying, *queued)]
    audit = await pipe.store.audit_log()
    assert sorted(str(a.subject) for a in audit) == sorted(m.id for m in (retrying, *queued))
    assert {a.action for a in audit} == {"message.reroute"}
    # What was not waiting (failed: given up on) and the other agency's stay put.
    for message in (failed, other):
        still = await pipe.store.get(message.id)
        assert still is not None
        assert still.channel == "recorder"
    for message in (retrying, *queued):
        sent = await pipe.until(message.id, {TransportState.SENT})
        assert sent.channel == "folder"

    # Named, the failed one moves too; everything else is on the route already.
    again = await every_page(pipe, config, states=(TransportState.FAILED,
                                                   TransportState.QUEUED))
    assert [(o.message_id, o.outcome) for page in again for o in page] == [
        (failed.id, "rerouted")]


@pytest.fixture
def pool(installed_standards: Path) -> Iterator[ValidationPool]:
    with ValidationPool(installed_standards, workers=1) as started:
        yield started


async def test_a_message_the_new_format_refuses_stays_and_is_listed(
    store: Store, tmp_path: Path, pool: ValidationPool,
) -> None:
    pipe = await make_pipeline(store, tmp_path, validator=pool)
    pipe.recorder.script = [FinalError("gone"), FinalError("gone")]
    good = await submitted(pipe, "G-1")
    # Without a buyer or order reference the UBL breaks PEPPOL-EN16931-R003.
    bad = await pipe.submit(attrs.evolve(example_invoice(), number="B-1",
                                         buyer_reference=None, order_reference=None))
    for message in (good, bad):
        await pipe.until(message.id, {TransportState.FAILED})
    bad_before = await store.get(bad.id)
    config = switched(tmp_path, "folder", PEPPOL)

    page = await reroute_agency(store, pipe.registry, pool, config, AGENCY_OIN,
                                actor="fatima", reason="moved to Peppol",
                                states=(TransportState.FAILED,))
    assert page.next_cursor is None
    by_id = {o.message_id: o for o in page.items}
    assert (by_id[good.id].outcome, by_id[good.id].target) == (
        "rerouted", {"channel": "folder", "format": PEPPOL})
    assert by_id[bad.id].outcome == "refused"
    assert f"re-encoded as {PEPPOL} the document is" in str(by_id[bad.id].detail)
    assert await store.get(bad.id) == bad_before
    [audit] = await store.audit_log()
    assert audit.subject == good.id


async def test_a_message_a_worker_claims_meanwhile_is_sent_once_and_not_rerouted(
    pipe: Pipeline, tmp_path: Path,
) -> None:
    messages = [await submitted(pipe, f"C-{n}") for n in range(6)]
    config = switched(tmp_path, "folder")
    bulk, claims = await asyncio.gather(
        reroute_agency(pipe.store, pipe.registry, pipe.outbound.validator, config,
                       AGENCY_OIN, actor="fatima", reason="moved"),
        pipe.store.claim_due("other-worker", 6, timedelta(minutes=5)))
    for claimed in claims:
        await pipe.dispatcher.dispatch(claimed, "other-worker")
    outcomes = {o.message_id: o for o in bulk.items}
    assert set(outcomes) <= {m.id for m in messages}
    for message in messages:
        done = await pipe.until(message.id, {TransportState.SENT})
        outcome = outcomes.get(message.id)
        if outcome is not None and outcome.outcome == "rerouted":
            assert done.channel == "folder"
        else:
            assert done.channel == "recorder"
            if outcome is not None:
                assert outcome.outcome == "refused"
                assert outcome.detail is not None
                assert "sending" in outcome.detail or "changed meanwhile" in outcome.detail
    # Each went out once, over one channel or the other.
    folder_files = [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
    assert len(pipe.recorder.calls) + len(folder_files) == len(messages)
    rerouted = [o for o in bulk.items if o.outcome == "rerouted"]
    assert len(await pipe.store.audit_log()) == len(rerouted)
