"""Problem details name what is at fault: the field, each rule, the limit that applies."""

from __future__ import annotations

import json
from pathlib import Path

from api_support import ERP, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN


async def test_a_bad_agency_oin_in_the_path_is_named(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("POST", "/api/v1/outbound/123",
                                                data=invoice_json("N-1"), token=ERP)
        assert status in (400, 422)
        # The refusal names nothing: no "errors", so an ERP cannot point at the field.
        assert {"field": "agency_oin"}.items() <= (problem.get("errors") or [{}])[0].items(), \
            problem


async def test_each_broken_amount_rule_carries_its_own_message(tmp_path: Path) -> None:
    document = json.loads(invoice_json("N-2"))
    document["lines"][0]["net_amount"] = "12345.00"
    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("POST", f"/api/v1/outbound/{AGENCY_OIN}",
                                                data=json.dumps(document).encode(), token=ERP)
        assert status == 422
        assert len(problem["errors"]) >= 2
        for error in problem["errors"]:
            others = [e["rule"] for e in problem["errors"] if e["rule"] != error["rule"]]
            # Every entry repeats the whole joined reason, naming the other rules too.
            assert not any(rule in error["message"] for rule in others), error


async def test_a_413_for_the_document_limit_names_the_setting_that_limits(
    tmp_path: Path,
) -> None:
    # The operator raised [api] max_request_bytes to 32 MiB; the pipeline's own,
    # fixed 20 MiB document limit refuses a 21 MiB document, and the problem must not
    # tell the operator to raise [api] max_request_bytes, which is already above it.
    extra = "\n[api]\nmax_request_bytes = 33554432\n"
    async with running_gateway(tmp_path, extra=extra) as gateway:
        data = invoice_json("N-3")
        data += b" " * (21 * 1024 * 1024 - len(data))
        status, _, problem = await gateway.call("POST", f"/api/v1/outbound/{AGENCY_OIN}",
                                                data=data)
        assert status == 413
        assert problem["limit"] == 20 * 1024 * 1024
        assert "max_request_bytes" not in problem["detail"], problem["detail"]


async def test_a_broken_amount_rule_names_the_field_that_states_the_amount(
    tmp_path: Path,
) -> None:
    document = json.loads(invoice_json("N-4"))
    document["totals"]["tax_inclusive"] = "999.00"
    document["tax_breakdown"][0]["tax_amount"] = "1.00"
    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("POST", f"/api/v1/outbound/{AGENCY_OIN}",
                                                data=json.dumps(document).encode(), token=ERP)
        assert status == 422, problem
        fields = {e["rule"]: e.get("field") for e in problem["errors"]}
        # Only the rule and a message before: the ERP could not tell which amount to fix.
        assert fields["BR-CO-15"] == "$.totals.tax_inclusive", problem
        assert fields["BR-CO-17"] == "$.tax_breakdown[0].tax_amount", problem
