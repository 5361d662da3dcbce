"""Loading plugins: entry points in, a filled registry out.

Every plugin, built-in or third-party, arrives through the ``wissel.plugins``
entry point group; the core never imports ``plugins/``. Tests build their own
plugin manager per test with :func:`make_plugin_manager` and pass plugin
objects directly, so no global state leaks between them.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import attrs
import click
import pluggy

from gateway import PLUGIN_ENTRY_POINT_GROUP, hookspecs
from gateway.errors import PluginError
from gateway.registry import Registry


@attrs.frozen
class PluginInfo:
    """What ``gateway plugins`` shows about one plugin."""

    name: str
    version: str
    distribution: str
    module: str
    formats: tuple[str, ...]
    channels: tuple[str, ...]
    commands: tuple[str, ...]
    standards: tuple[str, ...] = ()
    """Ids of the official artifact sets it pins beside Wissel's (Registry.add_standards)."""


def make_plugin_manager(
    *, entry_points: bool = True, plugins: Iterable[tuple[str, object]] = ()
) -> pluggy.PluginManager:
    """A new plugin manager with the hookspecs, entry-point plugins and ``plugins``.

    Raises :class:`PluginError` when a plugin fails to import or implements a
    hook that does not exist (a misspelling must stop the start, not be
    ignored).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    entry_point_names = _import_entry_points() if entry_points else {}
    try:
        if entry_points:
            pm.load_setuptools_entrypoints(PLUGIN_ENTRY_POINT_GROUP)
        for name, plugin in plugins:
            pm.register(plugin, name=name)
        pm.check_pending()
        _refuse_unmarked_hooks(pm)
    except pluggy.PluginValidationError as exc:
        # Refused while registering, a plugin has no name in pm yet: its entry point's.
        refused = pm.get_name(exc.plugin) or entry_point_names.get(id(exc.plugin))
        raise PluginError(
            f"plugin {refused or exc.plugin!r} does not match the gateway's "
            f"hooks: {' '.join(str(exc).split())}"
        ) from exc
    except ValueError as exc:  # pluggy's "plugin already registered"
        raise PluginError(str(exc)) from exc
    return pm


def _refuse_unmarked_hooks(pm: pluggy.PluginManager) -> None:
    # pluggy takes only functions marked @hookimpl: one with a hook's name but no marker
    # is skipped without a word, and the plugin loads, registers nothing, and is blamed
    # later for a channel type or format "no installed plugin provides".
    for plugin_name, plugin in pm.list_name_plugin():
        for hook_name in vars(pm.hook):
            if (callable(getattr(plugin, hook_name, None))
                    and pm.parse_hookimpl_opts(plugin, hook_name) is None):
                raise PluginError(
                    f"plugin {plugin_name!r}: {hook_name} is not marked @hookimpl (from "
                    "gateway.hookspecs), so the gateway would never call it"
                )


def _import_entry_points() -> dict[int, str]:
    """Import every entry point's plugin; returns the name of each, by the id of its object."""
    # pluggy imports entry points too, but cannot say which one failed; importing
    # first (Python caches the modules) lets the error name the plugin.
    # pluggy also skips, without a word, an entry point whose name is taken: the
    # plugin that loses depends on the order of sys.path and of the file system.
    seen: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        for entry_point in dist.entry_points.select(group=PLUGIN_ENTRY_POINT_GROUP):
            where = f"{dist.metadata['Name']} ({entry_point.value})"
            if seen.get(entry_point.name, where) != where:
                raise PluginError(
                    f"two plugins are named {entry_point.name!r}: {seen[entry_point.name]} "
                    f"and {where}; rename one entry point in the wissel.plugins group"
                )
            seen[entry_point.name] = where
    names: dict[int, str] = {}
    for entry_point in importlib.metadata.entry_points(group=PLUGIN_ENTRY_POINT_GROUP):
        try:
            names[id(entry_point.load())] = entry_point.name
        except Exception as exc:
            raise PluginError(
                f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return names


def _each_impl(pm: pluggy.PluginManager, hook_name: str) -> Iterable[tuple[str, Any]]:
    """Hook implementations one by one, so the registry can tell who registered what."""
    caller: pluggy.HookCaller = getattr(pm.hook, hook_name)
    for impl in caller.get_hookimpls():  # in registration order
        if impl.hookwrapper or impl.wrapper:
            # Called directly below, a wrapper would only make a generator and drop it.
            raise PluginError(
                f"plugin {impl.plugin_name!r}: {hook_name} may not be a hook wrapper; "
                "implement it as a plain @hookimpl"
            )
        yield impl.plugin_name, impl.function


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every plugin's ``register_*`` hooks and return the filled registry."""
    registry = Registry()
    for hook_name in ("register_formats", "register_channels"):
        for plugin_name, function in _each_impl(pm, hook_name):
            with registry.registering_for(plugin_name):
                try:
                    returned = function(registry=registry)
                except PluginError:
                    raise
                except Exception as exc:
                    raise PluginError(
                        f"plugin {plugin_name!r} failed in {hook_name}: "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                if returned is not None:
                    # Returning the types is a common pluggy habit; dropped here without a
                    # word, the plugin would seem installed and provide nothing.
                    adder = "add_format" if hook_name == "register_formats" else "add_channel"
                    raise PluginError(
                        f"plugin {plugin_name!r}: {hook_name} returned a "
                        f"{type(returned).__name__}; it must return None and call "
                        f"registry.{adder}(...) for each type instead"
                    )
    return registry


def add_plugin_commands(pm: pluggy.PluginManager, cli: click.Group) -> dict[str, list[str]]:
    """Let plugins add CLI commands; returns the command names per plugin.

    Each plugin writes into a probe group, so a clash is caught and named
    before anything reaches the real CLI. Commands a plugin adds under
    ``simulate`` (see :mod:`gateway.cli.simulate`) join the core's group.
    """
    added: dict[str, list[str]] = {}
    for plugin_name, function in _each_impl(pm, "register_commands"):
        before = set(cli.commands)
        probe = click.Group(name=cli.name)
        probe.add_command(click.Group(name=SIMULATE))
        try:
            function(cli=probe)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin {plugin_name!r} failed in register_commands: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        for name, command in probe.commands.items():
            if name == SIMULATE:
                _merge_simulators(plugin_name, command, cli, added)
                continue
            if cli.commands.get(name) is command:  # main() ran before in this process
                added.setdefault(plugin_name, []).append(name)
                continue
            if name in before or name in cli.commands:
                raise PluginError(
                    f"plugin {plugin_name!r} adds the command {name!r}, which already exists"
                )
            cli.add_command(command, name)
            added.setdefault(plugin_name, []).append(name)
    return added


SIMULATE = "simulate"


def _merge_simulators(
    plugin_name: str, probe: click.Command, cli: click.Group, added: dict[str, list[str]]
) -> None:
    if isinstance(probe, click.Group) and not probe.commands:
        return  # the plugin offers no simulator
    target = cli.commands.get(SIMULATE)
    if not isinstance(probe, click.Group) or not isinstance(target, click.Group):
        raise PluginError(f"plugin {plugin_name!r} replaces the command {SIMULATE!r}")
    for name, command in probe.commands.items():
        if target.commands.get(name) is command:  # main() ran before in this process
            added.setdefault(plugin_name, []).append(f"{SIMULATE} {name}")
            continue
        if name in target.commands:
            raise PluginError(f"plugin {plugin_name!r} adds 'gateway {SIMULATE} {name}', "
                              "which already exists")
        target.add_command(command, name)
        added.setdefault(plugin_name, []).append(f"{SIMULATE} {name}")


def _distribution_of(pm: pluggy.PluginManager) -> dict[str, Any]:
    """Plugin name to the distribution (pluggy's facade over it) that installed it."""
    return {pm.get_name(plugin) or "": dist for plugin, dist in pm.list_plugin_distinfo()}


def describe_plugins(
    pm: pluggy.PluginManager, registry: Registry, commands: dict[str, list[str]] | None = None
) -> list[PluginInfo]:
    """One :class:`PluginInfo` per registered plugin, sorted by name."""
    dists = _distribution_of(pm)
    infos = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        dist = dists.get(name)
        module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__name__
        version = getattr(plugin, "__version__", None) or (dist.version if dist else "unknown")
        found = registry.registered_by(name)
        infos.append(
            PluginInfo(
                name=name,
                version=str(version),
                distribution=dist.metadata["Name"] if dist else "-",
                module=module,
                formats=tuple(found["formats"]),
                channels=tuple(found["channels"]),
                commands=tuple((commands or {}).get(name, [])),
                standards=tuple(found["standards"]),
            )
        )
    return sorted(infos, key=lambda info: info.name)
