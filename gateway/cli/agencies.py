"""``gateway agencies``: look at the agency directory and switch routes.

The configuration path comes from the main group (``ctx.obj.config_path``).
These commands work on the file directly, so they also work where no gateway
runs; a running gateway picks up a switch by itself when the file changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from gateway.channels import ChannelType
from gateway.cli.context import CliContext
from gateway.cli.output import echo_json, echo_table
from gateway.config import GatewayConfig, check_against_registry, load_config, switch_route
from gateway.config.fit import unfit_routes
from gateway.config.model import Agency, Contact
from gateway.errors import GatewayError
from gateway.formats import Format
from gateway.kinds import DocumentKind
from gateway.paths import default_config_path
from gateway.routing import RouteDecision, RoutingError, find_agency, route

_KIND_CHOICE = click.Choice([k.value for k in DocumentKind], case_sensitive=False)


def _config_path(ctx: click.Context) -> Path:
    path = getattr(ctx.obj, "config_path", None)
    return Path(path) if path is not None else default_config_path()


def _load(ctx: click.Context) -> GatewayConfig:
    try:
        return load_config(_config_path(ctx))
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from None


def _agency(config: GatewayConfig, oin: str) -> Agency:
    try:
        return find_agency(config, oin)
    except RoutingError as exc:
        raise click.ClickException(str(exc)) from None


def _channel_label(config: GatewayConfig, name: str | None) -> str:
    if name is None:
        return "-"
    return name if config.channels[name].enabled else f"{name} (disabled)"


def _contact_line(contact: Contact) -> str:
    text = contact.name
    if contact.role:
        text += f" ({contact.role})"
    if contact.email:
        text += f" <{contact.email}>"
    if contact.telephone:
        text += f" {contact.telephone}"
    return text


def _decision_or_error(config: GatewayConfig, agency: Agency, kind: DocumentKind) -> (
    RouteDecision | RoutingError
):
    try:
        return route(config, agency.oin, kind)
    except RoutingError as exc:
        return exc


@click.group(name="agencies")
def agencies() -> None:
    """The agency directory: who we trade with, over which channel, in which format."""


@agencies.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def list_agencies(ctx: click.Context, as_json: bool) -> None:
    """List the agencies with the channel and format of each document kind.

    Exit status 1 when a route's format or an enabled channel's type is not
    provided by any installed plugin (the list is printed all the same).
    """
    config = _load(ctx)
    if as_json:
        echo_json([a.to_dict() for a in config.agencies.values()])
        _refuse_unprovided(ctx, config)
        return
    if not config.agencies:
        click.echo(f"no agencies configured in {config.path}")
        _refuse_unprovided(ctx, config)
        return
    rows: list[list[str]] = []
    for agency in config.agencies.values():
        name = agency.name if agency.short_name is None else f"{agency.short_name}: {agency.name}"
        if not agency.documents:
            rows.append([str(agency.oin), name, "-", "-", "-", "-"])
        for i, (kind, document) in enumerate(agency.documents.items()):
            rows.append([
                str(agency.oin) if i == 0 else "",
                name if i == 0 else "",
                kind.value,
                _channel_label(config, document.channel),
                document.format,
                _channel_label(config, document.fallback_channel),
            ])
    echo_table(["OIN", "NAME", "DOCUMENT", "CHANNEL", "FORMAT", "FALLBACK"], rows)
    _refuse_unprovided(ctx, config)


def _refuse_unprovided(ctx: click.Context, config: GatewayConfig) -> None:
    """Exit 1 naming each route format and channel type no installed plugin provides,
    and each route whose channel or fallback cannot carry its format or address its agency.

    The file loaded cleanly, but `gateway run` would refuse such a route or
    channel: checking a file should say so before the gateway does.
    """
    obj = ctx.find_object(CliContext)
    if obj is None:
        return
    registry = obj.registry
    problems = check_against_registry(config, registry.formats, set(registry.channels))
    problems += unfit_routes(config, registry.channels, formats=registry.formats)
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    if problems:
        ctx.exit(1)


@agencies.command()
@click.argument("oin")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx: click.Context, oin: str, as_json: bool) -> None:
    """Show one agency: contacts, and the route of each document kind with its reasons."""
    config = _load(ctx)
    agency = _agency(config, oin)
    decisions = {kind: _decision_or_error(config, agency, kind) for kind in agency.documents}
    if as_json:
        data: dict[str, Any] = agency.to_dict()
        data["routes"] = {
            kind.value: d.to_dict() if isinstance(d, RouteDecision) else {"error": str(d)}
            for kind, d in decisions.items()
        }
        echo_json(data)
        return

    title = agency.name if agency.short_name is None else f"{agency.name} ({agency.short_name})"
    lines = [
        title,
        f"  OIN:               {agency.oin}",
        f"  Peppol id:         {agency.peppol_id}",
        f"  E-mail:            {agency.email or '-'}",
        f"  Default channel:   {_channel_label(config, agency.default_channel)}",
        f"  Fallback channel:  {_channel_label(config, agency.fallback_channel)}",
    ]
    if agency.format_pins:
        pins = ", ".join(f"{s} = {v}" for s, v in agency.format_pins.items())
        lines.append(f"  Format pins:       {pins}")
    lines.append("  Contacts:" if agency.contacts else "  Contacts:          -")
    lines.extend(f"    {_contact_line(c)}" for c in agency.contacts)
    lines.append("  Routes:" if decisions else "  Routes:            - (no document kinds)")
    for kind, decision in decisions.items():
        if isinstance(decision, RoutingError):
            lines.append(f"    {kind.value}: cannot be routed: {decision}")
            continue
        lines.append(f"    {kind.value}: {_summary(decision)}")
        lines.extend(f"      - {reason}" for reason in decision.explanation)
    click.echo("\n".join(lines))


def _summary(decision: RouteDecision) -> str:
    text = f"channel {decision.channel}"
    if decision.channel_type != decision.channel:
        text += f" (type {decision.channel_type})"
    text += f", format {decision.format}"
    if decision.fallback_channel is not None:
        text += f", fallback {decision.fallback_channel}"
    return text


@agencies.command(name="route")
@click.argument("oin")
@click.option("--document", "-d", "kind", required=True, type=_KIND_CHOICE,
              help="The document kind, e.g. invoice.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
@click.pass_context
def route_command(ctx: click.Context, oin: str, kind: str, as_json: bool) -> None:
    """Show where a document of KIND for agency OIN would go, and why."""
    config = _load(ctx)
    try:
        decision = route(config, oin, kind)
    except RoutingError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json(decision.to_dict())
        return
    click.echo(f"{decision.kind.value} for {decision.agency_oin} ({decision.agency_name}): "
               f"{_summary(decision)}")
    click.echo("why:")
    for reason in decision.explanation:
        click.echo(f"  - {reason}")


@agencies.command()
@click.argument("oin")
@click.option("--document", "-d", "kind", required=True, type=_KIND_CHOICE,
              help="The document kind whose route changes, e.g. invoice.")
@click.option("--channel", required=True, help="The channel name from [channels] to use.")
@click.option("--format", "format_key", default=None,
              help="A new format key (standard:document:version); default: keep the current one.")
@click.option("--reason", default=None, help="Why, for the audit log.")
@click.option("--actor", default=None, help="Who, for the audit log; default: $USER@hostname.")
@click.pass_context
def switch(
    ctx: click.Context, oin: str, kind: str, channel: str, format_key: str | None,
    reason: str | None, actor: str | None,
) -> None:
    """Route document KIND for agency OIN over another channel (and format).

    The file is edited in place, keeping its comments, only if the result is
    a valid configuration; the change is recorded in the audit log. A route
    whose channel or fallback channel cannot carry its format (UBL-OHNL to
    Peppol), or has no address for the agency (e-mail), is refused.
    """
    path = _config_path(ctx)
    format_keys: Mapping[str, Format] | None = None
    channel_types: Mapping[str, ChannelType] | None = None
    try:
        # The main group's context knows the installed plugins; a bare test context may not.
        registry = getattr(ctx.obj, "registry", None)
        if registry is not None:
            format_keys, channel_types = registry.formats, registry.channels
        old, new = switch_route(
            path, oin, kind, channel, format_key, actor=actor, reason=reason,
            format_keys=format_keys, channel_types=channel_types,
        )
        config = load_config(path)
    except GatewayError as exc:
        raise click.ClickException(str(exc)) from None
    agency = config.agency(oin)
    label = agency.label if agency is not None else oin
    after = f"{new.channel}, {new.format}"
    if old == new:
        click.echo(f"{new.kind.value} for {label} already goes over {after}; nothing changed")
        return
    before = "not routed" if old is None else f"{old.channel}, {old.format}"
    click.echo(f"{new.kind.value} for {label}: {before} -> {after}")
    click.echo(f"written to {config.path}; recorded in {config.gateway.audit_log}; a running "
               "gateway takes it up within a second")
