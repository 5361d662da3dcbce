"""The first stop of every inbound document: durable storage of the raw bytes.

A channel may acknowledge a document to its sender only after
:meth:`RawInbox.store` returned: the bytes are then on disk (written to a
temporary file, synced, renamed), so a crash right after the acknowledgement
loses nothing. Detection, decoding and delivery to the ERP come after this.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

from gateway.channels import InboundDocument
from gateway.fileio import write_atomically


class RawInbox:
    """Raw inbound documents as files under ``<data_dir>/inbox``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def store(self, document: InboundDocument) -> str:
        message_id = uuid.uuid4().hex
        meta: dict[str, object] = {
            "id": message_id,
            "channel": document.channel,
            "transport_id": document.transport_id,
            "sender": document.sender,
            "filename": document.filename,
            "metadata": dict(document.metadata),
            "size": len(document.data),
        }
        await asyncio.to_thread(self._write, message_id, document.data, meta)
        return message_id

    def _write(self, message_id: str, data: bytes, meta: dict[str, object]) -> None:
        # The payload first: a metadata file never points at bytes that are not there.
        write_atomically(self.directory / f"{message_id}.bin", data)
        write_atomically(self.directory / f"{message_id}.json", json.dumps(meta).encode())

    def list(self) -> list[dict[str, object]]:
        return [json.loads(p.read_text()) for p in sorted(self.directory.glob("*.json"))]
