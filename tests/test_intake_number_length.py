"""A document number too long for the store's business key is refused, naming the field."""

from __future__ import annotations

import json
from pathlib import Path

from api_support import ERP, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


async def test_a_too_long_invoice_number_is_rejected_naming_its_field(
    store_url: str, tmp_path: Path,
) -> None:
    document = json.loads(invoice_json())
    document["number"] = "F" + "9" * 1200
    async with running_gateway(tmp_path, database=store_url) as gateway:
        status, _, body = await gateway.call("POST", SUBMIT, data=json.dumps(document).encode(),
                                             token=ERP)
    assert status in (400, 422), body
    assert "number" in json.dumps(body), body
