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
