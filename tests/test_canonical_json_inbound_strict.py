"""Inbound canonical JSON is read as strictly as what the submit API takes.

A repeated key (which of two order numbers is meant?) or a control character
in a document that arrives on an inbound channel is refused at decode, naming
the fault, as ``loads`` and the published schema refuse it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from api_support import running_gateway

from gateway.channels import InboundDocument
from gateway.model.json import CanonicalJSONError, loads, to_json
from gateway.model.samples import example_order
from gateway.store import TransportState


def order_text() -> str:
    return json.dumps(to_json(example_order()))


def repeated_number() -> str:
    text = order_text()
    assert '"number": "40000695"' in text
    return text.replace('"number": "40000695"', '"number": "40000695", "number": "40000696"', 1)


def control_character() -> str:
    return order_text().replace('"name": "', '"name": "\\u000c', 1)


@pytest.mark.parametrize(("text", "reason"), [
    (repeated_number, "duplicate key 'number'"),
    (control_character, "control character U+000C"),
])
async def test_inbound_canonical_json_is_read_as_loads_reads_it(
    tmp_path: Path, text: Callable[[], str], reason: str,
) -> None:
    with pytest.raises(CanonicalJSONError, match=re.escape(reason)):
        loads(text())
    async with running_gateway(tmp_path) as gateway:
        message_id = await gateway.service.receive(InboundDocument(
            data=text().encode(), channel="folder", transport_id="o-1"))
        record = await gateway.store.get(message_id)
    assert record.transport_state is TransportState.REJECTED, record.canonical_json
    assert reason in (record.last_error or "")
