"""The [erp] and [dispatch] tables: defaults, values, and errors that name file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import config_text

from gateway.config import parse_config
from gateway.config.model import DispatchTable, ErpSettings
from gateway.errors import ConfigError


def error(tmp_path: Path, extra: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse_config(config_text(tmp_path) + extra, tmp_path / "gateway.toml")
    return caught.value


def test_without_the_tables_the_erp_polls_and_dispatch_has_defaults(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path), tmp_path / "gateway.toml")
    assert config.erp == ErpSettings()
    assert config.erp.delivery == "poll"
    assert config.dispatch == DispatchTable()


def test_erp_keys_are_read(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path) + """
[erp]
delivery = "folder"
folder = "erp-inbox"
include_raw = true
max_attempts = 3
webhook_timeout = 2.5
""", tmp_path / "gateway.toml")
    assert config.erp.delivery == "folder"
    assert config.erp.folder == tmp_path / "data" / "erp-inbox"  # inside the data directory
    assert config.erp.include_raw is True
    assert config.erp.max_attempts == 3
    assert config.erp.webhook_timeout == 2.5


def test_the_batch_reaches_the_dispatcher(tmp_path: Path) -> None:
    from gateway.pipeline.dispatch import DispatchSettings

    assert DispatchSettings.from_table(DispatchTable()).batch == 1
    config = parse_config(config_text(tmp_path) + "\n[dispatch]\nbatch = 10\n",
                          tmp_path / "gateway.toml")
    assert config.dispatch.batch == 10
    assert DispatchSettings.from_table(config.dispatch).batch == 10


def test_the_send_timeout_reaches_the_dispatcher(tmp_path: Path) -> None:
    from gateway.pipeline.dispatch import DispatchSettings

    config = parse_config(config_text(tmp_path) + "\n[dispatch]\nsend_timeout = 45\n",
                          tmp_path / "gateway.toml")
    assert config.dispatch.send_timeout == 45
    assert DispatchSettings.from_table(config.dispatch).send_timeout == 45
    problem = error(tmp_path, "\n[dispatch]\nsend_timeout = 0\n")
    assert problem.key == "dispatch.send_timeout"


def test_a_webhook_without_a_secret_is_refused_with_its_line(tmp_path: Path) -> None:
    problem = error(tmp_path,
                    '\n[erp]\ndelivery = "webhook"\nwebhook_url = "https://erp.local/x"\n')
    assert problem.key == "erp.webhook_secret_env"
    assert "webhook_secret_env" in problem.message
    assert "signed" in problem.message
    assert problem.file == str(tmp_path / "gateway.toml")


@pytest.mark.parametrize(("extra", "key", "words"), [
    ('\n[erp]\ndelivery = "push"\n', "erp.delivery", "must be one of poll, webhook, folder"),
    ('\n[erp]\nwebhook_url = "ftp://x"\n', "erp.webhook_url", "http:// or https://"),
    ('\n[erp]\nwebhook_secret = "s3cret"\n', "erp.webhook_secret",
     "did you mean 'webhook_secret_env'"),
    ('\n[erp]\nwebhook_secret_env = "not a name"\n', "erp.webhook_secret_env",
     "name of an environment variable"),
    ('\n[erp]\ndelivery = "folder"\n', "erp.folder", "needs a folder"),
    ('\n[erp]\nmax_attempts = 0\n', "erp.max_attempts", "at least 1"),
    ('\n[erp]\nmax_attempts = 2.5\n', "erp.max_attempts", "whole number"),
    ('\n[erp]\ninclude_raw = "yes"\n', "erp.include_raw", "true or false"),
    ('\n[dispatch]\nworkers = "2"\n', "dispatch.workers", "whole number, not a string"),
    ('\n[dispatch]\nworkers = 0\n', "dispatch.workers", "at least 1"),
    ('\n[dispatch]\nbatch = 0\n', "dispatch.batch", "at least 1"),
    ('\n[dispatch]\nbatch = 101\n', "dispatch.batch", "at most 100, got 101"),
    ('\n[dispatch]\nbatch = 2.5\n', "dispatch.batch", "whole number, not a float"),
    ('\n[dispatch]\nbackoff_base = 60\nbackoff_cap = 30\n', "dispatch.backoff_cap",
     "must not be below backoff_base"),
    ('\n[dispatch]\nleese = 30\n', "dispatch.leese", "did you mean 'lease'"),
])
def test_bad_values_name_the_key_and_the_line(
    tmp_path: Path, extra: str, key: str, words: str,
) -> None:
    problem = error(tmp_path, extra)
    assert problem.key == key
    assert words in problem.message
    lines = (config_text(tmp_path) + extra).splitlines()
    assert problem.line is not None
    # The line of the key itself, or of its table when the key is missing.
    named = lines[problem.line - 1]
    assert named.startswith((key.rpartition(".")[2], "[erp]"))


def test_the_secret_is_read_from_the_environment_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = ErpSettings(delivery="webhook", webhook_url="http://127.0.0.1:1/",
                           webhook_secret_env="WISSEL_TEST_SECRET")
    monkeypatch.setenv("WISSEL_TEST_SECRET", "abc")
    assert settings.webhook_secret() == b"abc"
    assert "abc" not in repr(settings)
    monkeypatch.setenv("WISSEL_TEST_SECRET", "")
    with pytest.raises(ConfigError, match="WISSEL_TEST_SECRET named by"):
        settings.webhook_secret()
