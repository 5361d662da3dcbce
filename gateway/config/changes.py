"""What changed between two configurations, as an audit record can show it.

Only names and routes, never values of settings: a channel's settings or the
API token may hold secrets, and the audit log is read by many.
"""

from __future__ import annotations

from typing import Any

import attrs

from gateway.config.model import Agency, GatewayConfig
from gateway.identifiers import PeppolParticipantId


def _as_written(value: Any) -> Any:
    # Peppol ids are equal whatever the case of their value, but go out as written.
    return str(value) if isinstance(value, PeppolParticipantId) else value


def _differ(before: Any, after: Any) -> bool:
    return bool(before != after or _as_written(before) != _as_written(after))


def _changed_fields(old: Any, new: Any) -> list[str]:
    before, after = attrs.asdict(old, recurse=False), attrs.asdict(new, recurse=False)
    return [name for name in before if _differ(before[name], after.get(name))]


START_ONLY: dict[str, tuple[str, ...] | None] = {
    "gateway": ("listen", "database", "data_dir", "standards_dir", "scheduling"),
    "dispatch": None,
    "validation": None,
}
"""Settings the gateway reads once, at start (None: the whole table); a reload leaves them."""


def start_only_changes(started: GatewayConfig, new: GatewayConfig) -> dict[str, list[str]]:
    """The settings of :data:`START_ONLY` that ``new`` changes, by table: in force at the
    next start only."""
    found: dict[str, list[str]] = {}
    for section, keys in START_ONLY.items():
        changed = _changed_fields(getattr(started, section), getattr(new, section))
        changed = [key for key in changed if keys is None or key in keys]
        if changed:
            found[section] = changed
    return found


def _agency_differs(before: Agency, after: Agency) -> bool:
    return before != after or str(before.peppol_id) != str(after.peppol_id)


def written_identifiers(config: GatewayConfig) -> tuple[str, ...]:
    """The configuration's Peppol ids as written: two configurations equal but for the case
    of one of them send something else, so a reload must take the new one as a change."""
    agencies = sorted(config.agencies.items(), key=lambda item: str(item[0]))
    return (str(config.supplier.peppol_id),
            *(f"{oin}={agency.peppol_id}" for oin, agency in agencies))


def config_changes(old: GatewayConfig, new: GatewayConfig) -> dict[str, Any]:
    """A JSON-ready summary of the differences; empty when nothing that matters changed."""
    changes: dict[str, Any] = {}
    routes: list[dict[str, Any]] = []
    for oin in sorted(set(old.agencies) | set(new.agencies), key=str):
        before, after = old.agencies.get(oin), new.agencies.get(oin)
        kinds = set(before.documents if before else ()) | set(after.documents if after else ())
        for kind in sorted(kinds, key=lambda k: k.value):
            was = before.documents.get(kind) if before else None
            now = after.documents.get(kind) if after else None
            if was != now:
                routes.append({
                    "agency": str(oin), "kind": kind.value,
                    "from": None if was is None else was.to_dict(),
                    "to": None if now is None else now.to_dict(),
                })
    if routes:
        changes["routes"] = routes
    agencies = {
        "added": sorted(str(o) for o in set(new.agencies) - set(old.agencies)),
        "removed": sorted(str(o) for o in set(old.agencies) - set(new.agencies)),
        "changed": sorted(str(o) for o in set(old.agencies) & set(new.agencies)
                          if _agency_differs(old.agencies[o], new.agencies[o])),
    }
    if any(agencies.values()):
        changes["agencies"] = {k: v for k, v in agencies.items() if v}
    channels = {
        "added": sorted(set(new.channels) - set(old.channels)),
        "removed": sorted(set(old.channels) - set(new.channels)),
        "changed": sorted(n for n in set(old.channels) & set(new.channels)
                          if old.channels[n] != new.channels[n]),
    }
    if any(channels.values()):
        changes["channels"] = {k: v for k, v in channels.items() if v}
    tokens = {
        "added": sorted(set(new.api.tokens) - set(old.api.tokens)),
        "removed": sorted(set(old.api.tokens) - set(new.api.tokens)),
        "changed": sorted(n for n in set(old.api.tokens) & set(new.api.tokens)
                          if old.api.tokens[n] != new.api.tokens[n]),
    }
    api: dict[str, Any] = {k: v for k, v in tokens.items() if v}
    if old.api.max_request_bytes != new.api.max_request_bytes:
        api["max_request_bytes"] = True
    if api:
        changes["api"] = api
    for section in ("gateway", "supplier", "erp", "dispatch", "validation"):
        keys = _changed_fields(getattr(old, section), getattr(new, section))
        if keys:
            changes[section] = keys
    return changes
