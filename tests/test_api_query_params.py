"""Odd query parameters of the list endpoints get a 400 naming them, or the right page."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from api_support import READER, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"


async def test_limit_with_a_unicode_digit_is_400_not_500(tmp_path: Path) -> None:
    # "²".isdigit() is True but int("²") raises ValueError.
    async with running_gateway(tmp_path) as gateway:
        for path in ("/api/v1/messages", "/api/v1/inbox"):
            status, _, problem = await gateway.call("GET", path, token=READER,
                                                    params={"limit": "²"})
            assert status == 400, (path, status, problem)
            assert problem["errors"][0]["field"] == "limit"


async def test_a_far_date_is_400_not_500(tmp_path: Path) -> None:
    # to=9999-12-31: the day after overflows; from with an offset at year 1 overflows
    # in the conversion to UTC. OverflowError is not a ValueError.
    async with running_gateway(tmp_path) as gateway:
        statuses = {}
        for name, value in (("to", "9999-12-31"), ("from", "0001-01-01T00:00:00+01:00")):
            status, _, _problem = await gateway.call("GET", "/api/v1/messages", token=READER,
                                                    params={name: value})
            statuses[name] = status
        assert statuses == {"to": 400, "from": 400}


async def test_a_plain_basic_format_date_as_to_includes_that_day(tmp_path: Path) -> None:
    # "20261129" is an ISO 8601 (basic format) plain date: as "to" it includes that day,
    # as 2026-11-29 does.
    async with running_gateway(tmp_path) as gateway:
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json("B-1"))
        assert status == 202
        today = datetime.now(UTC).date()
        status, _, extended = await gateway.call(
            "GET", "/api/v1/messages", token=READER, params={"to": today.isoformat()})
        assert [m["id"] for m in extended["items"]] == [body["id"]]
        status, _, basic = await gateway.call(
            "GET", "/api/v1/messages", token=READER, params={"to": today.strftime("%Y%m%d")})
        assert status == 200
        assert [m["id"] for m in basic["items"]] == [body["id"]]


async def test_from_and_to_are_documented_and_checked_as_iso_8601(tmp_path: Path) -> None:
    # The document said "string" only, and the server took 2026-11-29-13:00 (any
    # character between date and time) as 13:00 UTC, where "-13:00" looks like a zone.
    async with running_gateway(tmp_path) as gateway:
        _, _, document = await gateway.call("GET", "/openapi.json")
        params = document["paths"]["/api/v1/messages"]["get"]["parameters"]
        for name in ("from", "to"):
            schema = next(p for p in params if p["name"] == name)["schema"]
            assert {"format": "date-time"} in schema["anyOf"]
            assert {"format": "date"} in schema["anyOf"]
            assert schema["examples"]
            for example in schema["examples"]:
                status, _, page = await gateway.call("GET", "/api/v1/messages", token=READER,
                                                     params={name: example})
                assert status == 200, (name, example, page)
            for wrong in ("2026-11-29-13:00", "2026-11-29x13:00", "2026-11-29:13:00",
                          "tomorrow", "2026-11", "2026-11-29T13:00:00z"):
                status, _, problem = await gateway.call("GET", "/api/v1/messages",
                                                        token=READER, params={name: wrong})
                assert status == 400, (name, wrong, problem)
                assert problem["errors"] == [{"field": name, "message": problem["detail"]}]
                assert repr(wrong) in problem["detail"]
        # An offset's + sent unencoded arrives as a space: the answer says so.
        status, _, problem = await gateway.call(
            "GET", "/api/v1/messages?from=2026-11-29T13:00:00+01:00", token=READER)
        assert status == 400, problem
        assert "%2B" in problem["detail"]
