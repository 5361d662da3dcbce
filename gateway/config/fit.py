"""Whether a route can work: its channels carry its format and can address its agency.

A route the transport cannot carry (UBL-OHNL to a Peppol access point), or one
to the e-mail channel for an agency without an address, loads like any other
and then fails every message at send time. These checks find it while the
configuration loads, reloads or is switched, from what each channel type
declares (:attr:`gateway.channels.ChannelType.carries` and ``recipient``).
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.channels import ChannelType, carries_format
from gateway.config.locate import PathPart
from gateway.config.model import Agency, DocumentRoute, GatewayConfig
from gateway.errors import ConfigError
from gateway.formats import Format
from gateway.identifiers import OIN
from gateway.kinds import DocumentKind


def channel_label(config: GatewayConfig, channel: str) -> str:
    """``channel portal``, or ``channel mail (type email)`` where the name is not the type."""
    settings = config.channels.get(channel)
    if settings is None or settings.type == channel:
        return f"channel {channel}"
    return f"channel {channel} (type {settings.type})"


def route_refusal(
    config: GatewayConfig, channel_types: Mapping[str, ChannelType], channel: str,
    format_key: str, agency: Agency, *, formats: Mapping[str, Format] | None = None,
) -> str | None:
    """Why ``format_key`` documents for ``agency`` cannot go over ``channel``; None if they can.

    A channel not configured, or of a type no installed plugin provides, is not
    judged here: the configuration and registry checks name those.
    """
    settings = config.channels.get(channel)
    channel_type = None if settings is None else channel_types.get(settings.type)
    if settings is None or channel_type is None:
        return None
    carries = channel_type.carries
    if carries is not None and not carries_format(carries, format_key):
        fitting = ""
        if formats is not None and format_key in formats:
            kind = formats[format_key].kind
            keys = sorted(key for key, fmt in formats.items()
                          if fmt.serves(kind) and carries_format(carries, key))
            fitting = f"; for {kind.value} that is {', '.join(keys) or 'no installed format'}"
        return (f"it carries formats of {', '.join(sorted(carries))} only (any version)"
                f"{fitting}")
    if channel_type.recipient is not None:
        try:
            address = channel_type.recipient(channel, settings.settings, str(agency.oin),
                                             agency.directory_metadata())
        except ValueError as exc:
            return str(exc)
        if not address:
            return f"it has no address for agency {agency.oin}"
    return None


def unfit_routes(
    config: GatewayConfig, channel_types: Mapping[str, ChannelType], *,
    formats: Mapping[str, Format] | None = None,
    only: tuple[OIN, DocumentKind] | None = None,
) -> list[ConfigError]:
    """An error for each route whose channel or fallback channel cannot carry it.

    ``only`` limits the check to one agency's route of one kind (a switch
    judges the route it changes, not the rest of the file).
    """
    errors: list[ConfigError] = []
    for oin, agency in config.agencies.items():
        for kind, route in agency.documents.items():
            if only is not None and only != (oin, kind):
                continue
            for role, channel, path in _channels_of(agency, route):
                refusal = route_refusal(config, channel_types, channel, route.format,
                                          agency, formats=formats)
                if refusal is not None:
                    errors.append(config.error(
                        f"agency {agency.label}: {kind.value} in format {route.format} "
                        f"cannot go over {role} {channel_label(config, channel)}: {refusal}",
                        path))
    return errors


def _channels_of(
    agency: Agency, route: DocumentRoute,
) -> list[tuple[str, str, tuple[PathPart, ...]]]:
    """The route's channel and fallback channel, each with the key that names it."""
    oin = str(agency.oin)
    table = ("agencies", oin, "documents", route.kind.value)
    found: list[tuple[str, str, tuple[PathPart, ...]]] = [(
        "its", route.channel,
        ("agencies", oin, "default_channel") if route.channel_is_default
        else (*table, "channel"),
    )]
    if route.fallback_channel is not None and route.fallback_channel != route.channel:
        found.append((
            "its fallback", route.fallback_channel,
            ("agencies", oin, "fallback_channel") if route.fallback_is_default
            else (*table, "fallback_channel"),
        ))
    return found


def refuse_unfit_routes(
    config: GatewayConfig, channel_types: Mapping[str, ChannelType], *,
    formats: Mapping[str, Format] | None = None,
) -> None:
    """Raise ConfigError for the first route :func:`unfit_routes` finds, counting the rest."""
    errors = unfit_routes(config, channel_types, formats=formats)
    if not errors:
        return
    first = errors[0]
    if len(errors) == 1:
        raise first
    raise ConfigError(f"{first.message} (and {len(errors) - 1} more route(s) like it; "
                      "`gateway agencies list` names them all)",
                      file=first.file, line=first.line, key=first.key)
