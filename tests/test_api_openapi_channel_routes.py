"""The OpenAPI document lists what the portal channel's routes answer: 201, 400, 404, 409."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import jsonschema
from openapi_spec_validator import validate
from pipeline_support import AGENCY_OIN, document_json
from test_portal import start

from gateway.model.samples import example_order
from gateway.service import GatewayService

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
BASE = "/api/v1/channels/portal"


@asynccontextmanager
async def _example_gateway(tmp_path: Path) -> AsyncIterator[str]:
    """The example configuration's gateway, started on a free port, token test-token; its URL."""
    text = EXAMPLE.read_text("utf-8").replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    path = tmp_path / "gateway.toml"
    path.write_text(text, "utf-8")
    service = GatewayService(path)
    await service.start()
    try:
        assert service.address is not None
        yield f"http://127.0.0.1:{service.address[1]}"
    finally:
        await service.stop()


async def test_portal_answers_are_documented(tmp_path: Path) -> None:
    async with _example_gateway(tmp_path) as url:
        headers = {"Authorization": "Bearer test-token"}
        order = base64.b64encode((ROOT / "examples/erp-payloads/order.json").read_bytes())
        calls = [
            ("post", f"{BASE}/import", {"agency": "00000001003227522000",
                                        "content_base64": order.decode()}),
            ("get", f"{BASE}/tasks/{{task_id}}", None),
            ("post", f"{BASE}/tasks/{{task_id}}/done", {}),
        ]
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{url}/openapi.json") as answer:
                paths = (await answer.json())["paths"]
            undocumented = []
            for method, route, body in calls:
                real = route.replace("{task_id}", "01M8MZ000000000000000000XX")
                async with session.request(method, url + real, json=body) as answer:
                    documented = paths[route][method]["responses"]
                    if str(answer.status) not in documented:
                        undocumented.append(f"{method.upper()} {route}: {answer.status} "
                                            f"(documented: {sorted(documented)})")
        assert not undocumented, undocumented


async def test_portal_bodies_and_problems_are_documented(tmp_path: Path) -> None:
    # The fuzzer, following the document, sent done/cancel/import no body at all: the
    # document named none, and gave the 400/404/409 problem answers no content type.
    async with _example_gateway(tmp_path) as url, aiohttp.ClientSession() as session, \
            session.get(f"{url}/openapi.json") as answer:
        paths = (await answer.json())["paths"]
    required = {"/tasks/{task_id}/done": ["reference"], "/tasks/{task_id}/cancel": ["reason"],
                "/import": ["agency", "content_base64"]}
    for route, fields in required.items():
        operation = paths[BASE + route]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert body["type"] == "object"
        assert body["required"] == fields
        assert "413" in operation["responses"]
    for route, item in paths.items():
        if not route.startswith(BASE):
            continue
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"] == {"application/problem+json": {
                        "schema": {"$ref": "#/components/schemas/Problem"}}}, (
                        method, route, status)


async def test_portal_successes_answer_as_their_schema_says(tmp_path: Path) -> None:
    # The 200 and 201 answers carried no schema: a client generated from the document
    # knew nothing of a task's fields. Each real answer is checked against its schema,
    # which refuses fields it does not name, so the two cannot drift apart.
    gateway = await start(tmp_path)
    try:
        submitted = await gateway.submit("F2024-0301")
        cancelled = await gateway.submit("F2024-0302")
        task, other = str(submitted.transport_id), str(cancelled.transport_id)
        address = gateway.service.address
        assert address is not None
        async with aiohttp.ClientSession() as session, \
                session.get(f"http://127.0.0.1:{address[1]}/openapi.json") as fetched:
            document = await fetched.json()
        validate(document)  # the schemas are valid where OpenAPI 3.1 puts them
        order = base64.b64encode(document_json(example_order())).decode()
        calls = [
            ("get", "/tasks", None, 200),
            ("get", "/tasks/{task_id}", None, 200),
            ("get", "/tasks/{task_id}/bundle", None, 200),
            ("post", "/tasks/{task_id}/done", {"reference": "DI-1", "by": "alice"}, 200),
            ("post", "/tasks/{task_id}/cancel", {"reason": "wrong"}, 200),
            ("get", "/tasks", None, 200),
            ("post", "/import", {"agency": AGENCY_OIN, "content_base64": order}, 201),
        ]
        for method, route, body, expected in calls:
            task_id = other if route.endswith("/cancel") else task
            status, answer = await gateway.api(method.upper(),
                                               route.replace("{task_id}", task_id), body)
            assert status == expected, (method, route, answer)
            if route == "/tasks":
                listing = answer
            response = document["paths"][BASE + route][method]["responses"][str(status)]
            schema = response["content"]["application/json"]["schema"]
            jsonschema.Draft202012Validator(
                schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
            ).validate(answer)
        # The last listing held a submitted and a cancelled task, with every field set.
        assert {t["state"] for t in listing["tasks"]} == {"submitted", "cancelled"}
    finally:
        await gateway.service.stop()
