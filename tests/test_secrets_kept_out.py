"""A database password never reaches the log, /health or the CLI's error line."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from api_support import running_gateway

from gateway.cli.run import secrets_of
from gateway.config import parse_config
from gateway.logs import JsonFormatter

PASSWORD = "S3cret-db-pw-9f1e"
# postgres:// is the scheme half the world writes (Heroku, many PaaS, libpq accepts it;
# gateway/store/__init__.py lists it as supported). The loader refuses it, quoting it.
DSN = f"postgres://wissel:{PASSWORD}@db.internal:5432/wissel"
REPO = Path(__file__).resolve().parents[1]


async def test_a_refused_database_url_keeps_its_password_out_of_log_and_health(
    tmp_path: Path,
) -> None:
    async with running_gateway(tmp_path) as gateway:
        # The log as `gateway run` writes it: JSON, redacting what run.py counts as secrets.
        out = io.StringIO()
        handler = logging.StreamHandler(out)
        handler.setFormatter(JsonFormatter(lambda: secrets_of(gateway.service.config)))
        root = logging.getLogger()
        root.addHandler(handler)
        try:
            text = gateway.config_path.read_text("utf-8")
            gateway.config_path.write_text(
                text.replace("[gateway]\n", f"[gateway]\ndatabase = {DSN!r}\n", 1), "utf-8")
            assert gateway.service.config_holder.reload() is False
        finally:
            root.removeHandler(handler)
        status, _, health = await gateway.call("GET", "/health")
        assert status == 200
        assert health["status"] == "degraded"
        logged = out.getvalue()
        assert "configuration not reloaded" in logged
        leaks = [where for where, text in (("log", logged), ("/health", str(health)))
                 if PASSWORD in text]
        assert leaks == [], f"{leaks}: {logged} {health['problems']}"


def test_the_cli_error_line_for_it_hides_the_password(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f"""
[gateway]
database = {DSN!r}

[supplier]
name = "Naam Leverancier BV"
kvk = "30097265"
vestigingsnummer = "000018727409"
""", "utf-8")
    # `gateway run` under systemd: stderr is the journal.
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "--config", str(config), "run"],
        capture_output=True, text=True, timeout=60, cwd=REPO, env=dict(os.environ))
    assert result.returncode == 2
    assert "database" in result.stderr
    assert PASSWORD not in result.stderr, result.stderr


def test_named_tokens_and_channel_secrets_are_redacted_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ERP_TOKEN", "erp-token-7c2d9a")
    monkeypatch.setenv("SMTP_PASSWORD", "smtp-pw-41b8e0")
    config = parse_config(f"""
[gateway]
data_dir = {str(tmp_path / "data")!r}
token = "gateway-token-5a1f"

[supplier]
name = "Naam Leverancier BV"
kvk = "30097265"
vestigingsnummer = "000018727409"

[api.tokens.erp]
token_env = "ERP_TOKEN"
scopes = ["submit"]

[api.tokens.monitor]
token = "monitor-token-88e1"
scopes = ["read"]

[channels.mail]
type = "email"
host = "smtp.example"
sender = "facturen@leverancier.example"
username = "facturen"
password_env = "SMTP_PASSWORD"
""", tmp_path / "gateway.toml")
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter(lambda: secrets_of(config)))
    logger = logging.getLogger("test.secrets")
    logger.addHandler(handler)
    try:
        logger.error("tokens erp-token-7c2d9a monitor-token-88e1 gateway-token-5a1f, "
                     "login facturen:smtp-pw-41b8e0")
    finally:
        logger.removeHandler(handler)
    logged = out.getvalue()
    for secret in ("erp-token-7c2d9a", "monitor-token-88e1", "gateway-token-5a1f",
                   "smtp-pw-41b8e0"):
        assert secret not in logged, logged
