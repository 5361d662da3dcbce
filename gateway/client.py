"""Talking to a running gateway from the command line.

Commands find the gateway's address and API token in the same configuration
file the gateway runs with, so an operator never types them.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from gateway.errors import GatewayError


class GatewayUnreachable(GatewayError):
    """No gateway answered at the configured address."""


class GatewayClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Any) -> GatewayClient:
        settings = config.gateway
        host = settings.listen_host
        if host in ("", "0.0.0.0", "::"):
            host = "127.0.0.1"  # a wildcard listener is reachable on loopback
        if ":" in host:
            host = f"[{host}]"
        base = settings.public_url or f"http://{host}:{settings.listen_port}"
        return cls(base, settings.api_token())

    def get_json(self, path: str) -> Any:
        request = urllib.request.Request(f"{self.base_url}{path}")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise GatewayError(f"{self.base_url}{path} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GatewayUnreachable(
                f"no gateway answers at {self.base_url} ({reason}); is `gateway run` running "
                "with this configuration?"
            ) from None
