"""Decide where a document for an agency goes, and write down why.

The decision is stored on the message, so an operator asking "why did this
invoice go to the portal?" finds the answer in plain sentences, not by
rereading a configuration that may have changed since.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from gateway.config.locate import format_table_header
from gateway.config.model import Agency, GatewayConfig
from gateway.errors import GatewayError
from gateway.identifiers import OIN, InvalidIdentifier
from gateway.kinds import DocumentKind


class RoutingError(GatewayError):
    """A document cannot be routed: unknown agency, unrouted kind, or no usable channel."""


@attrs.frozen
class RouteDecision:
    """Where one document goes: channel instance, its type, the format, and the reasons."""

    agency_oin: str
    agency_name: str
    kind: DocumentKind
    channel: str
    channel_type: str
    format: str
    # The alternative to the channel, for whoever needs one; None when there is none.
    fallback_channel: str | None
    # True when the configured channel was disabled and the fallback is used instead.
    used_fallback: bool
    config_file: str
    explanation: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "agency": {"oin": self.agency_oin, "name": self.agency_name},
            "kind": self.kind.value,
            "channel": self.channel,
            "channel_type": self.channel_type,
            "format": self.format,
            "fallback_channel": self.fallback_channel,
            "used_fallback": self.used_fallback,
            "config_file": self.config_file,
            "explanation": list(self.explanation),
        }

    def to_json(self) -> str:
        """Compact JSON for storing on the message; :meth:`from_json` reads it back."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RouteDecision:
        return cls(
            agency_oin=data["agency"]["oin"],
            agency_name=data["agency"]["name"],
            kind=DocumentKind(data["kind"]),
            channel=data["channel"],
            channel_type=data["channel_type"],
            format=data["format"],
            fallback_channel=data["fallback_channel"],
            used_fallback=data["used_fallback"],
            config_file=data["config_file"],
            explanation=tuple(data["explanation"]),
        )

    @classmethod
    def from_json(cls, text: str) -> RouteDecision:
        return cls.from_dict(json.loads(text))


def find_agency(config: GatewayConfig, agency_oin: OIN | str) -> Agency:
    """The agency with this OIN, or RoutingError listing the configured ones."""
    try:
        oin = agency_oin if isinstance(agency_oin, OIN) else OIN(agency_oin)
    except InvalidIdentifier as exc:
        raise RoutingError(f"{agency_oin!r} is not a valid OIN: {exc.reason}") from None
    agency = config.agency(oin)
    if agency is None:
        configured = "; ".join(a.label for a in config.agencies.values()) or "none"
        raise RoutingError(
            f"no agency with OIN {oin} in {config.path} (configured agencies: {configured})"
        )
    return agency


# Decisions already made, per configuration. A loaded configuration never changes
# (a reload or a switch makes a new one), so a decision holds for as long as its
# configuration is in use. Keyed by the configuration's identity, which is cheap
# where its value is not; each entry keeps its configuration alive, so the id
# cannot pass to another object while the entry exists. Only the newest few
# configurations are kept.
_DECISIONS: dict[int, tuple[GatewayConfig, dict[tuple[str, str], RouteDecision]]] = {}
_KEPT_CONFIGURATIONS = 4


def route(config: GatewayConfig, agency_oin: OIN | str, kind: DocumentKind | str) -> RouteDecision:
    """Decide channel and format for a ``kind`` document to the agency ``agency_oin``.

    A decision is made once per configuration, agency and kind, then remembered;
    a refusal (RoutingError) is worked out anew each time.
    """
    entry = _DECISIONS.get(id(config))
    if entry is None or entry[0] is not config:
        entry = (config, {})
        _DECISIONS[id(config)] = entry
        while len(_DECISIONS) > _KEPT_CONFIGURATIONS:
            _DECISIONS.pop(next(iter(_DECISIONS)), None)
    decisions = entry[1]
    key = (str(agency_oin), str(kind))
    decision = decisions.get(key)
    if decision is None:
        decision = decisions[key] = _decide(config, agency_oin, kind)
    return decision


def _decide(
    config: GatewayConfig, agency_oin: OIN | str, kind: DocumentKind | str,
) -> RouteDecision:
    agency = find_agency(config, agency_oin)
    try:
        document_kind = kind if isinstance(kind, DocumentKind) else DocumentKind.parse(kind)
    except ValueError as exc:
        raise RoutingError(str(exc)) from None

    table_path = ("agencies", str(agency.oin), "documents", document_kind.value)
    header = format_table_header(table_path)
    document_route = agency.documents.get(document_kind)
    if document_route is None:
        configured = ", ".join(k.value for k in agency.documents) or "none"
        raise RoutingError(
            f"{agency.label} has no route for document kind {document_kind.value} "
            f"(routed kinds for this agency: {configured}); add {header} to {config.path}"
        )

    explanation = [f"agency {agency.label} found in {config.path}"]
    line = config.locator.exact_line(table_path) if config.locator is not None else None
    where = header if line is None else f"{header} (line {line})"
    if document_route.channel_is_default:
        explanation.append(
            f"document kind {document_kind.value} routed by {where}: format "
            f"{document_route.format}, channel {document_route.channel} from the agency's "
            "default_channel"
        )
    else:
        explanation.append(
            f"document kind {document_kind.value} routed by {where}: channel "
            f"{document_route.channel}, format {document_route.format}"
        )

    channel = document_route.channel
    fallback = document_route.fallback_channel
    fallback_source = (
        "the agency's fallback_channel" if document_route.fallback_is_default else header
    )
    used_fallback = False
    if not config.channels[channel].enabled:
        if fallback is None:
            raise RoutingError(
                f"channel {channel} for {document_kind.value} to {agency.label} is disabled "
                f"([channels.{channel}] enabled = false) and no fallback_channel is configured"
            )
        if not config.channels[fallback].enabled:
            raise RoutingError(
                f"channel {channel} for {document_kind.value} to {agency.label} is disabled, "
                f"and so is its fallback channel {fallback}"
            )
        explanation.append(
            f"channel {channel} is disabled ([channels.{channel}] enabled = false); "
            f"using fallback channel {fallback} from {fallback_source}"
        )
        channel, fallback, used_fallback = fallback, None, True
    elif fallback is None:
        explanation.append("no fallback channel configured")
    elif fallback == channel:
        explanation.append(f"fallback channel {fallback} is the channel itself, so none is used")
        fallback = None
    elif not config.channels[fallback].enabled:
        explanation.append(f"fallback channel {fallback} is disabled, so none is used")
        fallback = None
    else:
        explanation.append(f"fallback channel {fallback} (from {fallback_source})")

    channel_type = config.channels[channel].type
    if channel_type != channel:
        explanation.append(f"channel {channel} is of type {channel_type}")

    return RouteDecision(
        agency_oin=str(agency.oin),
        agency_name=agency.name,
        kind=document_kind,
        channel=channel,
        channel_type=channel_type,
        format=document_route.format,
        fallback_channel=fallback,
        used_fallback=used_fallback,
        config_file=str(config.path),
        explanation=tuple(explanation),
    )
