"""The portal's HTTP routes answer bad input with problem details, never 500.

Found by fuzzing the running API against its OpenAPI document. Real counterparts:
a started gateway with the portal channel, called over HTTP.
"""

from __future__ import annotations

import aiohttp
from test_portal import TOKEN, Running, gateway  # noqa: F401 - fixture

from gateway.api.problems import PROBLEM_TYPE


async def _post(running: Running, path: str, data: bytes) -> tuple[int, str, dict[str, object]]:
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
