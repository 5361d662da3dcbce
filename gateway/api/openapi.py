"""The OpenAPI 3.1 document, written from the operations the app mounts."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from gateway import __version__
from gateway.api.operations import Operation, ref
from gateway.api.problems import PROBLEM_TYPE
from gateway.api.schemas import COMPONENTS, canonical_schemas

PROBLEM_TEXT = {
    400: "The request is not valid (not JSON, a bad parameter, a query parameter the "
         "operation does not list).",
    401: "No token, or not a valid one.",
    403: "The token lacks the scope (or, with no token configured, the caller is not local).",
    404: "No such message.",
    409: "The message's state does not allow this.",
    413: "The request body is larger than allowed ([api] max_request_bytes, or the "
         "document limit).",
    422: "The document was rejected; it is stored under message_id.",
    500: "The gateway failed; the error is in its log.",
    503: "The gateway cannot do this now (starting, stopping, a dependency down). Where "
         "it can tell when it will (it is starting; validation workers died and new ones "
         "are warming up) a Retry-After header gives the seconds to wait; without one an "
         "operator must act first (standards not installed, tokens unreadable).",
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^{}]*)?\}")


def openapi_path(path: str) -> str:
    """An aiohttp path (``{id:\\d+}`` allowed) as an OpenAPI path template (``{id}``)."""
    return _PLACEHOLDER.sub(r"{\1}", path)


def _operation(op: Operation) -> dict[str, Any]:
    entry: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary,
                             "tags": [op.tag]}
    description = op.description
    if op.scopes:
        needed = " or ".join(sorted(op.scopes))
        description = f"{description}\n\nNeeds the scope {needed}.".strip()
        entry["security"] = [{"bearerToken": []}]
        entry["x-scopes"] = sorted(op.scopes)
    else:
        entry["security"] = []
    if description:
        entry["description"] = description
    if op.params:
        entry["parameters"] = [p.to_openapi() for p in op.params]
    if op.body is not None:
        entry["requestBody"] = {"required": True, "description": op.body_description or
                                "JSON body.",
                                "content": {"application/json": {"schema": dict(op.body)}}}
    responses: dict[str, Any] = {}
    for answer in op.answers:
        response: dict[str, Any] = {"description": answer.description}
        if answer.schema is not None:
            response["content"] = {answer.media_type: {"schema": dict(answer.schema)}}
        if answer.headers:
            response["headers"] = {name: {"description": text, "schema": {"type": "string"}}
                                   for name, text in answer.headers.items()}
        responses[str(answer.status)] = response
    problems = {*op.problems, 500}
    if op.scopes:
        # Every scoped route: no/invalid token, missing scope, and the tokens
        # (or the store) not being readable now.
        problems |= {401, 403, 503}
    if op.body is not None:
        problems.add(413)  # every body is read within [api] max_request_bytes
    for status in sorted(problems):
        text = op.problem_texts.get(status, PROBLEM_TEXT[status])
        responses[str(status)] = {"description": text, "content": {
            PROBLEM_TYPE: {"schema": ref("Problem")}}}
    entry["responses"] = responses
    return entry


def build_document(operations: Sequence[Operation]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(openapi_path(op.path), {})[op.method.lower()] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Wissel gateway API",
            "version": __version__,
            "summary": "Submit documents to Dutch government bodies, follow them, and fetch "
                       "what they send.",
            "description": "Errors are RFC 9457 problem details. Tokens carry scopes: submit, "
                           "read, operate.",
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "components": {
            "schemas": {**COMPONENTS, **canonical_schemas()},
            "securitySchemes": {"bearerToken": {
                "type": "http", "scheme": "bearer",
                "description": "[gateway] token (every scope) or an [api.tokens.<name>] "
                               "token with its scopes.",
            }},
        },
        "security": [{"bearerToken": []}],
    }
