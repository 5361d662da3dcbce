"""The ERP's inbox: decoded inbound documents to fetch, then acknowledge."""

from __future__ import annotations

from aiohttp import web

from gateway.api.auth import OPERATE, READ, SUBMIT
from gateway.api.context import principal_of, store_of
from gateway.api.messages import (
    CURSOR_PARAM,
    DEFAULT_LIMIT,
    TEXT_FILTER,
    choice_param,
    cursor_param,
    limit_param,
    message_id_of,
    page_json,
    text_param,
)
from gateway.api.operations import Answer, Operation, Param, ref
from gateway.api.problems import conflict, not_found
from gateway.api.render import inbox_item, message_link
from gateway.delivery.envelope import envelope
from gateway.kinds import KINDS, Direction
from gateway.store import InvalidTransition, TransportState
from gateway.store.base import MAX_PAGE

# Decoded and not acknowledged. ``decoded`` is what waits for a polling ERP;
# the others are documents a webhook or folder delivery has not (or not
# knowingly) handed over, which the ERP may still fetch.
INBOX_STATES = [TransportState.DECODED.value, TransportState.DELIVERED.value,
                TransportState.RETRYING.value, TransportState.FAILED.value]
# An ERP that works through its inbox takes the documents as they came (an order
# before the agency's change or cancellation of it); newest first stays the
# default that existing callers page by.
ORDERS = ["newest", "oldest"]
# An ERP that takes documents by webhook or folder, and polls at other times (a switch,
# an outage), reads the one shape those deliver: the envelope, with the item's links.
SHAPES = ["item", "envelope"]


async def list_inbox(request: web.Request) -> web.Response:
    """Inbound documents ready for the ERP, newest first unless ``order=oldest``."""
    state = choice_param(request, "state", INBOX_STATES) or TransportState.DECODED.value
    order = choice_param(request, "order", ORDERS) or "newest"
    shape = choice_param(request, "shape", SHAPES) or "item"
    page = await store_of(request).list_messages(
        direction=Direction.INBOUND, transport_state=state,
        kind=choice_param(request, "kind", KINDS), agency_oin=text_param(request, "agency"),
        limit=limit_param(request), cursor=cursor_param(request),
        oldest_first=order == "oldest")
    items = ([inbox_item(r) for r in page.items] if shape == "item" else
             [{**envelope(r), "links": {"self": message_link(r.id)}} for r in page.items])
    return web.json_response(page_json(items, page.next_cursor))


async def acknowledge(request: web.Request) -> web.Response:
    """The ERP has the document: it leaves the inbox. Acknowledging twice is harmless."""
    store = store_of(request)
    message_id = message_id_of(request)
    record = await store.get(message_id)
    if record is None:
        raise not_found(f"no message with id {message_id}")
    if record.direction is not Direction.INBOUND:
        raise conflict(f"message {message_id} is outbound; only inbound documents are "
                       "acknowledged")
    try:
        record = await store.acknowledge(
            message_id, detail={"via": "api", "token": principal_of(request).name})
    except InvalidTransition as exc:
        raise conflict(f"message {message_id} is {record.transport_state} and cannot be "
                       f"acknowledged: {exc}") from None
    return web.json_response({"id": record.id, "transport_state": record.transport_state.value})


_LIST_PARAMS = (
    Param("state", "query", "decoded (default) or a delivery state not yet acknowledged.",
          {"enum": INBOX_STATES, "default": "decoded"}),
    Param("kind", "query", "Document kind (order, ...).", {"type": "string", "enum": KINDS}),
    Param("agency", "query", "The sending agency's OIN.", TEXT_FILTER),
    Param("order", "query", "newest (default) or oldest first: `oldest` takes the "
          "documents in the order they came, and next_cursor then leads to later ones.",
          {"enum": ORDERS, "default": "newest"}),
    Param("shape", "query", "item (default) or envelope: each document as a webhook or "
          "folder delivers it (version, message_id, ..., document), with its links, so that "
          "one reader serves every delivery mode.", {"enum": SHAPES, "default": "item"}),
    Param("limit", "query", f"Page size, 1 to {MAX_PAGE}.",
          {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_LIMIT}),
    CURSOR_PARAM,
)

OPERATIONS = (
    Operation("GET", "/api/v1/inbox", list_inbox, "listInbox",
              "Inbound documents waiting for the ERP", "inbox", frozenset({READ}),
              params=_LIST_PARAMS,
              answers=(Answer(200, "One page, newest first unless order=oldest; its items "
                              "are envelopes with shape=envelope.", ref("InboxPage")),),
              problems=(400,)),
    Operation("POST", "/api/v1/inbox/{id}/ack", acknowledge, "acknowledgeInbox",
              "Acknowledge an inbound document", "inbox", frozenset({SUBMIT, OPERATE}),
              params=(Param("id", "path", "The message id."),),
              answers=(Answer(200, "Acknowledged.", ref("Acknowledged")),),
              problems=(400, 404, 409)),
)
