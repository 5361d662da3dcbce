"""Who may call the API: the loopback rule without tokens, tokens from the environment."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest
from api_support import READER, free_port, running_gateway


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    candidates: set[str] = set()
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            candidates.add(str(info[4][0]))
    except OSError:
        pass
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.123", 9))  # no packet is sent for a UDP connect
            candidates.add(probe.getsockname()[0])
        except OSError:
            pass
    usable = sorted(a for a in candidates if not a.startswith("127.") and a != "0.0.0.0")
    return usable[0] if usable else None


async def test_without_tokens_only_loopback_callers_are_answered(tmp_path: Path) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    port = free_port()
    async with running_gateway(tmp_path, extra="", gateway_token=False,
                               listen=f"0.0.0.0:{port}") as gateway:
        status, _, page = await gateway.call("GET", "/api/v1/messages", token=None)
        assert status == 200
        assert page == {"items": [], "next_cursor": None}
        async with aiohttp.ClientSession() as session, session.get(
            f"http://{address}:{port}/api/v1/messages"
        ) as response:
            assert response.status == 403
            problem = await response.json(content_type=None)
        assert problem["type"].endswith("local-only")
        assert "token_env" in problem["detail"]
        # A token presented where none is configured grants nothing more.
        async with aiohttp.ClientSession() as session, session.get(
            f"http://{address}:{port}/api/v1/messages",
            headers={"Authorization": "Bearer guess"},
        ) as response:
            assert response.status == 403


async def test_listening_beyond_loopback_without_a_token_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("local", "open", "guarded"):
        (tmp_path / name).mkdir()
    async with running_gateway(tmp_path / "local", extra="", gateway_token=False):
        pass
    assert "with no API token" not in caplog.text
    async with running_gateway(tmp_path / "open", extra="", gateway_token=False,
                               listen=f"0.0.0.0:{free_port()}"):
        pass
    [warning] = [r for r in caplog.records if "with no API token" in r.getMessage()]
    assert warning.levelname == "WARNING"
    assert "listening on 0.0.0.0" in warning.getMessage()
    caplog.clear()
    async with running_gateway(tmp_path / "guarded", listen=f"0.0.0.0:{free_port()}"):
        pass
    assert "with no API token" not in caplog.text


async def test_health_tells_other_hosts_only_what_a_balancer_needs(tmp_path: Path) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address to call from")
    port = free_port()
    async with running_gateway(tmp_path, listen=f"0.0.0.0:{port}") as gateway:
        status, _, local = await gateway.call("GET", "/health", token=None)
        assert status == 200
        assert {"config", "channels", "messages", "problems"} <= set(local)

        async def remote(token: str | None) -> dict[str, object]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with aiohttp.ClientSession() as session, session.get(
                f"http://{address}:{port}/health", headers=headers,
            ) as response:
                assert response.status == 200
                answer: dict[str, object] = await response.json()
                return answer

        public = await remote(None)
        assert set(public) == {"status", "version", "uptime_seconds", "validation"}
        assert public["status"] == local["status"]
        assert set(await remote("not-a-token")) == set(public)
        assert set(await remote(READER)) == set(local)


async def test_named_tokens_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_WISSEL_DASHBOARD", "dashboard-secret-42")
    extra = """
[api.tokens.dashboard]
token_env = "TEST_WISSEL_DASHBOARD"
scopes = ["read"]
"""
    async with running_gateway(tmp_path, extra=extra) as gateway:
        status, _, _ = await gateway.call("GET", "/api/v1/messages",
                                          token="dashboard-secret-42")
        assert status == 200
        status, _, problem = await gateway.call("POST", "/api/v1/inbox/X/ack",
                                                token="dashboard-secret-42")
        assert status == 403
        assert problem["required_scopes"] == ["operate", "submit"]


async def test_a_missing_token_variable_locks_the_api_instead_of_opening_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TEST_WISSEL_UNSET", raising=False)
    extra = """
[api.tokens.erp]
token_env = "TEST_WISSEL_UNSET"
scopes = ["submit"]
"""
    async with running_gateway(tmp_path, extra=extra, gateway_token=False) as gateway:
        status, _, problem = await gateway.call("GET", "/api/v1/messages", token=None)
        assert status == 503
        assert "TEST_WISSEL_UNSET" in problem["detail"]
        status, _, health = await gateway.call("GET", "/health", token=None)
        assert status == 200
        # The operator sees why on /health too, not only in the log.
        assert health["status"] == "degraded"
        assert any(p.startswith("API tokens:") and "TEST_WISSEL_UNSET" in p
                   for p in health["problems"])


async def test_a_token_added_to_the_file_works_after_the_reload(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        status, _, _ = await gateway.call("GET", "/api/v1/messages", token="late-token-123")
        assert status == 401
        with gateway.config_path.open("a", encoding="utf-8") as file:
            file.write('\n[api.tokens.late]\ntoken = "late-token-123"\nscopes = ["read"]\n')
        assert gateway.service.config_holder.reload()
        status, _, _ = await gateway.call("GET", "/api/v1/messages", token="late-token-123")
        assert status == 200


async def test_without_tokens_a_proxied_or_browser_request_is_not_a_local_caller(
    tmp_path: Path,
) -> None:
    # Without a token every loopback connection had every scope: a reverse proxy on
    # the machine (listen on 127.0.0.1, nginx in front) opened the whole API to the
    # network, and a web page in a local browser could submit or cancel messages.
    port = free_port()
    async with running_gateway(tmp_path, extra="", gateway_token=False,
                               listen=f"127.0.0.1:{port}") as gateway:
        refused = (
            {"X-Forwarded-For": "203.0.113.9"},
            {"Forwarded": "for=203.0.113.9"},
            {"X-Real-IP": "203.0.113.9"},
            {"Via": "1.1 proxy"},
            {"Origin": "https://evil.example"},
            {"Host": f"rebound.evil.example:{port}"},
        )
        async with aiohttp.ClientSession() as session:
            for headers in refused:
                async with session.get(f"{gateway.base}/api/v1/messages",
                                       headers=headers) as response:
                    assert response.status == 403, headers
                    problem = await response.json(content_type=None)
                assert problem["type"].endswith("local-only"), headers
                assert "this request is not one" in problem["detail"]
                async with session.get(f"{gateway.base}/health", headers=headers) as response:
                    health = await response.json()
                assert "config" not in health, headers
            for host in ("localhost", f"127.0.0.1:{port}", f"localhost:{port}"):
                async with session.get(f"{gateway.base}/api/v1/messages",
                                       headers={"Host": host}) as response:
                    assert response.status == 200, host
