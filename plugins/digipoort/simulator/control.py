"""The simulator's control API: have it deliver agency documents when asked.

Plain HTTP on ``settings.control_listen`` (``--control-listen``), beside the
WUS services, which take only two-way TLS. It has no authentication: keep it
on loopback. plugins/digipoort/README.md documents it:

``POST /control/deliveries``
    ``{"sample": "order" | "staffing-order" | "timecard", "times": n}``
    (``Content-Type: application/json``), or a document's XML itself (any
    other content type) with ``?times=n`` and ``?berichtsoort=`` (default: the
    berichtsoort of its format). One afleverbericht, delivered ``times`` times
    under one kenmerk to ``settings.deliver_to`` (or offered through the
    OphaalService without it). The answer lists each delivery: 201 when all
    were taken (or queued for pickup), 202 when one waits to be tried again,
    502 when the AfleverService refused one or it was given up.
``GET /control/deliveries``
    Every delivery since the start, oldest first, with its state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Final

from aiohttp import web

from gateway.errors import GatewayError
from gateway.paths import standards_dir as default_standards_dir
from gateway.pipeline.keys import agency_party, party_oin
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry

from ..wus import berichtsoorten
from ..wus import koppelvlak as kv
from .deliveries import GAVE_UP, MAX_TIMES, REFUSED, RETRYING, SAMPLES, Delivery
from .payload import check_payload
from .simulator import DigipoortSimulator

SIMULATOR: Final = web.AppKey("simulator", DigipoortSimulator)
REGISTRY: Final = web.AppKey("registry", Registry)
JSON_KEYS: Final = frozenset({"sample", "times"})
QUERY_KEYS: Final = frozenset({"berichtsoort", "times"})
INBOUND: Final = tuple(b.name for b in berichtsoorten.BERICHTSOORTEN
                       if b.active and b.direction == "inbound")


class Refused(Exception):
    """The request cannot be done: answered with 400 (or ``status``) and this text."""

    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def control_app(simulator: DigipoortSimulator) -> web.Application:
    """The control API of ``simulator``."""
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[SIMULATOR] = simulator
    app[REGISTRY] = simulator.registry or build_registry(make_plugin_manager())
    app.router.add_post("/control/deliveries", _post_deliveries)
    app.router.add_get("/control/deliveries", _list_deliveries)
    return app


def _problem(status: int, title: str, detail: str) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json")


async def _list_deliveries(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR]
    return web.json_response({"deliveries": [d.as_json() for d in simulator.deliveries]})


async def _post_deliveries(request: web.Request) -> web.Response:
    simulator = request.app[SIMULATOR]
    try:
        if request.content_type == "application/json":
            body = await _json(request)
            name = body.get("sample")
            if name not in SAMPLES:
                raise Refused(f"sample must be one of {', '.join(map(repr, SAMPLES))}, "
                              f"not {name!r}")
            times = _times(body.get("times", 1), "times")
            message = sample_message(simulator, request.app[REGISTRY], name)
            what = f"sample {name}"
        else:
            payload, berichtsoort, agency, times = await _posted(request)
            message = _message(simulator, payload, berichtsoort, agency)
            what = "posted document"
    except Refused as refused:
        return _problem(refused.status, "cannot deliver", refused.detail)
    deliveries: list[Delivery] = await simulator.deliver_reliably(message, what, times)
    states = {d.state for d in deliveries}
    status = 502 if states & {REFUSED, GAVE_UP} else 202 if RETRYING in states else 201
    return web.json_response({"deliveries": [d.as_json() for d in deliveries]}, status=status)


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except ValueError as exc:
        raise Refused(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Refused('the body must be a JSON object such as {"sample": "order"}')
    unknown = sorted(set(body) - JSON_KEYS)
    if unknown:
        raise Refused(f"unknown key(s) {', '.join(map(repr, unknown))}; "
                      f"known: {', '.join(sorted(JSON_KEYS))}")
    return body


def _times(value: Any, where: str) -> int:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMES:
        raise Refused(f"{where} must be a whole number from 1 to {MAX_TIMES}, not {value!r}")
    return value


def _agency(document: Any) -> kv.Identiteit | None:
    """The agency a document is from, as Digipoort names the belanghebbende: its OIN."""
    try:
        oin = party_oin(agency_party(document))
    except ValueError:
        return None
    return None if oin is None else kv.Identiteit(oin, "OIN")


def sample_message(simulator: DigipoortSimulator, registry: Registry,
                   name: str) -> kv.AfleverRequest:
    """An afleverbericht carrying the sample ``name`` (a key of ``SAMPLES``)."""
    berichtsoort, format_key = SAMPLES[name]
    fmt = registry.format(format_key)
    sample = fmt.samples()[0]
    payload = sample.data or fmt.encode(sample.document, sample.context)
    return _message(simulator, payload, berichtsoort, _agency(sample.document))


def _message(simulator: DigipoortSimulator, payload: bytes, berichtsoort: str,
             agency: kv.Identiteit | None) -> kv.AfleverRequest:
    pki = simulator.pki
    assert pki is not None
    # The supplier of the simulator's certificates, as the ones it accepts aanleveringen of.
    ontvanger = kv.Identiteit(next(iter(pki.suppliers)), "KvK")
    return simulator.make_afleverbericht(payload, berichtsoort, ontvanger=ontvanger,
                                         agency=agency)


async def _posted(request: web.Request) -> tuple[bytes, str, kv.Identiteit | None, int]:
    simulator = request.app[SIMULATOR]
    registry = request.app[REGISTRY]
    unknown = sorted(set(request.query) - QUERY_KEYS)
    if unknown:
        raise Refused(f"unknown query parameter(s) {', '.join(unknown)}; "
                      f"known: {', '.join(sorted(QUERY_KEYS))}")
    times = _times(request.query.get("times", "1"), "?times")
    payload = await request.read()
    if not payload.strip():
        raise Refused('the body is empty: POST a document\'s XML, or {"sample": "order"} '
                      "as application/json")
    given = request.query.get("berichtsoort")
    try:
        fmt = registry.detect(payload).format
    except GatewayError as exc:
        if given is None or simulator.settings.validate_payload:
            raise Refused(f"the posted document is of no known format: {exc}") from None
        # --no-validate: the berichtsoort given is taken at its word, so a document the
        # gateway must refuse can be rehearsed too.
        return payload, _inbound(given).name, None, times
    if given is None:
        try:
            soort = berichtsoorten.for_document(fmt.kind.value, fmt.key)
        except berichtsoorten.UnknownBerichtsoort as exc:
            raise Refused(f"{exc}; Digipoort delivers {', '.join(INBOUND)}") from None
        if soort.direction != "inbound":
            raise Refused(f"the posted document is a {fmt.key} ({soort.name}), which goes to "
                          f"Digipoort, not from it: Digipoort delivers {', '.join(INBOUND)}")
    else:
        soort = _inbound(given)
    if simulator.settings.validate_payload:
        standards = simulator.settings.standards_dir or default_standards_dir()
        problem = await asyncio.to_thread(check_payload, registry, standards, soort, payload)
        if problem is not None:
            raise Refused(f"the posted document is no valid {soort.name}: {problem}", 422)
    agency = None
    # Undecodable: the gateway says what it makes of it; the settings' agency sends it.
    with contextlib.suppress(GatewayError):
        agency = _agency(fmt.decode(payload).document)
    return payload, soort.name, agency, times


def _inbound(name: str) -> berichtsoorten.Berichtsoort:
    try:
        soort = berichtsoorten.by_name(name)
    except berichtsoorten.UnknownBerichtsoort as exc:
        raise Refused(f"berichtsoort: {exc}") from None
    if not soort.active or soort.direction != "inbound":
        raise Refused(f"berichtsoort {soort.name} is not one Digipoort delivers to a supplier; "
                      f"it delivers {', '.join(INBOUND)}")
    return soort
