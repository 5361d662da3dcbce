"""Every hook is documented with its exact signature, and only known hooks load."""

from __future__ import annotations

import inspect

import pytest

from gateway import hookspecs
from gateway.errors import PluginError
from gateway.hookspecs import hookimpl
from gateway.pluginmanager import make_plugin_manager


def _hookspecs() -> list[tuple[str, object]]:
    return [
        (name, fn)
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, f"{hookspecs.PROJECT_NAME}_spec")
    ]


def _signature_text(name: str, fn: object) -> str:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"``{name}({params}) -> {sig.return_annotation}``"


def test_there_are_hooks() -> None:
    assert {name for name, _ in _hookspecs()} >= {
        "register_formats", "register_channels", "register_commands"
    }


@pytest.mark.parametrize(("name", "fn"), _hookspecs())
def test_every_hook_documents_its_exact_signature(name: str, fn: object) -> None:
    doc = inspect.getdoc(fn) or ""
    assert len(doc.splitlines()) >= 3, f"{name} needs a real docstring"
    assert f"Signature: {_signature_text(name, fn)}" in doc, (
        f"{name}: the docstring must state 'Signature: {_signature_text(name, fn)}'"
    )


@pytest.mark.parametrize(("name", "fn"), _hookspecs())
def test_every_hook_is_fully_annotated(name: str, fn: object) -> None:
    sig = inspect.signature(fn)  # type: ignore[arg-type]
    assert sig.return_annotation is not inspect.Signature.empty, name
    for parameter in sig.parameters.values():
        assert parameter.annotation is not inspect.Parameter.empty, f"{name}.{parameter.name}"


class Misspelt:
    @hookimpl
    def register_format(self, registry: object) -> None:  # missing the final "s"
        raise AssertionError("must never be called")


class WrongArgument:
    @hookimpl
    def register_formats(self, registery: object) -> None:
        raise AssertionError("must never be called")


def test_unknown_hook_fails_at_start_up() -> None:
    with pytest.raises(PluginError, match="register_format"):
        make_plugin_manager(entry_points=False, plugins=[("typo", Misspelt())])


def test_wrong_hook_argument_fails_at_start_up() -> None:
    with pytest.raises(PluginError, match="registery"):
        make_plugin_manager(entry_points=False, plugins=[("typo", WrongArgument())])
