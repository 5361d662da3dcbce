"""Talking to a running gateway from the command line.

Commands find the gateway's address and API token in the same configuration
file the gateway runs with, so an operator never types them.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Collection, Mapping
from typing import Any

import attrs

from gateway.errors import GatewayError


def segment(value: str) -> str:
    """``value`` as one path segment (a message id typed by a person)."""
    return urllib.parse.quote(value, safe="")


class GatewayUnreachable(GatewayError):
    """No gateway answered at the configured address."""


class ApiProblem(GatewayError):
    """The gateway answered with an error (problem details); ``problem`` is its body."""

    def __init__(self, url: str, status: int, problem: Mapping[str, Any],
                 retry_after: str | None = None) -> None:
        self.url = url
        self.status = status
        self.problem = dict(problem)
        title = problem.get("title") or f"HTTP {status}"
        detail = problem.get("detail")
        hint = ""
        if status == 401:
            hint = (" (the token from [gateway] token / token_env is not the one the gateway "
                    "runs with)")
        elif status == 503 and retry_after is not None and retry_after.strip().isdecimal():
            # The gateway knows when it will manage (new validation workers warm, its
            # start over): an operator otherwise guesses, or gives up on a passing fault.
            hint = f" (try again in {int(retry_after)} s)"
        super().__init__(f"{url} answered {status} {title}" + (f": {detail}" if detail else "")
                         + hint)


@attrs.frozen
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any


class GatewayClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Any) -> GatewayClient:
        settings = config.gateway
        host = settings.listen_host
        if host in ("", "0.0.0.0"):
            host = "127.0.0.1"  # a wildcard listener is reachable on loopback
        elif host == "::":
            host = "::1"  # asyncio binds "::" IPv6-only (IPV6_V6ONLY): 127.0.0.1 is not there
        if ":" in host:
            host = f"[{host}]"
        base = settings.public_url or f"http://{host}:{settings.listen_port}"
        return cls(base, settings.api_token())

    def call(
        self, method: str, path: str, *, body: bytes | None = None, json_body: Any = None,
        query: Mapping[str, str | int | None] | None = None,
        accept: Collection[int] = (200,),
    ) -> Reply:
        """One request; an answer outside ``accept`` raises ApiProblem."""
        url = f"{self.base_url}{path}"
        if any(c <= " " or c == "\x7f" or not c.isascii() for c in url):
            raise GatewayError(f"{path!r} cannot be part of a URL (quote the id)")
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        if params:
            url = f"{url}?{urllib.parse.urlencode(params)}"
        data = body if json_body is None else json.dumps(json_body).encode("utf-8")
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, headers, raw = response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            status, headers, raw = exc.code, dict(exc.headers), exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ConnectionRefusedError | socket.gaierror):
                raise GatewayUnreachable(
                    f"no gateway answers at {self.base_url} ({reason}); is `gateway run` "
                    "running with this configuration?"
                ) from None
            # Connected, then no (whole) answer: the gateway may have done what was asked.
            done = "" if method == "GET" else (
                "; what was sent may have been stored all the same: look before sending again")
            raise GatewayUnreachable(
                f"the gateway at {self.base_url} did not answer {method} {path} ({reason})"
                f"{done}") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        if status not in accept:
            problem = parsed if isinstance(parsed, dict) else {"detail": raw[:200].decode(
                "utf-8", "replace")}
            retry_after = next((value for name, value in headers.items()
                                if name.lower() == "retry-after"), None)
            raise ApiProblem(f"{self.base_url}{path}", status, problem, retry_after)
        return Reply(status, headers, parsed)

    def get_json(self, path: str, query: Mapping[str, str | int | None] | None = None) -> Any:
        return self.call("GET", path, query=query).body

    def post_json(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, json_body={} if body is None else body).body
