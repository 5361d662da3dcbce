"""Where inbound documents go: the ERP's webhook or a folder it reads.

A target answers every delivery with the same three outcomes a channel
gives (:class:`~gateway.channels.Accepted`, ``RetryableError``,
``FinalError``), so the worker records them exactly as the dispatcher does.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Protocol

import aiohttp

from gateway.channels import (
    Accepted,
    FinalError,
    RetryableError,
    SendOutcome,
    retry_after_header,
)
from gateway.config.model import ErpSettings
from gateway.delivery.envelope import envelope_bytes, file_stem, raw_extension
from gateway.delivery.signing import (
    ATTEMPT_HEADER,
    MESSAGE_ID_HEADER,
    SIGNATURE_HEADER,
    signature_header,
)
from gateway.errors import ConfigError, redact_urls
from gateway.fileio import write_atomically
from gateway.httpread import read_head
from gateway.store import MessageRecord

log = logging.getLogger(__name__)

# An ERP's error page can be long; the dead letter needs its gist, not all of it.
MAX_ANSWER_CHARS = 500
# 408 and 429 are the ERP saying "later", not "never".
RETRYABLE_4XX = frozenset({408, 429})


class Target(Protocol):
    async def deliver(self, record: MessageRecord) -> SendOutcome: ...

    async def close(self) -> None: ...


class WebhookTarget:
    """POSTs the signed envelope to ``webhook_url``; 2xx is delivered."""

    def __init__(self, settings: ErpSettings) -> None:
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, record: MessageRecord) -> SendOutcome:
        try:
            secret = self.settings.webhook_secret()
        except ConfigError as exc:
            return RetryableError(str(exc), code="no-webhook-secret")
        body = envelope_bytes(record, include_raw=self.settings.include_raw)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: signature_header(secret, body),
            MESSAGE_ID_HEADER: record.id,
            ATTEMPT_HEADER: str(record.attempts),
        }
        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = self.settings.webhook_url or ""
        timeout = aiohttp.ClientTimeout(total=self.settings.webhook_timeout)
        try:
            async with self._session.post(url, data=body, headers=headers, timeout=timeout,
                                          allow_redirects=False) as response:
                # The status decides; the body is only quoted, so no more of it is read
                # than that takes, however much the ERP (or a proxy) sends.
                head = await read_head(response, MAX_ANSWER_CHARS * 4)
                answer = _decoded(head, response.charset)[:MAX_ANSWER_CHARS]
                return classify(response.status, answer, response.headers.get("Retry-After"))
        except TimeoutError:
            return RetryableError(
                f"the ERP webhook did not answer within {self.settings.webhook_timeout:g} s",
                code="timeout")
        except aiohttp.ClientError as exc:
            # aiohttp quotes the URL, a basic-auth password with it: this reason is stored
            # and shown by the API and the CLI.
            return RetryableError(
                f"cannot reach the ERP webhook: {type(exc).__name__}: {redact_urls(str(exc))}",
                code="connection")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _decoded(head: bytes, charset: str | None) -> str:
    try:
        return head.decode(charset or "utf-8", "replace")
    except LookupError:  # a charset Python does not know: the gist is still readable
        return head.decode("utf-8", "replace")


def classify(status: int, answer: str, retry_after: str | None = None) -> SendOutcome:
    """The outcome of an HTTP answer from the ERP."""
    said = f"the ERP answered HTTP {status}" + (f": {answer.strip()}" if answer.strip() else "")
    if 200 <= status < 300:
        return Accepted(f"http-{status}", detail=said)
    if status >= 500 or status in RETRYABLE_4XX:
        return RetryableError(said, code=f"http-{status}",
                              retry_after=retry_after_header(retry_after))
    # 3xx is not followed: a moved webhook is a configuration change, not a retry.
    return FinalError(said, code=f"http-{status}")


class FolderTarget:
    """Writes ``<kind>-<number>-<id>.json`` (and ``....raw.xml``, the raw bytes) into ``folder``.

    The raw file goes first, so an ERP that picks up the JSON finds its raw
    companion already in place; each appears by an atomic rename, never half.
    """

    def __init__(self, settings: ErpSettings) -> None:
        assert settings.folder is not None  # the loader requires it for folder delivery
        self.folder: Path = settings.folder
        self.include_raw = settings.include_raw

    async def deliver(self, record: MessageRecord) -> SendOutcome:
        stem = file_stem(record)
        body = envelope_bytes(record)
        try:
            if self.include_raw and record.raw_payload is not None:
                raw_name = f"{stem}.raw{raw_extension(record.raw_payload)}"
                await asyncio.to_thread(write_atomically, self.folder / raw_name,
                                        record.raw_payload)
            await asyncio.to_thread(write_atomically, self.folder / f"{stem}.json", body)
        except OSError as exc:
            return RetryableError(f"cannot write into {self.folder}: {exc}", code="folder")
        return Accepted(f"{stem}.json", detail=f"written to {self.folder}")

    async def close(self) -> None:
        return None


def make_target(settings: ErpSettings) -> Target | None:
    """The target for ``settings``; None for poll delivery, which pushes nothing."""
    if settings.delivery == "webhook":
        return WebhookTarget(settings)
    if settings.delivery == "folder":
        return FolderTarget(settings)
    return None
