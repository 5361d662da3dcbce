"""``POST /api/v1/outbound/{agency_oin}``: the ERP submits a canonical document."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from aiohttp import web

from gateway.api.auth import SUBMIT
from gateway.api.body import read_body
from gateway.api.context import max_request_bytes, service_of, store_of, workers_died
from gateway.api.operations import Answer, Operation, Param, ref
from gateway.api.problems import STARTING_RETRY_AFTER, Problem, bad_request, unavailable
from gateway.api.render import message_link, submit_answer
from gateway.api.schemas import any_canonical_document
from gateway.errors import GatewayError
from gateway.model.json import ROOT, CanonicalJSONError, parse_json
from gateway.pipeline import DocumentRejected, DocumentTooLarge, NumberTaken
from gateway.store import Store, TransportState
from gateway.validation.pool import ValidationWorkerDied

log = logging.getLogger(__name__)

# Enough for an ERP to see what to fix, small enough to stay a readable answer.
MAX_LISTED_ERRORS = 50
# Rules the OIN in the request path breaks: an error for one names the agency_oin field.
AGENCY_PATH_RULES = frozenset({"agency-oin-invalid", "agency-oin-mismatch", "agency-unknown"})


def json_path(path: str) -> str:
    """A canonical-model error path (``lines[0].price``) as a JSON path (``$.lines[0].price``)."""
    if not path or path == ROOT:
        return "$"
    return f"${path}" if path.startswith("[") else f"$.{path}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


async def rejection_problem(store: Store, exc: DocumentRejected) -> Problem:
    """422 naming the field at fault (canonical model) or the rules broken (validation)."""
    errors: list[dict[str, Any]] = []
    # The pipeline raises while handling the model's error, which carries the path, or
    # from one it made to locate the fault (the buyer OIN at $.buyer.ids[0].value).
    located = next((c for c in _causes(exc) if isinstance(c, CanonicalJSONError)), None)
    if located is not None:
        at: dict[str, Any] = {"field": json_path(located.path), "message": located.problem}
        if len(exc.rules) == 1:  # a located check breaks one rule: named with its place
            at["rule"] = exc.rules[0]
        errors.append(at)
    if exc.stage == "validate" and exc.message_id is not None:
        record = await store.get(exc.message_id)
        findings = ((record.validation or {}).get("findings", []) if record else [])
        for finding in findings:
            if finding.get("severity") in ("fatal", "error"):
                errors.append({"rule": finding.get("rule"), "field": finding.get("location"),
                               "message": finding.get("text")})
    elif exc.details:
        for rule, text, path in exc.details:
            # A total the ERP stated wrongly is one field it can point its user at.
            errors.append({"rule": rule, "message": text} if path is None else
                          {"field": json_path(path), "rule": rule, "message": text})
    elif located is None:  # a located error names its rule already
        errors.extend({"rule": rule, "message": exc.reason} for rule in exc.rules)
    for error in errors:
        # The agency rules are about the OIN in the request path, unless the error points
        # at an OIN in the document (the buyer's), which is then the field named.
        if error.get("rule") in AGENCY_PATH_RULES and "field" not in error:
            error["field"] = "agency_oin"  # the path parameter
    extra: dict[str, Any] = {"stage": exc.stage, "rules": list(exc.rules)}
    if exc.message_id is not None:
        extra["message_id"] = exc.message_id
        extra["links"] = {"message": message_link(exc.message_id)}
    return Problem(422, "document-rejected", "The document was rejected", exc.reason,
                   errors=errors[:MAX_LISTED_ERRORS], extra=extra)


# What the ERP can do about a stored message that holds the number, by its state.
_TAKEN_ADVICE = {
    TransportState.SENT: "It went out to the agency: correct it the way the agency takes "
                         "corrections (an invoice by a credit note), under a new number.",
    TransportState.CANCELLED: "It was cancelled, which keeps its number: send the document "
                              "under a new number.",
}
_TAKEN_DEFAULT_ADVICE = (
    "It is on its way or waits for an operator: send the changed document under a new "
    "number, and have an operator cancel the stored one if it must not go out.")


def number_taken_problem(exc: NumberTaken) -> Problem:
    """409 naming the stored message that holds the number, its state and what to do."""
    existing = exc.existing
    advice = _TAKEN_ADVICE.get(existing.transport_state, _TAKEN_DEFAULT_ADVICE)
    return Problem(
        409, "number-taken", "The document number is taken by another document",
        f"{exc}. A document number names one document, and a repeat must be that document "
        f"again: nothing was stored. {advice}",
        errors=[{"field": json_path(exc.field), "rule": "number-taken",
                 "message": f"{exc.number!r} is the number of message {existing.id}, "
                            "a different document"}],
        extra={"message_id": existing.id, "transport_state": existing.transport_state.value,
               "business_state": existing.business_state,
               "links": {"message": message_link(existing.id)}})


def _parsed(raw: bytes) -> Any:
    """The body as the pipeline reads it, or None to leave the judging to the pipeline.

    A body that is no JSON at all is answered 400 here. One that is JSON the
    pipeline refuses (a repeated key, NaN, not UTF-8) goes to it unparsed, to
    be stored as rejected and answered 422.
    """
    try:
        return parse_json(raw.decode("utf-8"))
    except (UnicodeDecodeError, CanonicalJSONError):
        pass
    try:
        json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # or bytes that are no text
        raise bad_request(f"the body is not JSON: {exc}", "$", slug="not-json") from None
    except (ValueError, RecursionError):
        pass  # JSON beyond what the reader takes (a huge number): the pipeline says so
    return None


async def submit(request: web.Request) -> web.Response:
    """Store one canonical document for an agency; answer once it is durably stored."""
    service = service_of(request)
    store = store_of(request)
    pipeline = service.outbound
    if pipeline is None:
        raise unavailable("the outbound pipeline is not running yet: the gateway is starting",
                          retry_after=STARTING_RETRY_AFTER)
    limit = max_request_bytes(request)
    raw = await read_body(request, limit)
    parsed = _parsed(raw)
    agency = request.match_info["agency_oin"]
    try:
        record, created = await pipeline.submit(raw, agency_oin=agency, parsed=parsed)
    except DocumentTooLarge as exc:
        limit = pipeline.settings.max_document_bytes
        raise Problem(413, "too-large", "The document is too large",
                      f"the document is {len(raw)} bytes; the gateway takes documents of up "
                      f"to {limit} bytes", extra={"limit": limit}) from exc
    except DocumentRejected as exc:
        raise await rejection_problem(store, exc) from None
    except NumberTaken as exc:
        raise number_taken_problem(exc) from None
    except GatewayError as exc:
        # Validation that cannot run, a database that is down: not the document's fault,
        # nothing is stored, and the ERP may try again. Only when workers died does the
        # gateway know when: once new ones are warm. Missing standards wait for an operator.
        log.warning("submit failed without a verdict: %s", exc)
        detail = f"the document could not be processed now: {exc}"
        if isinstance(exc, ValidationWorkerDied):
            raise workers_died(request, detail) from None
        raise unavailable(detail) from None
    headers = {"Location": message_link(record.id)}
    if not created:
        headers["Wissel-Duplicate"] = "true"
    return web.json_response(submit_answer(record), status=202 if created else 200,
                             headers=headers)


OPERATIONS = (
    Operation(
        "POST", "/api/v1/outbound/{agency_oin}", submit, "submitOutbound",
        "Submit a document for an agency", "outbound", frozenset({SUBMIT}),
        description=(
            "Checks, routes, encodes and validates one canonical document and stores it for "
            "sending. Idempotent on the business key (supplier, agency, kind, number; a "
            "corrected timecard's number carries a digest of its content, so each correction "
            "is new; a staffing confirmation's holds the order it confirms): a repeat, the "
            "same document again, answers 200 with the stored message "
            "and `Wissel-Duplicate: true`. The same document is judged on its canonical "
            "values, so key order, spacing and how a decimal is written do not matter. A "
            "different document under the number of a stored message is refused with 409 "
            "(`number-taken`), naming that message and its state, and nothing is stored. A "
            "rejected message holds no number: a corrected document may use it again. A "
            "document that fails a check is stored as rejected and answered with 422; so "
            "is an invoice billing more hours than the timecard it names approved "
            "(`timecard-hours`, one error per line at `$.lines[i].quantity.value`), or a "
            "timecard the agency rejected (`timecard-not-approved`) or never sent "
            "(`timecard-not-received`, where the agency's `unreceived_timecards` is "
            "\"refuse\"), and an invoice naming an order the agency never sent "
            "(`order-not-received`, where its `unreceived_orders` is \"refuse\")."),
        params=(Param("agency_oin", "path", "The OIN of the receiving agency (20 digits).",
                      {"type": "string", "pattern": "^[0-9]{20}$"}),),
        body=any_canonical_document(),
        body_description="One canonical document; its `document` field names the kind.",
        answers=(
            Answer(202, "Stored and queued for sending.", ref("SubmitAnswer"),
                   {"Location": "The message."}),
            Answer(200, "A repeat of a stored document: the existing message.",
                   ref("SubmitAnswer"), {"Wissel-Duplicate": "true for a repeat."}),
        ),
        problems=(400, 409, 413, 422, 503),
        problem_texts={409: "Another document is stored under this number (supplier, agency "
                            "and kind): message_id names it, transport_state says where it "
                            "is; nothing was stored."},
    ),
)
