"""The OpenAPI document lists what the portal channel's routes answer: 201, 400, 404, 409."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

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
