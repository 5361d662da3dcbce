"""Inboxes read regular files of their own only: a symbolic link is refused, not followed.

Whoever may drop files into an inbox (an SFTP account, a shared folder)
seldom may read the gateway's own files; a link named order.xml pointing at
its configuration or private key must not be stored as a document. A file
over the size limit is refused before it is read.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from test_folder import inbox_config

from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from plugins.folder.channel import FolderChannel

SECRET = (b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"
          b"-----END PRIVATE KEY-----\n")


async def test_a_symlink_in_the_inbox_is_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "private" / "client.key"
    secret.parent.mkdir()
    secret.write_bytes(SECRET)
    service = GatewayService(inbox_config(tmp_path), make_plugin_manager())
    await service.start()
    try:
        inbox = tmp_path / "data" / "inbox"
        os.symlink(secret, inbox / "order.xml")
        channel = service.channels["drop"]
        assert isinstance(channel, FolderChannel)
        for _ in range(100):
            await channel.scan_once()
            if not (inbox / "order.xml").is_symlink():
                break
            await asyncio.sleep(0.01)
        assert service.store is not None
        page = await service.store.list_messages(channel="drop")
        stored = [await service.store.get(item.id) for item in page.items]
        leaked = [r.id for r in stored if r is not None and r.raw_payload == SECRET]
        assert leaked == [], "the file behind the link was stored as a document"
        # The link is set aside with a reason, so whoever drops files sees it was refused.
        assert (inbox / "error" / "order.xml").is_symlink()
        assert "not a regular file" in (inbox / "error" / "order.xml.error.txt").read_text()
    finally:
        await service.stop()
