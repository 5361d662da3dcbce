"""The loop `gateway run` runs on: uvloop when installed, asyncio on request."""

from __future__ import annotations

import asyncio

import pytest

from gateway import eventloop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_where_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("uvloop")
    monkeypatch.delenv(eventloop.ENVIRONMENT, raising=False)
    assert eventloop.loop_name() == "uvloop"
    assert eventloop.run(_loop_module()).startswith("uvloop")


def test_the_environment_keeps_the_standard_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENVIRONMENT, "asyncio")
    assert eventloop.loop_name() == "asyncio"
    assert eventloop.run(_loop_module()).startswith("asyncio")


def test_an_unknown_loop_is_named_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(eventloop.ENVIRONMENT, "trio")
    wanted = "WISSEL_EVENT_LOOP must be one of uvloop, asyncio, not 'trio'"
    with pytest.raises(ValueError, match=wanted):
        eventloop.loop_name()
