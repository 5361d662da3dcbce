"""``gateway simulate``: local stand-ins for the networks a test machine cannot reach.

The group itself is the core's; each simulator comes from the plugin that
knows its protocol (``gateway simulate digipoort``, ``gateway simulate
peppol``) and adds itself with :func:`add_simulator` from its
``register_commands`` hook.
"""

from __future__ import annotations

import click

from gateway.errors import PluginError


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
