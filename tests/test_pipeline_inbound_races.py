"""The inbound pipeline against a repeat overtaking the first delivery, and hostile numbers."""

from __future__ import annotations

import asyncio
import threading

import attrs
import pytest
from pipeline_support import Pipeline, document_json

from gateway.channels import InboundDocument
from gateway.kinds import Direction
from gateway.model.samples import example_order
from gateway.registry import DetectionResult, Registry
from gateway.store import TransportState


def delivery(data: bytes, transport_id: str | None = "t-1") -> InboundDocument:
    return InboundDocument(data=data, channel="folder", transport_id=transport_id)


class SlowFirstDetect:
    """The registry, but the first detect waits until released (a slow first delivery)."""

    def __init__(self, real: Registry) -> None:
        self.real = real
        self.calls = 0
        self.gate = threading.Event()

    def detect(self, data: bytes) -> DetectionResult:
        self.calls += 1
        if self.calls == 1:
            assert self.gate.wait(10)
        return self.real.detect(data)


async def test_a_first_delivery_overtaken_by_its_repeat_still_succeeds(pipe: Pipeline) -> None:
    """The channel repeats a delivery (same transport id) while the first is still decoding.

    The repeat finds the stored bytes in ``received`` and processes them; the
    first delivery then must return the message id, not fail: the document is
    stored and decoded.
    """
    slow = SlowFirstDetect(pipe.inbound.registry)
    pipe.inbound.registry = slow  # type: ignore[assignment]
    data = document_json(example_order())
    first = asyncio.create_task(pipe.inbound.receive(delivery(data)))
    for _ in range(500):
        if slow.calls:
            break
        await asyncio.sleep(0.01)
    assert slow.calls == 1
    repeat_id = await pipe.inbound.receive(delivery(data))
    slow.gate.set()
    first_id = await first  # raises InvalidTransition: received -> decoded, though it is decoded
    assert first_id == repeat_id
    record = await pipe.store.get(first_id)
    assert record is not None
    assert record.transport_state is TransportState.DECODED


@pytest.mark.parametrize("number", ["PO-\x00-1"])
async def test_a_number_the_database_cannot_hold_is_rejected_not_left_received(
    pipe: Pipeline, number: str,
) -> None:
    """Hostile input is normal input: an order number with a NUL character.

    No PostgreSQL text column holds NUL, so the decode would fail in the
    database and leave the message ``received`` for ever; it is rejected with
    its reason instead, on both backends alike.
    """
    data = document_json(attrs.evolve(example_order(), number=number))
    try:
        message_id = await pipe.inbound.receive(delivery(data))
    except Exception as exc:
        page = await pipe.store.list_messages(direction=Direction.INBOUND)
        states = [m.transport_state.value for m in page.items]
        pytest.fail(f"receive raised {type(exc).__name__}: {exc}; stored states: {states}")
    record = await pipe.store.get(message_id)
    assert record is not None
    assert record.transport_state is TransportState.REJECTED
    assert record.last_error is not None
    assert "number: holds the control character U+0000" in record.last_error
