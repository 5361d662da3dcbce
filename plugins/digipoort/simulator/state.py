"""The state folder: each aanlever process as one JSON file, read back at the next start.

A real Digipoort keeps its processes; a simulator that forgot them at a
restart (``make run`` restarts it with the gateway) answered every status
question about an earlier kenmerk with ``STS100 onbekend kenmerk``, and those
invoices never reached their final status. The file holds what the process
needs to answer status questions as before and to finish its walk: the
aanleverRequest as received, scenario, aangeleverd, the statuses so far,
which of them each caller fetched, and ``stall_after``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.errors import GatewayError
from gateway.statefolder import field, load_records, record_of
from gateway.xmlsafe import parse_xml

from ..wus import berichtsoorten
from ..wus import koppelvlak as kv
from . import scenarios as sc
from .processes import Process, StatusEvent

log = logging.getLogger(__name__)

STATE_VERSION = 1
# The request's payload travels inside it; the safe parser's default limit is smaller than
# what the AanleverService takes in (its client_max_size).
MAX_REQUEST_BYTES = 64 * 1024 * 1024

def _event_state(event: StatusEvent) -> dict[str, Any]:
    return {
        "code": event.code,
        "tijdstempel": event.tijdstempel.isoformat(),
        "omschrijving": event.omschrijving,
        "fout": None if event.fout is None else {"foutcode": event.fout.foutcode,
                                                 "foutbeschrijving": event.fout.foutbeschrijving},
        "details": event.details,
    }


def state_of(process: Process, pending: Sequence[StatusEvent] = ()) -> bytes:
    """A process as its file in the state folder holds it, with ``pending`` statuses after
    its own (kept before the process shows them)."""
    request = etree.tostring(process.request.to_element(), encoding="unicode")
    return json.dumps({
        "version": STATE_VERSION,
        "kenmerk": process.kenmerk,
        "scenario": process.scenario,
        "aangeleverd": process.aangeleverd.isoformat(),
        "stall_after": process.stall_after,
        "statuses": [_event_state(event) for event in [*process.statuses, *pending]],
        "fetched": process.fetched,
        "request": request,
    }, indent=1).encode()


def _moment(record: dict[str, Any], key: str, where: str = "") -> datetime:
    text = field(record, key, str, where=where)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"'{where}{key}' is no ISO 8601 moment: {text!r}") from None
    # Compared with the vanaf/tot of status requests, which carry a time zone.
    if moment.tzinfo is None:
        raise ValueError(f"'{where}{key}' has no time zone: {text!r}")
    return moment


def _event_from(record: Any, index: int) -> StatusEvent:
    where = f"statuses[{index}]."
    if not isinstance(record, dict):
        raise ValueError(f"'statuses[{index}]' must be an object, not {record!r}")
    fout_record = record.get("fout")
    fout = None
    if fout_record is not None:
        if not isinstance(fout_record, dict):
            raise ValueError(f"'{where}fout' must be null or an object, not {fout_record!r}")
        fout = kv.Fout(field(fout_record, "foutcode", str, where=f"{where}fout."),
                       field(fout_record, "foutbeschrijving", str, where=f"{where}fout."))
    return StatusEvent(field(record, "code", str, where=where),
                       _moment(record, "tijdstempel", where),
                       field(record, "omschrijving", str, where=where), fout,
                       field(record, "details", str, optional=True, where=where))


def process_from_state(data: bytes) -> Process:
    """A process back from its file; ValueError (or a GatewayError for the request's XML)
    naming what is wrong."""
    record = record_of(data, STATE_VERSION)
    kenmerk = field(record, "kenmerk", str)
    scenario = field(record, "scenario", str)
    if scenario not in sc.SCENARIOS:
        raise ValueError(f"'scenario' is {scenario!r}, not one of {', '.join(sc.SCENARIOS)}")
    statuses = [_event_from(event, index)
                for index, event in enumerate(field(record, "statuses", list))]
    # The walk takes up its steps after these two, which come with the aanleverResponse.
    if [event.code for event in statuses[:2]] != ["105", "100"]:
        raise ValueError("'statuses' must begin with 105 and 100")
    fetched = field(record, "fetched", dict)
    for caller, seen in fetched.items():
        if not isinstance(seen, int) or isinstance(seen, bool) or not 0 <= seen <= len(statuses):
            raise ValueError(f"'fetched' of caller {caller!r} is {seen!r}, expected a number "
                             f"from 0 to {len(statuses)}")
    try:
        request = kv.AanleverRequest.from_element(
            parse_xml(field(record, "request", str).encode(),
                      max_bytes=MAX_REQUEST_BYTES).getroot())
        berichtsoorten.by_name(request.berichtsoort)
    except kv.KoppelvlakError as exc:
        raise ValueError(f"'request' is no aanleverRequest: {exc}") from None
    except berichtsoorten.UnknownBerichtsoort as exc:
        raise ValueError(f"'request': {exc.args[0]}") from None
    except GatewayError as exc:
        raise ValueError(f"'request' is no XML document: {exc}") from None
    process = Process(kenmerk, request, scenario, _moment(record, "aangeleverd"),
                      fetched=fetched,
                      stall_after=field(record, "stall_after", str, optional=True))
    for event in statuses:
        process.add(event)  # sets ``done`` when the walk had ended
    return process


def load_state(folder: Path) -> list[Process]:
    """The processes kept in ``folder``; a bad file is named in the log and skipped."""
    return load_records(folder, process_from_state, lambda kept: kept.kenmerk,
                        who="digipoort simulator", what="aanlevering(en)")
