"""``gateway plugins``, ``gateway formats`` and ``gateway channels``."""

from __future__ import annotations

import textwrap
from typing import Any

import attrs
import click

from gateway.cli.context import CliContext
from gateway.cli.output import echo_json, echo_table
from gateway.pluginmanager import describe_plugins

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@click.command()
@json_option
@click.pass_obj
def plugins(obj: CliContext, as_json: bool) -> None:
    """List every loaded plugin with its version and what it registers."""
    infos = describe_plugins(obj.pm, obj.registry, obj.plugin_commands)
    if as_json:
        echo_json([attrs.asdict(info) for info in infos])
        return
    for info in infos:
        click.echo(f"{info.name} {info.version} (distribution {info.distribution}, "
                   f"module {info.module})")
        for label, keys in (("formats", info.formats), ("channels", info.channels),
                            ("commands", info.commands), ("standards", info.standards)):
            if keys:
                click.echo(textwrap.fill(", ".join(keys), width=100,
                                         initial_indent=f"  {label}: ",
                                         subsequent_indent=" " * (len(label) + 4),
                                         break_on_hyphens=False))


@click.command()
@json_option
@click.pass_obj
def formats(obj: CliContext, as_json: bool) -> None:
    """List the keys of every installed format (standard:document:version)."""
    registry = obj.registry
    rows: list[dict[str, Any]] = [
        {
            "key": key,
            "kind": fmt.kind.value,
            "also_kinds": sorted(k.value for k in fmt.also_kinds),
            "directions": sorted(d.value for d in fmt.directions),
            "status": fmt.status.value,
            "media_type": fmt.media_type,
            "plugin": registry.owner("format", key),
            "description": fmt.description,
        }
        for key, fmt in registry.formats.items()
    ]
    if as_json:
        echo_json(rows)
        return
    echo_table(
        ["key", "kind", "directions", "status", "plugin"],
        [(r["key"], ", ".join([r["kind"], *r["also_kinds"]]), "/".join(r["directions"]),
          r["status"], r["plugin"]) for r in rows],
    )


@click.command()
@json_option
@click.pass_obj
def channels(obj: CliContext, as_json: bool) -> None:
    """List every installed channel type and the settings its [channels.<name>] table takes."""
    registry = obj.registry
    rows = [
        {
            "name": name,
            "plugin": registry.owner("channel", name),
            "description": ct.description,
            "settings": dict(ct.settings_help),
        }
        for name, ct in registry.channels.items()
    ]
    if as_json:
        echo_json(rows)
        return
    echo_table(["name", "plugin", "description"],
               [(r["name"], r["plugin"], r["description"]) for r in rows])
    for name, ct in registry.channels.items():
        if ct.settings_help:
            click.echo(f"\n[channels.<name>] of type {name}:")
            for key, meaning in dict(ct.settings_help).items():
                click.echo(textwrap.fill(meaning, width=100, initial_indent=f"  {key}: ",
                                         subsequent_indent="      ",
                                         break_on_hyphens=False))
