"""The plugin manager and the registry, each test with its own plugin manager."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner

from gateway.channels import Accepted, Channel, ChannelType, OutboundMessage, SendOutcome
from gateway.cli.simulate import add_simulator
from gateway.errors import PluginError
from gateway.formats import Decoded, Detection, EncodeContext, Format
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from gateway.pluginmanager import (
    add_plugin_commands,
    build_registry,
    describe_plugins,
    make_plugin_manager,
)
from gateway.registry import Registry, UnknownChannelError, UnknownFormatError
from gateway.sniff import Sniffed


class ToyFormat(Format):
    """A format recognising <toy version="N"> documents."""

    kind: ClassVar[DocumentKind] = DocumentKind.INVOICE
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.OUTBOUND})
    description: ClassVar[str] = "toy"

    def __init__(self, version: str) -> None:
        self.version = version
        self.key = f"toy:invoice:{version}"  # type: ignore[misc]

    def detect(self, doc: Sniffed) -> Detection:
        if doc.root_name != "toy":
            return Detection.NO
        assert doc.root is not None
        return Detection.MATCH if doc.root.get("version") == self.version else (
            Detection.OTHER_VERSION)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        return f'<toy version="{self.version}">{document}</toy>'.encode()

    def decode(self, data: bytes) -> Decoded:
        return Decoded(Sniffed(data).text("."))


class ToyChannel(Channel):
    type_name = "toy"

    async def send(self, message: OutboundMessage) -> SendOutcome:
        return Accepted("toy-1")


class ToyPlugin:
    __version__ = "4.2"

    @hookimpl
    def register_formats(self, registry: Registry) -> None:
        registry.add_format(ToyFormat("1"))
        registry.add_format(ToyFormat("2"))

    @hookimpl
    def register_channels(self, registry: Registry) -> None:
        def factory(name: str, settings: Mapping[str, Any]) -> Channel:
            return ToyChannel(name, settings)

        registry.add_channel(ChannelType("toy", factory, "a toy"))

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @click.command(name="toy")
        def toy() -> None:
            """Toy command."""

        cli.add_command(toy)


def _registry(*plugins: tuple[str, object]) -> Registry:
    return build_registry(make_plugin_manager(entry_points=False, plugins=plugins))


def test_registry_records_who_registered_what() -> None:
    registry = _registry(("toy-plugin", ToyPlugin()))
    assert list(registry.formats) == ["toy:invoice:1", "toy:invoice:2"]
    assert registry.owner("format", "toy:invoice:2") == "toy-plugin"
    assert registry.registered_by("toy-plugin") == {
        "formats": ["toy:invoice:1", "toy:invoice:2"], "channels": ["toy"], "standards": [],
    }


def test_describe_plugins_shows_version_and_registrations() -> None:
    pm = make_plugin_manager(entry_points=False, plugins=[("toy-plugin", ToyPlugin())])
    registry = build_registry(pm)
    group = click.Group("gateway")
    commands = add_plugin_commands(pm, group)
    (info,) = describe_plugins(pm, registry, commands)
    assert (info.name, info.version, info.channels, info.commands) == (
        "toy-plugin", "4.2", ("toy",), ("toy",)
    )


def test_two_plugins_registering_one_key_fail_naming_both() -> None:
    with pytest.raises(PluginError, match=r"toy:invoice:1.*'first'.*'second'"):
        _registry(("first", ToyPlugin()), ("second", ToyPlugin()))


def test_plugin_command_clash_fails() -> None:
    pm = make_plugin_manager(entry_points=False, plugins=[("toy-plugin", ToyPlugin())])
    group = click.Group("gateway", commands={"toy": click.Command("toy")})
    with pytest.raises(PluginError, match="'toy'"):
        add_plugin_commands(pm, group)


def test_registering_something_that_is_not_a_format_fails() -> None:
    class Bad:
        @hookimpl
        def register_formats(self, registry: Registry) -> None:
            registry.add_format("nlcius:invoice:1.0")  # type: ignore[arg-type]

    with pytest.raises(PluginError, match=r"'bad'.*not a gateway\.formats\.Format"):
        _registry(("bad", Bad()))


def test_badly_keyed_format_fails() -> None:
    class Bad:
        @hookimpl
        def register_formats(self, registry: Registry) -> None:
            registry.add_format(ToyFormat("1").__class__("x y"))

    with pytest.raises(PluginError, match="standard:document:version"):
        _registry(("bad", Bad()))


def test_plugin_crash_during_registration_names_the_plugin() -> None:
    class Crashing:
        @hookimpl
        def register_channels(self, registry: Registry) -> None:
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match=r"'crashing' failed in register_channels.*boom"):
        _registry(("crashing", Crashing()))


def test_a_register_hook_that_returns_its_types_instead_of_adding_them_fails() -> None:
    """The common pluggy habit of returning what a hook provides would register nothing,
    and the gateway would only say later that no installed plugin has the channel type."""

    class Returning:
        @hookimpl
        def register_channels(self, registry: Registry) -> list[ChannelType]:
            return [ChannelType("toy", ToyChannel, "a toy")]

    with pytest.raises(PluginError, match=r"'returning'.*register_channels returned.*add_channel"):
        _registry(("returning", Returning()))


@pytest.mark.parametrize("name", ["http post", "http.post", "http/post", "-post", "pöst"])
def test_a_channel_type_no_configuration_can_name_fails(name: str) -> None:
    """The configuration's `type` takes lower-case letters, digits, '-' and '_' only; a
    type named otherwise registered, passed the kit, and could never be used."""

    class Odd:
        @hookimpl
        def register_channels(self, registry: Registry) -> None:
            registry.add_channel(ChannelType(name, ToyChannel, "odd"))

    with pytest.raises(PluginError, match=r"channel name .* lower-case letters"):
        _registry(("odd", Odd()))


def test_detection_finds_the_one_matching_format() -> None:
    registry = _registry(("toy-plugin", ToyPlugin()))
    assert registry.detect(b'<toy version="2">x</toy>').format.key == "toy:invoice:2"


def test_detection_reports_unknown_version_of_known_standard() -> None:
    registry = _registry(("toy-plugin", ToyPlugin()))
    with pytest.raises(UnknownFormatError, match="version no installed format handles"):
        registry.detect(b'<toy version="3">x</toy>')


def test_detection_failure_names_what_it_saw() -> None:
    registry = _registry(("toy-plugin", ToyPlugin()))
    with pytest.raises(UnknownFormatError, match=r"root element \{urn:x\}other"):
        registry.detect(b'<other xmlns="urn:x"/>')


def test_unknown_keys_get_suggestions() -> None:
    registry = _registry(("toy-plugin", ToyPlugin()))
    with pytest.raises(UnknownFormatError, match="did you mean toy:invoice:1"):
        registry.format("toy:invoic:1")
    with pytest.raises(UnknownChannelError, match="did you mean toy"):
        registry.channel_type("tyo")


def test_built_in_plugins_arrive_through_entry_points() -> None:
    pm = make_plugin_manager()
    registry = build_registry(pm)
    assert registry.owner("channel", "folder") == "folder"
    infos = {info.name: info for info in describe_plugins(pm, registry)}
    assert infos["folder"].distribution == "wissel"
    assert infos["folder"].version == "1.0.0"


def test_core_never_imports_the_plugins_package() -> None:
    import pathlib
    import re

    core = pathlib.Path(__file__).resolve().parents[1] / "gateway"
    offenders = [
        str(path.relative_to(core.parent))
        for path in core.rglob("*.py")
        if re.search(r"^\s*(from|import)\s+plugins\b", path.read_text(), re.MULTILINE)
    ]
    assert offenders == []


class SimulatorPlugin:
    def __init__(self, name: str) -> None:
        self.name = name

    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        @click.command(name=self.name)
        def run_simulator() -> None:
            """Pretend to be a network."""
            click.echo(f"simulating {self.name}")

        add_simulator(cli, run_simulator)


def test_simulators_of_several_plugins_join_one_simulate_group() -> None:
    pm = make_plugin_manager(entry_points=False, plugins=[
        ("net-a", SimulatorPlugin("alpha")), ("net-b", SimulatorPlugin("beta"))])
    group = click.Group("gateway", commands={"simulate": click.Group("simulate")})
    commands = add_plugin_commands(pm, group)
    assert commands == {"net-a": ["simulate alpha"], "net-b": ["simulate beta"]}
    result = CliRunner().invoke(group, ["simulate", "beta"])
    assert result.exit_code == 0
    assert result.output == "simulating beta\n"


def test_two_simulators_of_one_name_fail_naming_the_plugin() -> None:
    pm = make_plugin_manager(entry_points=False, plugins=[
        ("net-a", SimulatorPlugin("alpha")), ("net-b", SimulatorPlugin("alpha"))])
    group = click.Group("gateway", commands={"simulate": click.Group("simulate")})
    with pytest.raises(PluginError, match=r"'net-b'.*gateway simulate alpha"):
        add_plugin_commands(pm, group)


def test_a_channel_type_name_with_a_trailing_newline_is_refused() -> None:
    # A pattern ending in $ lets "name\n" through; no configuration can name it.
    class Nothing(Channel):
        async def send(self, message: OutboundMessage) -> SendOutcome:
            raise AssertionError

    with pytest.raises(PluginError, match="channel name"):
        Registry().add_channel(ChannelType(name="http-post\n", factory=Nothing))
