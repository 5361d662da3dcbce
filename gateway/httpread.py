"""Read a peer's HTTP answer (aiohttp) within a limit.

``response.read()`` takes whatever the peer sends into memory: a broken or
hostile server, or a proxy in between, could send gigabytes. The clients
that talk to agencies, access points and the ERP read through these
functions instead, each with a limit that fits what its peer may legitimately
say.
"""

from __future__ import annotations

import aiohttp

# Small enough that a stopped answer leaves at most this much past the limit in memory.
_CHUNK = 64 * 1024


class AnswerTooLarge(Exception):
    """The answer is larger than ``limit`` bytes; reading stopped there."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        said = (f"announced {declared} bytes" if declared is not None
                else "went on past that")
        super().__init__(f"the answer is larger than the {limit} bytes the gateway reads "
                         f"({said}); reading stopped there")
        self.limit = limit
        self.declared = declared


async def read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """The whole body of ``response``, or AnswerTooLarge once it passes ``limit`` bytes.

    The connection of an answer stopped half-way is closed, not reused: the
    rest of the body would be read as the next answer.
    """
    declared = response.content_length
    if declared is not None and declared > limit:
        _hang_up(response)
        raise AnswerTooLarge(limit, declared)
    chunks: list[bytes] = []
    size = 0
    # Counted after decompression: a small gzip answer may unpack to any size.
    async for chunk in response.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            _hang_up(response)
            raise AnswerTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_head(response: aiohttp.ClientResponse, limit: int) -> bytes:
    """At most the first ``limit`` bytes of the body of ``response``, for quoting.

    For answers whose status says it all: the rest is not read, and the
    connection is closed if anything was left.
    """
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await response.content.read(min(_CHUNK, limit - size))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    if not response.content.at_eof():
        _hang_up(response)
    return b"".join(chunks)


def _hang_up(response: aiohttp.ClientResponse) -> None:
    """Drop the connection of an answer not read to its end.

    ``close()`` alone keeps a TLS connection open for an orderly shutdown,
    waiting up to 30 s for the peer's close_notify, which a peer that goes on
    sending never gives. Aborting the transport ends it at once.
    """
    connection = response.connection
    transport = None if connection is None else connection.transport
    if transport is not None:
        transport.abort()
    response.close()


__all__ = ["AnswerTooLarge", "read_bounded", "read_head"]
