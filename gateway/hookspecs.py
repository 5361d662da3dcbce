"""The hooks a Wissel plugin may implement.

This module is the whole contract between the core and its plugins. A plugin
is a module (or object) with functions marked ``@hookimpl`` whose names and
parameters match the specifications below exactly; anything else is refused
when the gateway starts, so a misspelt hook never goes unnoticed.

Plugins *register types* with the :class:`~gateway.registry.Registry` they
are handed; the core decides when to instantiate them and owns their
lifecycle. A plugin package makes itself known through the ``wissel.plugins``
entry point group in its ``pyproject.toml``::

    [project.entry-points."wissel.plugins"]
    my-plugin = "my_package.plugin"

and implements, for example::

    from gateway.hookspecs import hookimpl

    @hookimpl
    def register_formats(registry):
        registry.add_format(MyFormat())

Every hook below is documented with its signature; ``tests/test_hookspecs.py``
keeps the documentation and the code in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from gateway.registry import Registry

PROJECT_NAME = "wissel"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_formats(registry: Registry) -> None:
    """Add the message formats this plugin provides.

    Signature: ``register_formats(registry: Registry) -> None``

    Call ``registry.add_format(fmt)`` once per format, where ``fmt`` satisfies
    :class:`gateway.formats.Format`. Each format is one standard, one document
    type and one version, keyed ``standard:document:version``. Two plugins
    registering the same key is a start-up error. A format whose layers name
    official files Wissel does not pin brings their manifest with
    ``registry.add_standards(path)`` (see :meth:`gateway.registry.Registry.add_standards`).
    """


@hookspec
def register_channels(registry: Registry) -> None:
    """Add the channel types (transports) this plugin provides.

    Signature: ``register_channels(registry: Registry) -> None``

    Call ``registry.add_channel(channel_type)`` once per type, where
    ``channel_type`` is a :class:`gateway.channels.ChannelType`: a name, a
    factory building a :class:`gateway.channels.Channel` from its
    configuration table (raising ValueError for settings it refuses, and
    opening nothing: the core also calls it to check a running channel's
    edited table), and a description. The core instantiates one channel
    per ``[channels.<name>]`` table in the configuration, on every full gateway
    instance, and starts it with a :class:`gateway.channels.ChannelContext`. A
    channel that polls its transport about sent messages takes
    ``context.turns`` through :class:`gateway.channels.Turn` before each round,
    so that of several instances on one database one asks.

    A channel type may declare ``carries``, the standards (or standard and
    document pairs) of the formats its transport takes, in any version, and
    ``recipient``, how it finds an agency's address; the core refuses a
    route the channel could not carry or address when it loads the
    configuration. Without them the channel carries anything to anyone.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add command-line commands under ``gateway``.

    Signature: ``register_commands(cli: click.Group) -> None``

    Call ``cli.add_command(command)`` for each click command or group. A
    simulator joins the core's ``gateway simulate`` group through
    ``gateway.cli.simulate.add_simulator(cli, command)``. A command name
    already taken by the core or another plugin is a start-up error.
    """
