"""The ``folder`` channel: documents as files in directories.

The simplest integration for an ERP or an access point that works on files.
Outbound documents are written atomically (temporary file, fsync, rename), so a
reader never sees half a file. Inbound documents are picked up from an inbox
folder, handed to the gateway, and only then moved to ``done/`` (or to
``error/`` with a note when the gateway refused them). A file changed within the
last second is taken only once it stays unchanged that long (a producer writing
under the final name), and producers' temporary names (``.part``, ``.filepart``,
``.tmp``, ``.partial``, ``.crdownload``, ``~``, dot files) are left alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from gateway.channels import ChannelContract, ChannelType, FailureCase
from gateway.hookspecs import hookimpl
from gateway.registry import Registry

from .channel import FolderChannel

__version__ = "1.0.0"


@asynccontextmanager
async def _writable(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    yield {"path": str(scratch / "out"), "inbox": str(scratch / "in")}


@asynccontextmanager
async def _read_only(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    # A file where the outbound folder should be: no retry can fix that.
    blocker = scratch / "not-a-folder"
    blocker.write_bytes(b"")
    yield {"path": str(blocker)}


@hookimpl
def register_channels(registry: Registry) -> None:
    registry.add_channel(
        ChannelType(
            name="folder",
            factory=FolderChannel,
            description="Write outbound documents to a folder; pick inbound documents up from one",
            settings_help={
                "path": "outbound folder; one sub-folder per agency OIN",
                "inbox": "inbound folder to watch (optional)",
                "poll_interval": "seconds between inbox scans (default 2)",
                "settle": "seconds a new inbox file must stay unchanged before it is taken "
                          "(default 1)",
            },
            contract=ChannelContract(
                working=_writable,
                failures=(FailureCase("outbound path is a file", _read_only, "final"),),
            ),
        )
    )
