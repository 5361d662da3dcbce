"""Outbound intake: the business key of a corrected timecard, every OIN the agency party
states, the field a refusal names, and ``gateway send --json`` with no gateway.

The outbound key follows the inbound rule (pipeline/keys.py key_number): a corrected
timecard, sent under the id of the one it replaces, is a document of its own; any other
document keeps the key it always had, so stored keys still match their repeats.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_support import TOKENS, Running, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN, OTHER_OIN, SUPPLIER_KVK
from test_cli_send import gateway_cli, write_invoices

from gateway.kinds import Direction
from gateway.model import PartyId
from gateway.model.json import to_json
from gateway.model.samples import example_invoice, example_order, example_timecard
from gateway.pipeline.keys import number_from_key

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"
UNKNOWN_OIN = "00000001009898347000"  # a valid OIN that is not in the agency directory

TIMECARD_ROUTE = f"""
[agencies."{AGENCY_OIN}".documents.timecard]
format = "canonical:timecard:1"
"""


def edited_invoice(number: str, edit: Any) -> bytes:
    document: dict[str, Any] = json.loads(invoice_json(number))
    edit(document)
    return json.dumps(document).encode()


async def sent_filenames(gateway: Running, count: int) -> list[str]:
    """The file names of the first ``count`` messages the recorder channel was handed."""
    recorder = gateway.plugin.instances["recorder"]
    for _ in range(500):
        if len(recorder.calls) >= count:
            break
        await asyncio.sleep(0.01)
    return [call.filename for call in recorder.calls]


async def test_a_corrected_timecard_is_not_swallowed_as_a_repeat_of_the_original(
    tmp_path: Path,
) -> None:
    """An outbound timecard correction (``corrects`` = its own id, as SETU-OHNL marks one)
    got the original's business key (outbound.py used document_number, not key_number),
    so it was answered 200 Wissel-Duplicate and never sent."""
    async with running_gateway(tmp_path, extra=TIMECARD_ROUTE + TOKENS) as gateway:
        card = example_timecard()
        status, _, first = await gateway.call("POST", SUBMIT,
                                              data=json.dumps(to_json(card)).encode())
        assert status == 202
        # The original keeps the plain key: what keys stored before the fix hold.
        assert first["business_key"] == f"{SUPPLIER_KVK}:{AGENCY_OIN}:timecard:{card.id}"
        correction = attrs.evolve(card, corrects=card.id, intervals=card.intervals[1:],
                                  submitted_at=dt.datetime(2014, 10, 10, 9, 0))
        data = json.dumps(to_json(correction)).encode()
        status, headers, second = await gateway.call("POST", SUBMIT, data=data)
        assert "Wissel-Duplicate" not in headers
        assert status == 202, second
        assert second["id"] != first["id"]
        assert second["business_key"].startswith(
            f"{SUPPLIER_KVK}:{AGENCY_OIN}:timecard:{card.id}:correction:")
        # The very same correction again is still a repeat, of the correction.
        status, _, again = await gateway.call("POST", SUBMIT, data=data)
        assert (status, again["id"]) == (200, second["id"])
        # Both go out, and the correction's file is named by the timecard's own id.
        assert await sent_filenames(gateway, 2) == [f"{card.id}.json"] * 2


def test_only_a_timecard_key_loses_the_correction_mark() -> None:
    mark = ":correction:0123456789abcdef"
    assert number_from_key(f"{SUPPLIER_KVK}:{AGENCY_OIN}:timecard:T-1{mark}") == "T-1"
    # An invoice whose number merely looks like it keeps its number.
    assert number_from_key(f"{SUPPLIER_KVK}:{AGENCY_OIN}:invoice:F-1{mark}") == f"F-1{mark}"
    assert number_from_key(f"{SUPPLIER_KVK}:{AGENCY_OIN}:invoice:F:2") == "F:2"


def _other_oin_in_ids(document: dict[str, Any]) -> None:
    document["buyer"]["ids"][0]["value"] = OTHER_OIN


def _broken_oin_in_ids(document: dict[str, Any]) -> None:
    document["buyer"]["ids"][0]["value"] = "0000000100322752200X"


@pytest.mark.parametrize(("edit", "rule"), [(_other_oin_in_ids, "agency-oin-mismatch"),
                                            (_broken_oin_in_ids, "agency-oin-invalid")],
                         ids=["another-agency", "not-an-oin"])
async def test_every_oin_the_buyer_states_is_checked_against_the_agency(
    tmp_path: Path, edit: Any, rule: str,
) -> None:
    """The intake check (keys.py party_oin) looked at the first OIN-scheme id only
    (endpoint_id); an OIN in buyer.ids naming another agency, or no OIN at all, passed
    and, on a canonical route, went out byte for byte."""
    async with running_gateway(tmp_path) as gateway:
        status, _, answer = await gateway.call("POST", SUBMIT, data=edited_invoice("O-1", edit))
        assert status == 422, answer
        assert answer["stage"] == "check"
        assert answer["rules"] == [rule]
        assert answer["errors"][0]["field"] == "$.buyer.ids[0].value", answer
        assert answer["errors"][0]["rule"] == rule
        assert (await gateway.store.get(answer["message_id"])).last_error.startswith("check:")


async def test_a_mismatch_names_the_document_oin_and_the_path_parameter(
    tmp_path: Path,
) -> None:
    """A consistent buyer submitted for another agency: either OIN may be the one to fix,
    but the error is listed once, at the document's field, naming the path's OIN."""
    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("POST", f"/api/v1/outbound/{OTHER_OIN}",
                                                data=invoice_json("O-4"))
        assert status == 422
        assert problem["rules"] == ["agency-oin-mismatch"]
        assert [(e["rule"], e["field"]) for e in problem["errors"]] == [
            ("agency-oin-mismatch", "$.buyer.endpoint_id.value")]
        message = problem["errors"][0]["message"]
        assert f"submitted for agency {OTHER_OIN} (agency_oin in the request path)" in message


async def test_an_invalid_buyer_oin_is_named_by_its_json_path(tmp_path: Path) -> None:
    """A buyer endpoint OIN of 19 digits was refused at the check stage with a 422 that
    had no ``errors`` at all and no rule."""
    def short_oin(document: dict[str, Any]) -> None:
        document["buyer"]["endpoint_id"]["value"] = "0000000100322752200"

    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("POST", SUBMIT,
                                                data=edited_invoice("O-2", short_oin))
        assert status == 422
        fields = [error.get("field") for error in problem.get("errors", [])]
        assert "$.buyer.endpoint_id.value" in fields, problem
        assert problem["errors"] == [{
            "field": "$.buyer.endpoint_id.value", "rule": "agency-oin-invalid",
            "message": problem["errors"][0]["message"]}]
        assert "0000000100322752200" in problem["errors"][0]["message"]


async def test_an_agency_not_in_the_directory_is_named_as_the_field_at_fault(
    tmp_path: Path,
) -> None:
    """A valid OIN in the path that the directory lacks: 422 at the route stage had no
    ``errors`` and no rule, while an invalid or mismatching OIN names ``agency_oin``."""
    invoice = example_invoice()
    oin = PartyId(scheme="0190", value=UNKNOWN_OIN)
    buyer = attrs.evolve(invoice.buyer, ids=(PartyId(scheme="OIN", value=UNKNOWN_OIN),),
                         legal_id=oin, endpoint_id=oin)
    data = json.dumps(to_json(attrs.evolve(invoice, number="O-3", buyer=buyer))).encode()
    async with running_gateway(tmp_path) as gateway:
        status, _, problem = await gateway.call("POST", f"/api/v1/outbound/{UNKNOWN_OIN}",
                                                data=data)
        assert status == 422
        assert problem["stage"] == "route"
        assert [e.get("field") for e in problem.get("errors", [])] == ["agency_oin"], problem
        assert problem["rules"] == ["agency-unknown"]
        # A kind the known agency does not route is the route's refusal, not the agency's.
        status, _, problem = await gateway.call(
            "POST", SUBMIT, data=json.dumps(to_json(example_order())).encode())
        assert (status, problem["stage"], problem["rules"]) == (422, "route", [])


async def test_send_json_reports_the_files_not_sent_when_the_gateway_is_down(
    tmp_path: Path,
) -> None:
    """``gateway send --json`` with no gateway answering printed no JSON at all (the
    GatewayError was re-raised, cli/send.py 'nothing was sent'), although --json
    promises every outcome as JSON and the help says the rest is listed as not sent."""
    async with running_gateway(tmp_path) as gateway:
        config = gateway.config_path
        files = write_invoices(tmp_path / "docs", ["D-1", "D-2"])
        assert (await gateway.store.list_messages(direction=Direction.OUTBOUND)).items == ()
    # The gateway has stopped.
    result = await gateway_cli(config, "send", *map(str, files), "--agency", AGENCY_OIN,
                               "--json")
    assert result.stdout.strip(), f"no JSON on stdout; raised {result.exception!r}"
    report = json.loads(result.stdout)
    assert report["not_sent"] == [str(f) for f in files]
    assert report["counts"] == {"accepted": 0, "duplicate": 0, "rejected": 0}
    assert "no gateway answers" in report["stopped"]
    assert result.exit_code == 2
    # Without --json it stays the one-line error (the GatewayError, shown by main).
    result = await gateway_cli(config, "send", *map(str, files), "--agency", AGENCY_OIN)
    assert result.stdout == ""
    assert "no gateway answers" in str(result.exception)
