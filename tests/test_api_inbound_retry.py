"""An operator's retry of an inbound message: delivered again, or read again."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from api_support import OPERATOR, Running, running_gateway
from pipeline_support import document_json

from gateway.model.samples import example_order
from gateway.store import MessageRecord, NewEvent, TransportState
from gateway.store.model import utc_now


async def stored_order(gateway: Running, max_attempts: int = 8) -> MessageRecord:
    record = MessageRecord.new_inbound(channel="folder", raw_payload=document_json(
        example_order()), transport_id="o-1", max_attempts=max_attempts)
    stored: MessageRecord
    stored, _ = await gateway.store.add_inbound_raw(record, [NewEvent("received", {})])
    return stored


async def test_a_rejected_inbound_message_is_read_again(store_url: str, tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        stored = await stored_order(gateway)
        # As if the format plugin had been missing when it arrived.
        await gateway.store.transition(
            stored.id, event=NewEvent("rejected", {"stage": "detect", "reason": "unknown"}),
            transport_state=TransportState.REJECTED, last_error="detect: unknown")
        status, _, message = await gateway.call(
            "POST", f"/api/v1/messages/{stored.id}/retry", token=OPERATOR,
            json_body={"reason": "the format plugin is installed now"})
        assert status == 200, message
        assert message["transport_state"] == "decoded"
        assert message["kind"] == "order"
        assert message["last_error"] is None
        kinds = [event["kind"] for event in message["timeline"]]
        assert kinds[-2:] == ["operator-retry", "decoded"]
        [audit] = await gateway.store.audit_log()
        assert (audit.action, audit.subject) == ("message.retry", stored.id)


async def test_a_dead_lettered_delivery_is_delivered_again(store_url: str,
                                                           tmp_path: Path) -> None:
    async with running_gateway(tmp_path, database=store_url) as gateway:
        stored = await stored_order(gateway, max_attempts=1)  # its one attempt is spent
        inbound = gateway.service.inbound
        assert inbound is not None
        await inbound.process(stored)
        [claimed] = await gateway.store.claim_deliverable("w", 1, timedelta(minutes=5))
        await gateway.store.dead_letter(claimed.id, "the ERP refused it",
                                        expect_claimed_by="w")
        status, _, message = await gateway.call(
            "POST", f"/api/v1/messages/{stored.id}/retry", token=OPERATOR,
            json_body={"reason": "the ERP is fixed"})
        assert status == 200, message
        assert message["transport_state"] == "decoded"
        assert (message["attempt_count"], message["max_attempts"]) == (1, 4)
        [again] = await gateway.store.claim_deliverable("w", 1, timedelta(minutes=5))
        assert again.id == stored.id


async def test_a_delivery_waiting_out_its_backoff_is_delivered_now(
    store_url: str, tmp_path: Path,
) -> None:
    """The ERP was down and the webhook waits an hour to try again: the operator who brought
    the ERP back need not wait that hour."""
    async with running_gateway(tmp_path, database=store_url) as gateway:
        stored = await stored_order(gateway)
        inbound = gateway.service.inbound
        assert inbound is not None
        await inbound.process(stored)
        [claimed] = await gateway.store.claim_deliverable("w", 1, timedelta(minutes=5))
        waiting = await gateway.store.schedule_retry(
            claimed.id, utc_now() + timedelta(hours=1), "the ERP answered 503",
            expect_claimed_by="w")
        assert waiting.transport_state is TransportState.RETRYING
        assert await gateway.store.claim_deliverable("w", 1, timedelta(minutes=5)) == []
        status, _, message = await gateway.call(
            "POST", f"/api/v1/messages/{stored.id}/retry", token=OPERATOR,
            json_body={"reason": "the ERP is back"})
        assert status == 200, message
        assert message["transport_state"] == "decoded"
        assert message["attempt_count"] == 1
        [again] = await gateway.store.claim_deliverable("w", 1, timedelta(minutes=5))
        assert again.id == stored.id


async def test_an_inbound_message_not_failed_or_rejected_is_no_retry(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        stored = await stored_order(gateway)
        inbound = gateway.service.inbound
        assert inbound is not None
        await inbound.process(stored)
        status, _, problem = await gateway.call(
            "POST", f"/api/v1/messages/{stored.id}/retry", token=OPERATOR,
            json_body={"reason": "why not"})
        assert status == 409
        assert "only inbound messages that failed or wait to retry delivery" in problem["detail"]
        status, _, problem = await gateway.call(
            "POST", f"/api/v1/messages/{stored.id}/cancel", token=OPERATOR,
            json_body={"reason": "no"})
        assert status == 409
        assert "only outbound messages are cancelled or rerouted" in problem["detail"]
