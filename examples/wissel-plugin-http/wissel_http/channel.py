"""The ``http-post`` channel instance."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from gateway.channels import (
    Accepted,
    Channel,
    ChannelContext,
    FinalError,
    OutboundMessage,
    RetryableError,
    SendOutcome,
)

# Statuses after which the same request may well succeed later.
RETRYABLE_STATUSES = {408, 425, 429}


class HttpPostChannel(Channel):
    type_name = "http-post"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        if not str(settings.get("url", "")).startswith(("http://", "https://")):
            raise ValueError(f"channel {name!r}: 'url' must be an http:// or https:// address")
        self.url = str(settings["url"])
        self.timeout = aiohttp.ClientTimeout(total=float(settings.get("timeout", 30)))
        self._session: aiohttp.ClientSession | None = None

    async def start(self, context: ChannelContext) -> None:
        self._session = aiohttp.ClientSession(timeout=self.timeout)

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: OutboundMessage) -> SendOutcome:
        if self._session is None:
            return RetryableError(f"channel {self.name!r} is not started")
        headers = {
            "Content-Type": message.media_type,
            "Idempotency-Key": message.message_id,
            "X-Agency-OIN": message.agency_oin,
            "X-Format": message.format_key,
        }
        try:
            # No redirects: aiohttp follows 301/302/303 for a POST as a GET without the
            # body, and a 200 to that GET would pass for an accepted document.
            async with self._session.post(self.url, data=message.payload, headers=headers,
                                          allow_redirects=False) as response:
                body = (await response.text(errors="replace"))[:200]
                status = response.status
                remote_id = response.headers.get("X-Message-Id") or response.headers.get(
                    "Location")
        except TimeoutError:
            return RetryableError(f"no answer from {self.url} within {self.timeout.total} s",
                                  code="timeout", transport_id=message.transport_id)
        except aiohttp.ClientError as exc:
            return RetryableError(f"cannot reach {self.url}: {exc}", code="connection",
                                  transport_id=message.transport_id)
        if 200 <= status < 300:
            # A retry keeps the id the first attempt obtained.
            return Accepted(message.transport_id or remote_id or message.message_id,
                            detail=f"HTTP {status}")
        reason = f"{self.url} answered HTTP {status}: {body.strip() or '(no body)'}"
        if 300 <= status < 400:
            reason += f" (moved to {remote_id or '?'}: configure that URL)"
        if status in RETRYABLE_STATUSES or status >= 500:
            return RetryableError(reason, code=str(status), transport_id=message.transport_id)
        return FinalError(reason, code=str(status), transport_id=message.transport_id)
