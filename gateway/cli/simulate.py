"""``gateway simulate``: local stand-ins for the networks a test machine cannot reach.

The group itself is the core's; each simulator comes from the plugin that
knows its protocol (``gateway simulate digipoort``, ``gateway simulate
peppol``) and adds itself with :func:`add_simulator` from its
``register_commands`` hook.
"""

from __future__ import annotations

from pathlib import Path

import click

from gateway.errors import GatewayError, PluginError


@click.group()
def simulate() -> None:
    """Run a local simulator of an external network (Digipoort, a Peppol access point).

    Each simulator speaks the real protocol on loopback, so the gateway, and
    any other client, can rehearse against it without certificates from the
    real network.
    """


def add_simulator(cli: click.Group, command: click.Command) -> None:
    """Add ``command`` as ``gateway simulate <command.name>``.

    Two plugins offering a simulator of the same name is a start-up error,
    as for any other command (checked by the plugin manager).
    """
    group = cli.commands.get("simulate")
    if not isinstance(group, click.Group):
        raise PluginError("the gateway's 'simulate' command group is missing")
    group.add_command(command)


def configured_standards_dir() -> Path | None:
    """The standards folder the gateway itself uses on the ``--config`` given (``[gateway]
    standards_dir``, else its fallbacks), so a simulator judges a document as the gateway
    does; None outside a ``gateway`` command. A configuration that cannot be read is a
    ClickException naming why."""
    from gateway.cli.context import CliContext
    from gateway.cli.validate import standards_dir_for

    obj = click.get_current_context().find_object(CliContext)
    if obj is None:
        return None
    try:
        return standards_dir_for(obj)
    except GatewayError as exc:
        raise click.ClickException(f"cannot read the standards folder from the "
                                   f"configuration: {exc}") from exc
