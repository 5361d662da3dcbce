"""Collects the plugins under test and hands each format and channel type to the kit."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import GatewayError
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry

_REGISTRY = pytest.StashKey[Registry]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--plugin",
        action="append",
        default=[],
        help="only check formats and channels registered by this plugin (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # Checked once before collection: raised while generating tests, the same reason
    # came once per test module, buried in pytest's collection traceback.
    try:
        registry = build_registry(make_plugin_manager())
    except GatewayError as exc:
        raise pytest.UsageError(str(exc)) from None
    wanted: list[str] = config.getoption("--plugin")
    unknown = [name for name in wanted if not any(registry.registered_by(name).values())]
    if unknown:
        raise pytest.UsageError(
            f"plugin(s) {', '.join(unknown)} registered no format or channel; "
            "`gateway plugins` lists the loaded plugins"
        )
    config.stash[_REGISTRY] = registry


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    wanted: list[str] = metafunc.config.getoption("--plugin")
    if not {"format_key", "channel_name"} & set(metafunc.fixturenames):
        return
    registry = metafunc.config.stash[_REGISTRY]

    def selected(what: str, key: str) -> bool:
        return not wanted or registry.owner(what, key) in wanted

    if "format_key" in metafunc.fixturenames:
        keys = [k for k in registry.formats if selected("format", k)]
        metafunc.parametrize("format_key", keys or [pytest.param(None, marks=pytest.mark.skip(
            reason="no format plugin selected"))])
    if "channel_name" in metafunc.fixturenames:
        names = [n for n in registry.channels if selected("channel", n)]
        metafunc.parametrize("channel_name", names or [pytest.param(None, marks=pytest.mark.skip(
            reason="no channel plugin selected"))])


@pytest.fixture(scope="session")
def registry(pytestconfig: pytest.Config) -> Registry:
    return pytestconfig.stash[_REGISTRY]


@pytest.fixture
def fmt(registry: Registry, format_key: str) -> Any:
    return registry.format(format_key)
