"""``gateway inbox respond`` and ``gateway inbox invoice`` against a running gateway.

The documents answered come in through the gateway's inbound pipeline, as an
agency's would; what the commands build goes out through its intake.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
from api_support import Running, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN, document_json
from test_cli_send import gateway_cli

from gateway.channels import InboundDocument
from gateway.kinds import Direction
from gateway.model import CanonicalDocument, StaffingOrder, TimeCardStatus
from gateway.model.samples import example_order, example_staffing_order, example_timecard
from gateway.paths import STANDARDS_DIR_ENV
from gateway.store import TransportState


async def received_order(gateway: Running, transport_id: str = "o-1") -> str:
    """The sample order (lines 1.1.1 and 2.1.1) from the agency, decoded into the inbox."""
    return await gateway.service.receive(InboundDocument(
        data=document_json(example_order()), channel="folder", transport_id=transport_id))


async def outbound(gateway: Running) -> list[dict[str, Any]]:
    page = await gateway.store.list_messages(direction=Direction.OUTBOUND)
    return [{"kind": r.document_kind, "state": r.transport_state.value,
             "canonical": json.loads(r.canonical_json)} for r in page.items]


async def test_an_order_is_accepted_sent_to_its_agency_and_acknowledged(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        order_id = await received_order(gateway)
        result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                   "--accept", "--ack")
        assert result.exit_code == 0, result.output
        [sent] = (await gateway.store.list_messages(direction=Direction.OUTBOUND)).items
        assert f"accepted: message {sent.id} (order-response via recorder" in result.output
        assert f"acknowledged {order_id}" in result.output
        assert sent.agency_oin == AGENCY_OIN
        response = json.loads(sent.canonical_json)
        assert response["status"] == "accepted"
        assert response["number"] == "40000695"
        assert response["order_reference"]["id"] == "40000695"
        assert [r["status"] for r in response["line_responses"]] == ["accepted", "accepted"]
        order = await gateway.store.get(order_id)
        assert order.transport_state is TransportState.ACKNOWLEDGED

        # The same answer again is the stored message; another answer is refused.
        result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                   "--accept")
        assert result.exit_code == 0, result.output
        assert f"duplicate: already message {sent.id}" in result.output
        result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                   "--change", "1.1.1=500")
        assert result.exit_code == 1
        assert "rejected:" in result.output
        assert len(await outbound(gateway)) == 1


async def test_changes_are_answered_per_line_and_a_dry_run_sends_nothing(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        order_id = await received_order(gateway)
        args = ("inbox", "respond", order_id, "--change", "1.1.1=500@2014-10-20",
                "--change", "2.1.1=@2014-10-21")
        result = await gateway_cli(gateway.config_path, *args, "--dry-run")
        assert result.exit_code == 0, result.output
        printed = json.loads(result.output)
        assert await outbound(gateway) == []
        assert (await gateway.store.get(order_id)).transport_state is TransportState.DECODED

        result = await gateway_cli(gateway.config_path, *args)
        assert result.exit_code == 0, result.output
        [sent] = await outbound(gateway)
        assert sent["canonical"] == printed
        assert printed["status"] == "accepted-with-changes"
        first, second = printed["line_responses"]
        assert first["status"] == "changed"
        assert first["quantity"] == {"value": "500", "unit_code": "EA"}
        assert first["delivery_date"] == "2014-10-20"
        assert second["status"] == "changed"
        assert "quantity" not in second
        assert second["delivery_date"] == "2014-10-21"


async def test_an_unknown_line_is_named_and_nothing_is_stored(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        order_id = await received_order(gateway)
        result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                   "--change", "1.1.1=5", "--change", "9.9.9=1", "--ack")
        assert result.exit_code == 1
        assert ("order 40000695 has no line(s) '9.9.9' (its lines: 1.1.1, 2.1.1)"
                in result.output)
        assert await outbound(gateway) == []
        assert (await gateway.store.get(order_id)).transport_state is TransportState.DECODED

        for change, wrong in (("1.1.1", "is not LINE=QTY"), ("1.1.1=-2", "no number of 0"),
                              ("1.1.1=2@14-10-2014", "is no date")):
            result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                       "--change", change)
            assert result.exit_code == 2
            assert wrong in result.output
        assert await outbound(gateway) == []


async def test_a_rejection_ubl_ohnl_cannot_carry_is_refused_before_it_is_stored(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))
    async with running_gateway(
            tmp_path, order_response_format="ubl-ohnl:order-response:1.9",
            supplier_number="123456") as gateway:
        order_id = await received_order(gateway)
        result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                   "--reject", "--reason", "sold out", "--ack")
        assert result.exit_code == 1
        assert (f"agency {AGENCY_OIN} is sent each order-response as "
                "ubl-ohnl:order-response:1.9, which cannot carry this one") in result.output
        assert "cannot reject an order" in result.output
        assert await outbound(gateway) == []
        assert (await gateway.store.get(order_id)).transport_state is TransportState.DECODED

        # What it can carry goes out in it.
        result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                   "--change", "2.1.1=9000", "--ack")
        assert result.exit_code == 0, result.output
        assert "(order-response via recorder, ubl-ohnl:order-response:1.9)" in result.output
        [sent] = await outbound(gateway)
        assert sent["state"] in ("queued", "sending", "sent")
        assert (await gateway.store.get(order_id)).transport_state is \
            TransportState.ACKNOWLEDGED


async def test_only_a_received_order_is_answered(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        order_id = await received_order(gateway)
        status, _, sent = await gateway.call("POST", f"/api/v1/outbound/{AGENCY_OIN}",
                                             data=invoice_json())
        assert status == 202
        result = await gateway_cli(gateway.config_path, "inbox", "respond", sent["id"],
                                   "--accept")
        assert result.exit_code == 1
        assert f"message {sent['id']} is an outbound invoice" in result.output

        for args, wrong in ((("--accept", "--reject", "--reason", "x"),
                             "exactly one of --accept, --reject or --change"),
                            (("--reject",), "--reject needs --reason"),
                            (("--accept", "--reason", "x"), "--reason goes with --reject"),
                            ((), "exactly one of")):
            result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                       *args)
            assert result.exit_code == 2, args
            assert wrong in result.output
        assert len(await outbound(gateway)) == 1


async def receive(gateway: Running, document: CanonicalDocument, transport_id: str) -> str:
    return await gateway.service.receive(InboundDocument(
        data=document_json(document), channel="folder", transport_id=transport_id))


def staffing_order() -> StaffingOrder:
    """The order the sample timecard (135664) books on, with a bill rate per order line."""
    rate = example_staffing_order().rates[0]
    return attrs.evolve(example_staffing_order(), order_id="40002147", rates=tuple(
        attrs.evolve(rate, order_line_id=line, amount=Decimal(amount), rate_type="bill")
        for line, amount in (("1.1.1", "43.78"), ("2.1.1", "40.63"), ("3.1.1", "34.34"))))


async def test_an_order_is_invoiced_as_answered(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        order_id = await received_order(gateway)
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", order_id,
                                   "--number", "F-1", "--dry-run")
        assert result.exit_code == 0, result.output
        assert [line["quantity"]["value"] for line in json.loads(result.output)["lines"]] == [
            "1000.00", "10000.00"]
        assert await outbound(gateway) == []

        result = await gateway_cli(gateway.config_path, "inbox", "respond", order_id,
                                   "--change", "1.1.1=500")
        assert result.exit_code == 0, result.output
        [answer] = (await gateway.store.list_messages(direction=Direction.OUTBOUND)).items
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", order_id,
                                   "--number", "F-1", "--price", "2.1.1=2.50")
        assert result.exit_code == 0, result.output
        assert f"billing order 40000695 as answered by message {answer.id}" in result.output
        invoice = next(m["canonical"] for m in await outbound(gateway)
                       if m["kind"] == "invoice")
        assert "accepted: message" in result.output
        assert invoice["number"] == "F-1"
        assert invoice["order_reference"]["id"] == "40000695"
        assert [(line["order_line_reference"], line["quantity"]["value"],
                 line["price"]["amount"]) for line in invoice["lines"]] == [
            ("1.1.1", "500", "3.27"), ("2.1.1", "10000.00", "2.50")]


async def test_what_an_order_invoice_lacks_is_named_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        order = example_order()
        unpriced = attrs.evolve(order, number="40000696", lines=(
            order.lines[0], attrs.evolve(order.lines[1], price=None, line_amount=None)),
            tax_breakdown=(), totals=None)
        order_id = await receive(gateway, unpriced, "o-2")
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", order_id,
                                   "--number", "F-1")
        assert result.exit_code == 1
        assert ("order 40000696 states no price for line(s) '2.1.1'; give each with "
                "--price LINE=AMOUNT") in result.output
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", order_id,
                                   "--number", "F-1", "--price", "9.9.9=1")
        assert result.exit_code == 1
        assert "order 40000696 has no line(s) '9.9.9' (its lines: 1.1.1, 2.1.1)" in \
            result.output
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", order_id,
                                   "--number", "F-1", "--price", "2.1.1=ten")
        assert result.exit_code == 2
        assert "the price 'ten' is no amount" in result.output
        assert await outbound(gateway) == []


async def test_approved_timecards_are_invoiced_at_the_staffing_order_rates(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        order_id = await receive(gateway, staffing_order(), "so-1")
        card_id = await receive(gateway, example_timecard(), "tc-1")
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", card_id,
                                   "--number", "U-1", "--price", "1.1.1=50")
        assert result.exit_code == 2
        assert "timecard hours are priced at the staffing order's rates" in result.output

        result = await gateway_cli(gateway.config_path, "inbox", "invoice", card_id,
                                   "--number", "U-1")
        assert result.exit_code == 0, result.output
        [sent] = await outbound(gateway)
        invoice = sent["canonical"]
        assert invoice["order_reference"]["id"] == "40002147"
        assert invoice["timecard_references"] == ["135664"]
        assert sorted((line["order_line_reference"], line["quantity"]["value"],
                       line["price"]["amount"]) for line in invoice["lines"]) == [
            ("1.1.1", "16.00", "43.78"), ("2.1.1", "8.00", "60.945"),
            ("3.1.1", "2.00", "51.51")]

        result = await gateway_cli(gateway.config_path, "inbox", "invoice", order_id,
                                   "--number", "U-2")
        assert result.exit_code == 1
        assert (f"message {order_id} is a staffing-order, neither an order nor a timecard"
                in result.output)
        assert len(await outbound(gateway)) == 1


async def test_a_timecard_not_approved_is_not_invoiced(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        order_id = await received_order(gateway)
        submitted = attrs.evolve(example_timecard(), id="135665",
                                 status=TimeCardStatus.SUBMITTED)
        card_id = await receive(gateway, submitted, "tc-2")
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", card_id,
                                   "--number", "U-1")
        assert result.exit_code == 1
        assert ("staffing order '40002147', which the timecards book on, was never received "
                f"from agency {AGENCY_OIN}") in result.output

        await receive(gateway, staffing_order(), "so-1")
        approved_id = await receive(gateway, example_timecard(), "tc-1")
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", approved_id,
                                   card_id, "--number", "U-1")
        assert result.exit_code == 1
        assert "timecard(s) '135665' are not approved" in result.output
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", approved_id,
                                   order_id, "--number", "U-1")
        assert result.exit_code == 1
        assert f"message {order_id} is an order: an invoice is built from one order" in \
            result.output
        result = await gateway_cli(gateway.config_path, "inbox", "invoice", approved_id,
                                   approved_id, "--number", "U-1")
        assert result.exit_code == 2
        assert "named twice" in result.output
        assert await outbound(gateway) == []
