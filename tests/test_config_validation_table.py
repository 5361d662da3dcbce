"""The [validation] table (worker processes and their time limit), and the settings a
reload cannot apply: /health and the log say they wait for a restart."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from gateway.config import parse_config
from gateway.config.model import GatewayConfig
from gateway.errors import ConfigError
from gateway.service import GatewayService

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"


def _text(validation: str = "") -> str:
    """The example configuration, its [validation] table holding ``validation``."""
    text = EXAMPLE.read_text("utf-8").replace('listen = "127.0.0.1:8780"',
                                              'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    assert text.count("\n[validation]\n") == 1
    return text.replace("\n[validation]\n", f"\n[validation]\n{validation}\n")


def _parse(tmp_path: Path, validation: str) -> GatewayConfig:
    path = tmp_path / "gateway.toml"
    path.write_text(_text(validation), "utf-8")
    return parse_config(path.read_text("utf-8"), path)


def test_the_table_sets_workers_and_time_limit(tmp_path: Path) -> None:
    config = _parse(tmp_path, "workers = 3\ntime_limit = 90")
    assert config.validation.workers == 3
    assert config.validation.time_limit == 90
    defaults = _parse(tmp_path, "")
    assert defaults.validation.workers is None  # one per core
    assert defaults.validation.time_limit == 300


@pytest.mark.parametrize(("extra", "key", "words"), [
    ("workers = 0", "validation.workers", "at least 1"),
    ("workers = 1.5", "validation.workers", "whole number"),
    ("time_limit = 5", "validation.time_limit", "at least 30"),
    ("time_limit = inf", "validation.time_limit", "finite"),
    ("timelimit = 60", "validation.timelimit", "timelimit"),
])
def test_a_wrong_value_is_named(tmp_path: Path, extra: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(tmp_path, extra)
    assert caught.value.key == key
    assert words in str(caught.value)


async def test_the_pool_gets_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(_text("workers = 1\ntime_limit = 45"), "utf-8")
    service = GatewayService(path)
    await service.start()
    try:
        assert service.validation is not None
        assert service.validation.workers == 1
        assert service.validation.time_limit == 45
    finally:
        await service.stop()


async def test_a_reload_of_start_only_settings_is_reported_until_undone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "gateway.toml"
    original = _text()
    path.write_text(original, "utf-8")
    service = GatewayService(path)
    await service.start()
    try:
        service.config_holder.check_interval = 0
        assert not [p for p in (await service.health())["problems"] if "restart" in p]
        with caplog.at_level(logging.INFO, logger="gateway.service"):
            edited = _text("workers = 1").replace("# send_timeout = 300", "send_timeout = 60")
            assert "send_timeout = 60" in edited
            path.write_text(edited, "utf-8")
            assert service.config_holder.current().validation.workers == 1
            await asyncio.sleep(0.1)
            problems = (await service.health())["problems"]
            assert ("[validation]: workers changed; in force when the gateway restarts"
                    in problems)
            assert ("[dispatch]: send_timeout changed; in force when the gateway restarts"
                    in problems)
            assert (await service.health())["status"] == "degraded"
            assert "[validation]: workers changed" in caplog.text

            path.write_text(original, "utf-8")
            service.config_holder.current()
            await asyncio.sleep(0.1)
            assert not [p for p in (await service.health())["problems"] if "restart" in p]
            assert "[validation]: as the gateway started again" in caplog.text
    finally:
        await service.stop()
