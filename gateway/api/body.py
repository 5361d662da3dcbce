"""Reading request bodies within the configured size limit."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.api.problems import Problem, bad_request
from gateway.store.base import storable

CHUNK = 64 * 1024


def too_large(size: int | str, limit: int) -> Problem:
    return Problem(413, "too-large", "The request is too large",
                   f"the request body is {size} bytes; the limit is {limit} bytes "
                   "([api] max_request_bytes)", extra={"limit": limit})


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it is known to exceed ``limit``.

    A declared Content-Length above the limit is refused before a byte of the
    body is read; a chunked body is counted while it arrives.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large(declared, limit)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(CHUNK):
        total += len(chunk)
        if total > limit:
            raise too_large(f"more than {limit}", limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: web.Request, limit: int) -> dict[str, Any]:
    """A small JSON object body (operator requests); an empty body is an empty object."""
    raw = await read_body(request, limit)
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise bad_request(f"the body is not JSON: {exc}", "$", slug="not-json") from None
    except RecursionError:
        # Deep nesting fits in the size limit; the reader gives up on it by recursing out.
        raise bad_request("the body is not JSON this gateway reads: arrays or objects "
                          "nested too deeply", "$", slug="not-json") from None
    if not isinstance(value, dict):
        raise bad_request("the body must be a JSON object", "$")
    return value


def optional_text(body: dict[str, Any], key: str, *, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None:
        if required:
            raise bad_request(f"{key} is required", f"$.{key}")
        return None
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{key} must be a non-empty string", f"$.{key}")
    # Refused here, before the action, not half-way through it (the audit entry).
    if not storable(value):
        raise bad_request(f"{key} {UNSTORABLE}", f"$.{key}")
    return value.strip()


UNSTORABLE = ("holds a NUL character or a lone surrogate (\\u0000, \\ud800 ... \\udfff), "
              "which cannot be stored")


def check_keys(body: dict[str, Any], known: tuple[str, ...]) -> None:
    for key in body:
        if key not in known:
            raise bad_request(f"unknown field {key!r} (known: {', '.join(known)})", f"$.{key}")
