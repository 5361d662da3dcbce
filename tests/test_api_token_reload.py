"""API tokens across a configuration reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import running_gateway

REVOKED = "compromised-token-0123456789"


async def test_a_removed_token_stops_working_even_if_another_token_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The operator revokes a leaked token and, in the same edit, adds a token read
    # from a variable the running process does not have. The new list cannot be
    # built; of the previous one only what the new file still grants stays in force,
    # so the revoked token stops working now, not at the next restart.
    monkeypatch.delenv("TEST_REVIEW_NEW_TOKEN", raising=False)
    leaked = f'\n[api.tokens.old]\ntoken = "{REVOKED}"\nscopes = ["read", "operate"]\n'
    async with running_gateway(tmp_path, extra=leaked) as gateway:
        assert (await gateway.call("GET", "/api/v1/messages", token=REVOKED))[0] == 200
        text = gateway.config_path.read_text("utf-8").replace(leaked, "")
        text += '\n[api.tokens.new]\ntoken_env = "TEST_REVIEW_NEW_TOKEN"\nscopes = ["read"]\n'
        gateway.config_path.write_text(text, "utf-8")
        assert gateway.service.config_holder.reload()
        assert "old" not in gateway.service.config.api.tokens
        status, _, _ = await gateway.call("GET", "/api/v1/messages", token=REVOKED)
        assert status in (401, 503), status
