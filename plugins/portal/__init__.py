"""The ``portal`` channel: the Leveranciersportaal, a website a person works in.

Each outbound document becomes a task with an export bundle (see
:mod:`plugins.portal.bundle`); operators list, download, close and cancel
tasks with ``gateway portal`` or the API, and import what the portal shows
them. See README.md beside this file.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from gateway.channels import ChannelContract, ChannelType, FailureCase, OutboundMessage
from gateway.hookspecs import hookimpl
from gateway.kinds import DocumentKind
from gateway.registry import Registry

from .channel import PortalChannel

__version__ = "1.0.0"


@asynccontextmanager
async def _writable(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    yield {"export_dir": str(scratch / "tasks"), "pdf": False}


@asynccontextmanager
async def _blocked(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    # A file where the export folder should be: a person must fix that first.
    blocker = scratch / "not-a-folder"
    blocker.write_bytes(b"")
    yield {"export_dir": str(blocker), "pdf": False}


# In a format the portal takes: the gateway routes no other to it.
CONTRACT_MESSAGE = OutboundMessage(
    message_id="contract-kit-0001",
    agency_oin="00000099003214345001",
    kind=DocumentKind.INVOICE,
    format_key="peppol-bis:invoice:3.0",
    payload=b"<?xml version='1.0'?>"
            b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>",
    filename="invoice.xml",
    business_key="contract-kit/invoice/0001",
)


@hookimpl
def register_channels(registry: Registry) -> None:
    registry.add_channel(
        ChannelType(
            name="portal",
            # The channel reads an XML import before it is stored, with the gateway's own
            # formats: the registry this hook fills, which the core builds channels from.
            factory=functools.partial(PortalChannel, registry=registry),
            description="Supplier portal (Leveranciersportaal): each document becomes a task "
                        "with an export bundle, closed by a person",
            settings_help={
                "export_dir": "folder for task bundles, one sub-folder per task",
                "warn_after": "age at which an open task is a warning, e.g. \"3d\" (default 3d)",
                "pdf": "print the rendering to PDF when a tool is found (default true)",
            },
            # What the portal takes as an upload: the DigiInkoop message sets and the e-invoice
            # formats of the Basisfactuur Rijk; and canonical JSON, whose bundle is the
            # readable page a person types into the portal's web form.
            carries=frozenset({"ubl-ohnl", "setu-ohnl", "nlcius", "nlcius-gaccount",
                               "peppol-bis", "canonical"}),
            contract=ChannelContract(
                working=_writable,
                failures=(FailureCase("export_dir is a file", _blocked, "final"),),
                message=CONTRACT_MESSAGE,
            ),
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .cli import portal

    cli.add_command(portal)
