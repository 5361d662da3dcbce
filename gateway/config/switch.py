"""Change the route of one document kind for one agency, in the file itself.

Operators keep the configuration under version control and comment it, so
the change is made with ``tomlkit``, which keeps comments and layout. The
edited file must load cleanly, and must differ from the old one only in the
route that was asked for, before it replaces the old file. Each switch is
recorded in the audit log.
"""

from __future__ import annotations

import codecs
import copy
import hashlib
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import tomlkit
import tomlkit.items

from gateway.channels import ChannelType
from gateway.config.audit import AuditLog, default_actor, utc_now_iso
from gateway.config.fit import unfit_routes
from gateway.config.loader import parse_config
from gateway.config.model import DocumentRoute, GatewayConfig
from gateway.errors import ConfigError
from gateway.fileio import write_atomically
from gateway.identifiers import OIN, InvalidIdentifier
from gateway.kinds import DocumentKind

SWITCH_ACTION = "agencies.switch"


def switch_route(
    path: Path | str,
    oin: OIN | str,
    kind: DocumentKind | str,
    channel: str,
    format: str | None = None,
    *,
    actor: str | None = None,
    reason: str | None = None,
    format_keys: Collection[str] | None = None,
    channel_types: Collection[str] | Mapping[str, ChannelType] | None = None,
) -> tuple[DocumentRoute | None, DocumentRoute]:
    """Route ``kind`` for agency ``oin`` over ``channel`` (and ``format``, if given).

    Returns the old route (None if the kind was not routed before; adding a
    route then needs ``format``) and the new one. When the route is already
    what was asked for, nothing is written or audited and old equals new.
    With ``format_keys`` / ``channel_types`` (from the plugin registry) the new
    route's format and channel type must also be installed; other routes are
    not checked here, so one missing plugin does not block every switch. Given
    the channel types themselves (the registry's ``channels``), the new route's
    channel and fallback channel must also carry its format and reach the agency.
    Any problem raises ConfigError and leaves the file byte for byte as it was.
    """
    file = Path(path).expanduser().absolute()
    original = _read(file)
    # A byte order mark (Windows editors save one) is kept, as the gateway reads past it.
    mark = codecs.BOM_UTF8 if original.startswith(codecs.BOM_UTF8) else b""
    text = original[len(mark):].decode("utf-8")
    try:
        current = parse_config(text, file)
    except ConfigError as exc:
        raise ConfigError(
            f"the configuration is invalid; fix it before switching routes: {exc.message}",
            file=exc.file, line=exc.line, key=exc.key,
        ) from None

    agency_oin = _parse_oin(oin, file)
    document_kind = _parse_kind(kind, file)
    agency = current.agency(agency_oin)
    if agency is None:
        configured = ", ".join(a.label for a in current.agencies.values()) or "none"
        raise ConfigError(
            f"no agency with OIN {agency_oin} is configured (configured: {configured})",
            file=str(file),
        )
    _check_channel(current, channel)
    old = agency.documents.get(document_kind)
    if old is None and format is None:
        raise ConfigError(
            f"{agency.label} has no route for {document_kind.value} yet; give a format to add one",
            file=str(file),
        )
    if old is not None and old.channel == channel and format in (None, old.format):
        return old, old

    new_text = _edited_text(text, file, agency_oin, document_kind, channel, format)
    try:
        updated = parse_config(new_text, file)
    except ConfigError as exc:
        raise ConfigError(
            f"switch refused, the file is unchanged: after the switch {exc.message}",
            file=exc.file, line=exc.line, key=exc.key,
        ) from None
    updated_agency = updated.agency(agency_oin)
    assert updated_agency is not None
    new = updated_agency.documents[document_kind]
    _check_installed(updated, new, format_keys, channel_types)
    if isinstance(channel_types, Mapping):
        formats = format_keys if isinstance(format_keys, Mapping) else None
        unfit = unfit_routes(updated, channel_types, formats=formats,
                             only=(agency_oin, document_kind))
        if unfit:
            raise ConfigError(f"switch refused, the file is unchanged: {unfit[0].message}",
                              file=str(file))

    data = mark + new_text.encode("utf-8")
    # Someone may have saved the file while we worked; replacing it would lose their change.
    if _read(file) != original:
        raise ConfigError(
            "the file changed while the switch was being prepared; nothing was written, "
            "try again",
            file=str(file),
        )
    # Every switch is audited: a log that cannot take the record stops it before the file
    # changes, rather than leave a switch in force that no record explains.
    audit = AuditLog(updated.gateway.audit_log)
    try:
        audit.check_writable()
    except OSError as exc:
        raise ConfigError(
            f"nothing was switched: the audit log {updated.gateway.audit_log} cannot be "
            f"written: {exc.strerror or exc}", file=str(file)) from None
    # Write through a symlink (a file kept in a repository, a ConfigMap-style link):
    # renaming over the link itself would turn it into a plain file and leave the real
    # configuration unchanged.
    write_atomically(file.resolve(), data)

    record = {
        "time": utc_now_iso(),
        "actor": actor or default_actor(),
        "action": SWITCH_ACTION,
        "oin": str(agency_oin),
        "kind": document_kind.value,
        "old": None if old is None else old.to_dict(),
        "new": new.to_dict(),
        "reason": reason,
        "config_file": str(file),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    try:
        audit.append(record)
    except OSError as exc:
        raise ConfigError(
            f"the route was switched, but the audit log {updated.gateway.audit_log} could not "
            f"be written: {exc.strerror}",
            file=str(file),
        ) from None
    return old, new


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise ConfigError("configuration file not found", file=str(file)) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the configuration file: {exc.strerror}", file=str(file)
        ) from None


