"""The portal work queue over HTTP, mounted by the core under ``/api/v1/channels/<name>/``.

JSON in and out; bundle files and imported documents travel base64-encoded
inside JSON, so one small client serves the CLI. Errors are problem details:
404 for an unknown task, 409 for a task no longer open (with the task as it
is now under ``task``: who closed it, and how), 400 for bad input.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.api.body import UNSTORABLE
from gateway.api.problems import Problem
from gateway.errors import GatewayError
from gateway.store.base import storable

from .tasks import STATES, Task

if TYPE_CHECKING:
    from .channel import PortalChannel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _problem(exc: GatewayError) -> Problem:
    from .channel import TaskChanging, TaskClosed, TaskNotFound

    if isinstance(exc, TaskNotFound):
        return Problem(404, "portal-task-not-found", "No such portal task", str(exc))
    if isinstance(exc, TaskClosed):
        title = ("The portal task was closed meanwhile" if exc.meanwhile
                 else "The portal task is not open")
        return Problem(409, "portal-task-closed", title, str(exc),
                       extra={"task": exc.task.to_dict()})
    if isinstance(exc, TaskChanging):
        return Problem(409, "portal-task-changing", "The portal task kept changing", str(exc))
    return Problem(400, "portal-bad-request", "The portal channel refused the request", str(exc))


_BAD = (400, "Bad input (not JSON, a field missing), as a problem document.")
_UNKNOWN = (404, "No such task (portal-task-not-found).")
_CLOSED = (409, "The task is no longer open (portal-task-closed, with the task as it is now "
                "under `task`) or kept changing (portal-task-changing).")


_TEXT = {"type": "string", "pattern": "\\S", "description": "Not blank."}
_BY = {"type": "string", "description": "Who did it (recorded with the task)."}
_DONE = {"type": "object", "required": ["reference"],
         "properties": {"reference": {**_TEXT, "description": "The portal's reference."},
                        "by": _BY}}
_CANCEL = {"type": "object", "required": ["reason"],
           "properties": {"reason": {**_TEXT, "description": "Why it is not submitted."},
                          "by": _BY}}
_IMPORT = {"type": "object", "required": ["agency", "content_base64"],
           "properties": {
               "agency": {"type": "string", "pattern": "^[0-9 .-]{20,}$",
                          "description": "The OIN of the agency it is from: 20 digits "
                                         "(spaces, dots and hyphens between them are "
                                         "ignored)."},
               "content_base64": {**_TEXT, "contentEncoding": "base64",
                                  "description": "The XML or canonical JSON, base64-encoded."},
               "filename": {"type": ["string", "null"],
                            "description": "The file's name, for messages (optional)."},
               "by": _BY}}


_STATE = ("state", "Only tasks in this state.", {"enum": list(STATES)})

# The answers, as view() and the handlers below write them.
_TEXT_OR_NULL = {"type": ["string", "null"]}
_TIME_OR_NULL = {"type": ["string", "null"], "format": "date-time"}
_TASK_FIELDS: dict[str, Any] = {
    "id": {"type": "string", "description": "The task id (its message's transport id)."},
    "message_id": {"type": "string"},
    "state": {"enum": list(STATES)},
    "agency_oin": _TEXT_OR_NULL,
    "kind": _TEXT_OR_NULL,
    "document_number": _TEXT_OR_NULL,
    "format_key": _TEXT_OR_NULL,
    "opened_at": _TIME_OR_NULL,
    "closed_at": _TIME_OR_NULL,
    "closed_by": _TEXT_OR_NULL,
    "reference": {**_TEXT_OR_NULL, "description": "The portal's reference, once submitted."},
    "reason": {**_TEXT_OR_NULL, "description": "Why it was cancelled."},
    "overdue": {"type": "boolean", "description": "Open for longer than warn_after."},
}


def _object(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": list(properties) if required is None else required}


_TASK = _object(_TASK_FIELDS)
_TASK_LIST = _object({"channel": {"type": "string"},
                      "warn_after_seconds": {"type": "number"},
                      "tasks": {"type": "array", "items": _TASK}})
_TASK_SHOWN = _object({**_TASK_FIELDS, "files": {
    "type": "array", "items": {"type": "string"},
    "description": "The bundle's file names, relative to the bundle."}})
_BUNDLE = _object({"task_id": {"type": "string"}, "files": {
    "type": "object", "description": "Each file's content by its name, base64-encoded.",
    "additionalProperties": {"type": "string", "contentEncoding": "base64"}}})
# The state is left out only when the message cannot be read back.
_IMPORTED = _object({"message_id": {"type": "string"}, "transport_state": {"type": "string"},
                     "kind": _TEXT_OR_NULL, "business_state": _TEXT_OR_NULL,
                     "error": {**_TEXT_OR_NULL, "description": "Why it was rejected."}},
                    ["message_id"])

Declared = tuple[int, str] | tuple[int, str, dict[str, Any]]


def _guard(handler: Handler, *answers: Declared, body: dict[str, Any] | None = None,
           query: tuple[tuple[str, str, dict[str, Any]], ...] = ()) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except GatewayError as exc:
            raise _problem(exc) from None

    guarded.__doc__ = handler.__doc__
    # What the API's OpenAPI document lists for this route (gateway.api.channels).
    guarded.openapi_answers = answers  # type: ignore[attr-defined]
    guarded.openapi_body = body  # type: ignore[attr-defined]
    guarded.openapi_query = query  # type: ignore[attr-defined]
    return guarded


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise Problem(400, "portal-bad-request", "The body is not JSON",
                      "send a JSON object") from None
    except RecursionError:
        # Deep nesting fits in the size limit; the reader gives up on it by recursing out.
        raise Problem(400, "portal-bad-request", "The body is not JSON this gateway reads",
                      "arrays or objects nested too deeply; send a flat JSON object") from None
    if not isinstance(body, dict):
        raise Problem(400, "portal-bad-request", "The body is not a JSON object",
                      "send a JSON object")
    return body


def _text(body: dict[str, Any], key: str, required: bool = True) -> str:
    value = body.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise Problem(400, "portal-bad-request", f"'{key}' is missing",
                      f"give '{key}' as a non-empty string",
                      errors=[{"field": f"$.{key}", "message": "a non-empty string is needed"}])
    # Refused here: the store cannot write it, and fails only once the action is under way.
    if not storable(value):
        raise Problem(400, "portal-bad-request", f"'{key}' cannot be stored",
                      f"'{key}' {UNSTORABLE}",
                      errors=[{"field": f"$.{key}", "message": UNSTORABLE}])
    return value


def _filename(body: dict[str, Any]) -> str | None:
    # Optional: null or "" is no name, as before text was checked.
    return None if body.get("filename") is None else _text(body, "filename", False) or None


def _state(request: web.Request) -> str | None:
    """?state=, given once if at all: a second one or a misspelt name would be ignored and
    the whole list taken for the filtered one."""
    for name in request.query:
        given = request.query.getall(name)
        if name != "state" or len(given) > 1 or given[0] not in STATES:
            text = f"the one filter is state={'|'.join(STATES)}, given once"
            raise Problem(400, "portal-bad-request", "The task filter is not valid",
                          f"{name}={', '.join(map(repr, given))}: {text}",
                          errors=[{"field": name, "message": text}])
    return request.query.get("state")


def routes(channel: PortalChannel) -> Sequence[web.RouteDef]:
    def view(task: Task) -> dict[str, Any]:
        return {**task.to_dict(), "overdue": channel.is_overdue(task)}

    async def list_tasks(request: web.Request) -> web.Response:
        """Portal tasks, newest first; ?state=open|submitted|cancelled."""
        tasks = await channel.tasks(_state(request))
        return web.json_response({
            "channel": channel.name, "warn_after_seconds": channel.warn_after.total_seconds(),
            "tasks": [view(t) for t in tasks]})

    async def show_task(request: web.Request) -> web.Response:
        """One portal task with the files of its bundle."""
        task_id = request.match_info["task_id"]
        task = await channel.task(task_id)
        files = await channel.bundle_names(task_id)
        return web.json_response({**view(task), "files": files})

    async def bundle(request: web.Request) -> web.Response:
        """The task's export bundle: every file base64-encoded."""
        files = await channel.bundle(request.match_info["task_id"])
        return web.json_response({"task_id": request.match_info["task_id"], "files": {
            name: base64.b64encode(data).decode("ascii") for name, data in files.items()}})

    async def done(request: web.Request) -> web.Response:
        """Close a task as submitted in the portal: {"reference": ..., "by": ...}."""
        body = await _body(request)
        task = await channel.done(request.match_info["task_id"], _text(body, "reference"),
                                  _text(body, "by", required=False))
        return web.json_response(view(task))

    async def cancel(request: web.Request) -> web.Response:
        """Cancel a task: {"reason": ..., "by": ...}; its message becomes failed."""
        body = await _body(request)
        task = await channel.cancel(request.match_info["task_id"], _text(body, "reason"),
                                    _text(body, "by", required=False))
        return web.json_response(view(task))

    async def import_document(request: web.Request) -> web.Response:
        """Import an order or proposal invoice from the portal: {"agency", "content_base64"}."""
        body = await _body(request)
        try:
            data = base64.b64decode(_text(body, "content_base64"), validate=True)
        except (binascii.Error, ValueError):
            raise Problem(400, "portal-bad-request", "'content_base64' is not base64",
                          "encode the file with base64",
                          errors=[{"field": "$.content_base64",
                                   "message": "not base64"}]) from None
        message_id = await channel.import_document(
            data, _text(body, "agency"), _filename(body),
            by=_text(body, "by", required=False))
        record = await channel.stored(message_id)
        answer: dict[str, Any] = {"message_id": message_id}
        if record is not None:
            answer.update(transport_state=record.transport_state.value,
                          kind=record.document_kind, business_state=record.business_state,
                          error=record.last_error)
        return web.json_response(answer, status=201)

    return [
        web.get("/tasks", _guard(list_tasks, (200, "The tasks.", _TASK_LIST), _BAD,
                                 query=(_STATE,))),
        web.get("/tasks/{task_id}", _guard(show_task, (200, "The task.", _TASK_SHOWN),
                                           _UNKNOWN)),
        web.get("/tasks/{task_id}/bundle", _guard(bundle, (200, "The bundle.", _BUNDLE),
                                                  _UNKNOWN)),
        web.post("/tasks/{task_id}/done", _guard(done, (200, "The task, submitted.", _TASK),
                                                 _BAD, _UNKNOWN, _CLOSED, body=_DONE)),
        web.post("/tasks/{task_id}/cancel", _guard(cancel, (200, "The task, cancelled.", _TASK),
                                                   _BAD, _UNKNOWN, _CLOSED, body=_CANCEL)),
        web.post("/import", _guard(import_document,
                                   (201, "Stored: message_id and its state.", _IMPORTED),
                                   _BAD, body=_IMPORT)),
    ]
