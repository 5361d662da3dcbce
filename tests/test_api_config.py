"""The [api] section: tokens with scopes and the request size limit, checked on load."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import config_text

from gateway.config import parse_config
from gateway.config.model import DEFAULT_MAX_REQUEST_BYTES
from gateway.errors import ConfigError


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_tokens_and_limit_are_read(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path) + """
[api]
max_request_bytes = 1048576

[api.tokens.erp]
token_env = "ERP_TOKEN"
scopes = ["submit", "read"]
""", tmp_path / "gateway.toml")
    assert config.api.max_request_bytes == 1048576
    token = config.api.tokens["erp"]
    assert token.scopes == frozenset({"submit", "read"})
    assert token.token_env == "ERP_TOKEN"


def test_defaults_without_the_section(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path), tmp_path / "gateway.toml")
    assert config.api.max_request_bytes == DEFAULT_MAX_REQUEST_BYTES
    assert dict(config.api.tokens) == {}


def test_a_literal_token_stays_out_of_repr(tmp_path: Path) -> None:
    config = parse_config(config_text(tmp_path) + """
[api.tokens.erp]
token = "sekrit-value"
scopes = ["read"]
""", tmp_path / "gateway.toml")
    assert "sekrit-value" not in repr(config)


@pytest.mark.parametrize(("api", "needle", "key", "message"), [
    ('[api]\nmax_bytes = 5\n', "max_bytes", "api.max_bytes", "unknown key 'max_bytes'"),
    ('[api]\nmax_request_bytes = 10\n', "max_request_bytes", "api.max_request_bytes",
     "between"),
    ('[api.tokens.erp]\ntoken = "a"\nscopes = ["submit", "reed"]\n', "scopes",
     "api.tokens.erp.scopes[1]", "did you mean 'read'"),
    ('[api.tokens.erp]\ntoken = "a"\ntoken_env = "B"\nscopes = ["read"]\n', "token_env",
     "api.tokens.erp.token_env", "exactly one of token or token_env"),
    ('[api.tokens.erp]\ntoken = "a"\n', "[api.tokens.erp]", "api.tokens.erp.scopes",
     "missing required key 'scopes'"),
    ('[api.tokens.erp]\ntoken = "a"\nscopes = []\n', "scopes", "api.tokens.erp.scopes",
     "at least one"),
    ('[api.tokens.erp]\ntoken = "a"\nscope = ["read"]\n', "scope =", "api.tokens.erp.scope",
     "did you mean 'scopes'"),
    ('[api.tokens."E R P"]\ntoken = "a"\nscopes = ["read"]\n', "E R P", None, "token name"),
])
def test_errors_name_file_line_and_key(
    tmp_path: Path, api: str, needle: str, key: str | None, message: str,
) -> None:
    text = config_text(tmp_path) + api
    with pytest.raises(ConfigError) as caught:
        parse_config(text, tmp_path / "gateway.toml")
    error = caught.value
    assert message in error.message
    assert error.file is not None
    assert error.file.endswith("gateway.toml")
    if key is not None:
        assert error.key == key
    assert error.line == line_of(text, needle)


def test_the_example_token_tables_load_when_uncommented(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"
    lines = example.read_text("utf-8").splitlines()
    start = lines.index("# [api.tokens.erp]")
    end = next(i for i in range(start, len(lines)) if lines[i] == "")
    uncommented = [line.removeprefix("# ").removeprefix("#") for line in lines[start:end]]
    text = "\n".join(lines[:start] + uncommented + lines[end:])
    config = parse_config(text, example)
    assert sorted(config.api.tokens) == ["dashboard", "erp"]
    assert config.api.tokens["erp"].scopes == frozenset({"submit", "read"})
    assert config.api.tokens["dashboard"].token_env == "WISSEL_DASHBOARD_TOKEN"
