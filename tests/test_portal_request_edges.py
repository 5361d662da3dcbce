"""The portal's HTTP routes answer bad input with problem details, never 500.

Found by fuzzing the running API against its OpenAPI document. Real counterparts:
a started gateway with the portal channel, called over HTTP.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import aiohttp
import attrs
import jsonschema
import pytest
from pipeline_support import AGENCY_OIN, document_json
from test_portal import TOKEN, Running, gateway  # noqa: F401 - fixture

from gateway.api.problems import PROBLEM_TYPE
from gateway.model.samples import example_order
from plugins.portal.channel import PortalChannel


async def _post(running: Running, path: str, data: bytes) -> tuple[int, str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session, session.post(
        f"{running.url}{path}", data=data, headers=headers,
    ) as response:
        return response.status, response.content_type, await response.json(content_type=None)


async def test_a_body_nested_too_deeply_is_400_not_500(gateway: Running) -> None:  # noqa: F811
    # json.loads gives up on deep nesting with RecursionError, not ValueError: the
    # portal answered 500 for a request body that fits in the size limit.
    for body in (b"[" * 30000 + b"]" * 30000, b'{"a":' * 10000 + b"1" + b"}" * 10000):
        for path in ("/import", "/tasks/T-1/done", "/tasks/T-1/cancel"):
            status, content_type, problem = await _post(gateway, path, body)
            assert status == 400, (path, problem)
            assert content_type == PROBLEM_TYPE
            assert problem["type"] == "urn:wissel:problem:portal-bad-request"


async def test_text_no_store_can_keep_is_400_and_the_task_stays_open(
    gateway: Running,  # noqa: F811
) -> None:
    # A lone surrogate in `by` closed nothing but answered 500: the store could not
    # write the event. On PostgreSQL a NUL fails the same way.
    record = await gateway.submit("P-EDGE-1")
    for path, body in ((f"/tasks/{record.id}/done", b'{"reference": "R-1", "by": "jan\\ud800"}'),
                       (f"/tasks/{record.id}/done", b'{"reference": "R\\u0000-1"}'),
                       (f"/tasks/{record.id}/cancel", b'{"reason": "not \\udfffthis one"}')):
        status, content_type, problem = await _post(gateway, path, body)
        assert status == 400, (path, problem)
        assert content_type == PROBLEM_TYPE
        assert problem["errors"][0]["field"] in ("$.by", "$.reference", "$.reason")
    portal = gateway.service.channels["portal"]
    assert isinstance(portal, PortalChannel)
    assert (await portal.task(record.id)).state == "open"


async def test_an_import_filename_must_be_text_a_store_can_keep(
    gateway: Running,  # noqa: F811
) -> None:
    order = attrs.evolve(example_order(), number="PO-EDGE-1")
    content = base64.b64encode(document_json(order)).decode()
    assert gateway.service.store is not None
    before = await gateway.service.store.count_by_state()
    for filename in (b"5", b'["order.json"]', b'"order\\ud800.json"', b'"order\\u0000.json"'):
        body = b'{"agency": "%s", "content_base64": "%s", "filename": %s}' % (
            AGENCY_OIN.encode(), content.encode(), filename)
        status, content_type, problem = await _post(gateway, "/import", body)
        assert status == 400, (filename, problem)
        assert content_type == PROBLEM_TYPE
        assert problem["errors"][0]["field"] == "$.filename"
    assert await gateway.service.store.count_by_state() == before  # nothing stored
    # No name at all, as null: taken, as before names were checked.
    body = b'{"agency": "%s", "content_base64": "%s", "filename": null}' % (
        AGENCY_OIN.encode(), content.encode())
    status, _, answer = await _post(gateway, "/import", body)
    assert status == 201, answer


async def test_bodies_the_portal_refuses_as_blank_the_document_refuses_too(
    gateway: Running,  # noqa: F811
) -> None:
    # The fuzzer sent {"agency": "", "content_base64": ""}, valid by the document, and
    # was refused with 400.
    record = await gateway.submit("P-EDGE-2")
    async with aiohttp.ClientSession() as session, session.get(
        gateway.url.replace("/api/v1/channels/portal", "/openapi.json"),
    ) as answer:
        paths = (await answer.json())["paths"]
    for route, body in (("/import", {"agency": "", "content_base64": ""}),
                        ("/import", {"agency": "12", "content_base64": "PE9yZGVyLz4="}),
                        ("/tasks/{task_id}/done", {"reference": " "}),
                        ("/tasks/{task_id}/cancel", {"reason": ""})):
        status, _, problem = await _post(gateway, route.replace("{task_id}", record.id),
                                         json.dumps(body).encode())
        assert status == 400, (route, problem)
        schema = paths[f"/api/v1/channels/portal{route}"]["post"]["requestBody"]["content"][
            "application/json"]["schema"]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(body, schema)


async def test_the_task_list_documents_its_state_filter(gateway: Running) -> None:  # noqa: F811
    # The list answers 400 for an unknown state, but the document named no parameter.
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(f"{gateway.url}/tasks", params={"state": "closed"}) as answer:
            assert answer.status == 400
        async with session.get(
            gateway.url.replace("/api/v1/channels/portal", "/openapi.json"),
        ) as answer:
            operation = (await answer.json())["paths"]["/api/v1/channels/portal/tasks"]["get"]
    assert operation["parameters"] == [{
        "name": "state", "in": "query", "required": False,
        "description": "Only tasks in this state.",
        "schema": {"enum": ["open", "submitted", "cancelled"]}}]


async def test_the_task_list_refuses_a_filter_it_would_ignore(gateway: Running) -> None:  # noqa: F811
    # ?state=&state=open listed every task: the first (empty) state was read as no
    # filter and the second ignored, as was a misspelt ?stat=open. The caller took
    # the list for the filtered one.
    await gateway.submit("P-EDGE-3")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for query, field in (("state=&state=open", "state"), ("state=open&state=open", "state"),
                             ("stat=open", "stat"), ("state=", "state")):
            async with session.get(f"{gateway.url}/tasks?{query}") as answer:
                problem = await answer.json(content_type=None)
                assert answer.status == 400, (query, problem)
                assert answer.content_type == PROBLEM_TYPE
                assert problem["errors"][0]["field"] == field
        async with session.get(f"{gateway.url}/tasks?state=open") as answer:
            assert answer.status == 200
            assert len((await answer.json())["tasks"]) == 1