def _parse_oin(oin: OIN | str, file: Path) -> OIN:
    if isinstance(oin, OIN):
        return oin
    try:
        return OIN(oin)
    except InvalidIdentifier as exc:
        raise ConfigError(f"{oin!r} is not a valid OIN: {exc.reason}", file=str(file)) from None


def _parse_kind(kind: DocumentKind | str, file: Path) -> DocumentKind:
    if isinstance(kind, DocumentKind):
        return kind
    try:
        return DocumentKind.parse(kind)
    except ValueError as exc:
        raise ConfigError(str(exc), file=str(file)) from None


def _check_channel(config: GatewayConfig, name: str) -> None:
    channel = config.channels.get(name)
    if channel is None:
        defined = ", ".join(sorted(config.channels)) or "none"
        raise ConfigError(
            f"channel {name!r} is not defined in [channels] (defined: {defined})",
            file=str(config.path), key=f"channels.{name}",
        )
    if not channel.enabled:
        # Routing would silently use the fallback instead; say so now.
        raise config.error(
            f"channel {name!r} is disabled; enable it before routing documents to it",
            ("channels", name, "enabled"),
        )


def _check_installed(
    config: GatewayConfig, new: DocumentRoute, format_keys: Collection[str] | None,
    channel_types: Collection[str] | Mapping[str, ChannelType] | None,
) -> None:
    if format_keys is not None and new.format not in format_keys:
        installed = ", ".join(sorted(format_keys)) or "none"
        raise ConfigError(
            f"switch refused, the file is unchanged: no installed plugin provides the format "
            f"{new.format!r} (installed: {installed})",
            file=str(config.path),
        )
    channel_type = config.channels[new.channel].type
    if channel_types is not None and channel_type not in channel_types:
        installed = ", ".join(sorted(channel_types)) or "none"
        raise ConfigError(
            f"switch refused, the file is unchanged: no installed plugin provides the channel "
            f"type {channel_type!r} of channel {new.channel!r} (installed: {installed})",
            file=str(config.path),
        )


def _edited_text(
    text: str, file: Path, oin: OIN, kind: DocumentKind, channel: str, format_key: str | None
) -> str:
    """``text`` with the route changed, or ConfigError if tomlkit cannot do it cleanly."""
    expected = _expected_data(tomllib.loads(text), oin, kind, channel, format_key)
    for inline in (False, True):
        document = tomlkit.parse(text)
        _apply(document, oin, kind, channel, format_key, inline=inline)
        candidate = tomlkit.dumps(document)
        try:
            if tomllib.loads(candidate) == expected:
                return candidate
        except tomllib.TOMLDecodeError:
            pass
    raise ConfigError(
        f"cannot edit the route of {kind.value} for {oin} in this file's layout without "
        "changing something else; edit the file by hand",
        file=str(file),
    )


def _agency_key(agencies: dict[str, Any], oin: OIN) -> str:
    # The file may spell the OIN with spaces or dots; OIN() normalises.
    for key in agencies:
        try:
            if OIN(key) == oin:
                return key
        except InvalidIdentifier:
            continue
    raise KeyError(str(oin))


def _expected_data(
    data: dict[str, Any], oin: OIN, kind: DocumentKind, channel: str, format_key: str | None
) -> dict[str, Any]:
    data = copy.deepcopy(data)
    agency = data["agencies"][_agency_key(data["agencies"], oin)]
    route = agency.setdefault("documents", {}).setdefault(kind.value, {})
    route["channel"] = channel
    if format_key is not None:
        route["format"] = format_key
    return data


def _set_in_table(table: Any, key: str, value: str) -> None:
    """Set ``key``; a new key goes right after the table's last key, not after the blank
    lines and comments that tomlkit counts as the table's tail (they introduce the next
    table)."""
    if key in table or not isinstance(table, tomlkit.items.Table):
        table[key] = value
        return
    body = table.value.body
    last = max((i for i, (k, _) in enumerate(body) if k is not None), default=-1)
    if last + 1 >= len(body):
        table[key] = value
    else:
        table.value._insert_at(last + 1, key, value)


def _apply(
    document: tomlkit.TOMLDocument, oin: OIN, kind: DocumentKind, channel: str,
    format_key: str | None, *, inline: bool,
) -> None:
    agencies: Any = document["agencies"]
    agency = agencies[_agency_key(agencies, oin)]
    if "documents" not in agency:
        agency["documents"] = tomlkit.table(is_super_table=True)
    documents = agency["documents"]
    if kind.value in documents:
        route = documents[kind.value]
        _set_in_table(route, "channel", channel)
        if format_key is not None:
            _set_in_table(route, "format", format_key)
        return
    assert format_key is not None  # checked by switch_route before editing
    new_route: tomlkit.items.Table | tomlkit.items.InlineTable
    if inline:
        new_route = tomlkit.inline_table()
        new_route.update({"channel": channel, "format": format_key})
    else:
        new_route = tomlkit.table()
        new_route.add("channel", channel)
        new_route.add("format", format_key)
        new_route.add(tomlkit.nl())
    documents[kind.value] = new_route
