"""The plugin manager and registry refuse badly behaved plugins, naming them."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import click
import pytest
from click.testing import CliRunner

from gateway.errors import PluginError
from gateway.formats import Decoded, Detection, EncodeContext, Format
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from gateway.pluginmanager import add_plugin_commands, build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.sniff import Sniffed

# -- register_commands that raises -------------------------------------------------------------

class CommandsCrash:
    @hookimpl
    def register_commands(self, cli: click.Group) -> None:
        import nonexistent_optional_dependency  # noqa: F401  (a missing extra, say)


def test_register_commands_crash_is_a_plugin_error_naming_the_plugin() -> None:
    """register_formats/register_channels crashes become PluginError naming the plugin
    (build_registry); register_commands crashes escape raw, and gateway.cli.main.main()
    only catches GatewayError, so every `gateway ...` command dies with a traceback."""
    pm = make_plugin_manager(entry_points=False, plugins=[("crashy", CommandsCrash())])
    group = click.Group("gateway", commands={"simulate": click.Group("simulate")})
    with pytest.raises(PluginError, match="crashy"):
        add_plugin_commands(pm, group)


# -- two distributions with the same entry-point name ------------------------------------------

PLUGIN_SOURCE = '''
from gateway.formats import Decoded, Detection, Format
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind


class F(Format):
    key = "{key}"
    kind = DocumentKind.INVOICE
    directions = frozenset({{Direction.OUTBOUND}})
    description = "x"

    def detect(self, doc):
        return Detection.NO

    def encode(self, document, context):
        return b"<x/>"

    def decode(self, data):
        return Decoded(None)


@hookimpl
def register_formats(registry):
    registry.add_format(F())
'''


def _dist(root: Path, dist: str, ep_name: str, module: str, key: str) -> None:
    info = root / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[wissel.plugins]\n{ep_name} = {module}\n")
    (root / f"{module}.py").write_text(PLUGIN_SOURCE.format(key=key))


def test_two_distributions_with_one_plugin_name_are_a_start_up_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pluggy's load_setuptools_entrypoints skips an entry point whose name is taken;
    the second plugin (and every format/channel it brings) silently vanishes."""
    _dist(tmp_path, "acme_one", "acme", "acme_one_mod", "acme:invoice:1")
    _dist(tmp_path, "acme_two", "acme", "acme_two_mod", "acme:invoice:2")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("acme_one_mod", "acme_two_mod"):
        sys.modules.pop(name, None)
    with pytest.raises(PluginError, match="acme"):
        build_registry(make_plugin_manager())


def test_a_third_party_plugin_named_like_a_built_in_one_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Same mechanism: an integrator naming the entry point 'folder' loses the plugin."""
    _dist(tmp_path, "zzz_folder", "folder", "zzz_folder_mod", "zzz:invoice:1")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("zzz_folder_mod", None)
    with pytest.raises(PluginError, match="folder"):
        build_registry(make_plugin_manager())


# -- formats whose declared attributes are missing or mistyped ---------------------------------

class NoKind(Format):
    key = "nokind:invoice:1"
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.OUTBOUND})
    description = "forgot kind"

    def detect(self, doc: Sniffed) -> Detection:
        return Detection.NO

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        return b"<x/>"

    def decode(self, data: bytes) -> Decoded:
        return Decoded(None)


class StrKind(NoKind):
    key = "strkind:invoice:1"
    kind = "invoice"  # type: ignore[assignment]
    directions = frozenset({"outbound"})  # type: ignore[arg-type]


class StrAlsoKinds(NoKind):
    key = "stralso:invoice:1"
    kind = DocumentKind.INVOICE
    also_kinds = frozenset({"credit-note"})  # type: ignore[arg-type]


class Registers:
    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt

    @hookimpl
    def register_formats(self, registry: Registry) -> None:
        registry.add_format(self.fmt)


@pytest.mark.parametrize("fmt", [NoKind(), StrKind(), StrAlsoKinds()],
                         ids=["no-kind", "str-kind", "str-also-kinds"])
def test_format_with_missing_or_mistyped_metadata_is_refused_at_registration(fmt: Format) -> None:
    """add_format checks only the key; a format without ``kind`` (or with plain strings)
    registers, then `gateway formats` dies with AttributeError and intake either
    crashes (AttributeError in OutboundPipeline._format) or rejects every document with
    'format ... does not send invoice documents'."""
    with pytest.raises(PluginError, match="bad"):
        build_registry(make_plugin_manager(entry_points=False, plugins=[("bad", Registers(fmt))]))


def test_gateway_formats_survives_a_format_without_kind() -> None:
    from gateway.cli.plugins import formats

    try:
        registry = build_registry(make_plugin_manager(entry_points=False,
                                                      plugins=[("bad", Registers(NoKind()))]))
    except PluginError:
        return  # refused at start-up: fine

    class Obj:
        pass

    obj = Obj()
    obj.registry = registry  # type: ignore[attr-defined]
    result = CliRunner().invoke(formats, [], obj=obj)
    assert not isinstance(result.exception, AttributeError), repr(result.exception)


# -- wrapper hookimpls are accepted by pluggy, then silently do nothing ------------------------

class Toy(NoKind):
    key = "toy:invoice:1"
    kind = DocumentKind.INVOICE


class WrapperPlugin:
    @hookimpl(wrapper=True)
    def register_formats(self, registry: Registry) -> Any:
        registry.add_format(Toy())
        return (yield)


def test_wrapper_hookimpl_either_registers_or_is_refused() -> None:
    """build_registry calls impl.function directly: for a wrapper it only creates a
    generator and drops it, so nothing is registered and nobody is told."""
    try:
        registry = build_registry(make_plugin_manager(
            entry_points=False, plugins=[("wrapping", WrapperPlugin())]))
    except PluginError:
        return  # refusing it with a clear error would be fine too
    assert "toy:invoice:1" in registry.formats, "wrapper impl silently registered nothing"


# -- a hook function without @hookimpl ---------------------------------------------------------

class ForgotTheMarker:
    def register_formats(self, registry: Registry) -> None:
        registry.add_format(NoKind())


def test_a_hook_without_the_hookimpl_marker_is_a_start_up_error() -> None:
    """pluggy skips an unmarked function without a word: the plugin would load, register
    nothing, and the hookspecs module promises that such a mistake stops the start."""
    with pytest.raises(PluginError, match=r"'forgetful'.*register_formats.*@hookimpl"):
        make_plugin_manager(entry_points=False, plugins=[("forgetful", ForgotTheMarker())])


# -- a hook whose parameter is misnamed, in an installed plugin --------------------------------

def test_a_misnamed_hook_parameter_names_the_plugin_not_its_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pluggy refuses the plugin while registering it, before it has a name in the plugin
    manager: the error named '<module 'acme_mod' from '/...'>' instead of the entry point."""
    info = tmp_path / "acme_params-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-params\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[wissel.plugins]\nacme-params = acme_params_mod\n")
    (tmp_path / "acme_params_mod.py").write_text(
        "from gateway.hookspecs import hookimpl\n\n\n"
        "@hookimpl\ndef register_channels(reg):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("acme_params_mod", None)
    with pytest.raises(PluginError, match=r"^plugin 'acme-params' does not match") as caught:
        make_plugin_manager()
    assert "<module" not in str(caught.value)
