"""A folder of JSON records, one file per id: what a simulator keeps across its restarts.

The simulators that ship with the gateway (Digipoort, a Peppol access point)
keep what they were sent the way the real systems do, so that a restart of
``make run`` loses no transmission. Each keeps one file per record, written
atomically (:func:`gateway.fileio.write_atomically`), and reads them all back
at its start; this module holds what they share: the file name for an id,
the reading back, and the typed reading of a record's fields.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from gateway.errors import GatewayError

T = TypeVar("T")

log = logging.getLogger(__name__)

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,150}")
_NOT_PLAIN = re.compile(r"[^A-Za-z0-9_-]+")


def record_file_name(ident: str) -> str:
    """The name of the file that keeps the record ``ident`` in its folder.

    An id may be a sender's free text: it is used as it is only when it is a
    plain file name; otherwise a cleaned-up form and a hash of it, joined by a
    ``~`` that no plain name has, so two ids never share a file and none
    reaches outside the folder.
    """
    if _PLAIN_NAME.fullmatch(ident):
        return f"{ident}.json"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:32]
    return f"{_NOT_PLAIN.sub('_', ident)[:100]}~{digest}.json"


def load_records(folder: Path, read: Callable[[bytes], T], ident_of: Callable[[T], str], *,
                 who: str, what: str) -> list[T]:
    """The records kept in ``folder`` (created when missing), each read by ``read``.

    A file that cannot be read back (``read`` raises ValueError or a
    GatewayError naming what is wrong), or that holds another id than its name
    says, is named in a warning of ``who`` and skipped: one damaged file does
    not take the others down with it. ``what`` names the records in the log.
    """
    folder.mkdir(parents=True, exist_ok=True)
    found = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):  # write_atomically's temporary files
            continue
        try:
            record = read(path.read_bytes())
            expected = record_file_name(ident_of(record))
            if path.name != expected:
                raise ValueError(f"it holds {ident_of(record)!r}, whose file is {expected}")
        except (OSError, ValueError, GatewayError) as exc:
            log.warning("%s: skipped %s in the state folder: %s", who, path, exc)
            continue
        found.append(record)
    log.info("%s: %d %s taken up from %s", who, len(found), what, folder)
    return found


def record_of(data: bytes, version: int) -> dict[str, Any]:
    """The JSON object of a record's file, written at ``version``; ValueError naming what
    is wrong (no JSON, no object, another version)."""
    record = json.loads(data)  # json.JSONDecodeError is a ValueError
    if not isinstance(record, dict):
        raise ValueError("the file holds no JSON object")
    if record.get("version") != version:
        raise ValueError(f"'version' is {record.get('version')!r}, expected {version}")
    return record


def field(record: dict[str, Any], key: str, kind: type, *, optional: bool = False,
          where: str = "") -> Any:
    """``record[key]`` if it is a ``kind`` (null too, when ``optional``); else ValueError
    naming ``where`` + ``key``. A bool is no int here, and an int no bool."""
    value = record.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        article = "an" if kind.__name__[0] in "aeiou" else "a"
        raise ValueError(f"'{where}{key}' must be {'null or ' if optional else ''}{article} "
                         f"{kind.__name__}, not {value!r}")
    return value
