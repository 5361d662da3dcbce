"""State shared by all CLI commands: the config path and the loaded plugins."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry

if TYPE_CHECKING:
    from gateway.config import GatewayConfig


class CliContext:
    """Built once per invocation and stored as ``click.Context.obj``."""

    def __init__(self, config_path: Path, pm: pluggy.PluginManager | None = None) -> None:
        self.config_path = config_path
        self._pm = pm
        self.plugin_commands: dict[str, list[str]] = {}

    @property
    def pm(self) -> pluggy.PluginManager:
        if self._pm is None:
            self._pm = make_plugin_manager()
        return self._pm

    @functools.cached_property
    def registry(self) -> Registry:
        return build_registry(self.pm)

    @functools.cached_property
    def config(self) -> GatewayConfig:
        from gateway.config import load_config

        return load_config(self.config_path)
