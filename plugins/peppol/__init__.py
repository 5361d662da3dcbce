"""The ``peppol`` channel: documents to and from agencies through a Peppol access point.

Outbound documents are wrapped in an SBDH (:mod:`.sbdh`) and handed to the
access point over its HTTP API (:mod:`.ap_client`) or through a folder;
receipts become delivery states. Inbound documents (orders, Invoice
Responses, Message Level Responses) arrive on a webhook or in a folder;
responses also move the state of the invoice they answer
(:mod:`.responses`). ``gateway simulate peppol`` (:mod:`.simulator`) is a
local access point to rehearse against. README.md documents the access
point API and the simulator.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from gateway.channels import (
    ChannelContract,
    ChannelType,
    FailureCase,
    OutboundMessage,
    StatusCase,
)
from gateway.cli.simulate import add_simulator
from gateway.hookspecs import hookimpl
from gateway.kinds import DocumentKind
from gateway.registry import Registry

from .channel import PeppolChannel
from .simulator import PeppolSimulator, SimulatorSettings, simulate_peppol

__version__ = "1.0.0"

CONTRACT_SENDER = "0106:30097265"
# The smallest payload that addresses itself: root, CustomizationID and ProfileID.
CONTRACT_PAYLOAD = b"""<?xml version="1.0" encoding="UTF-8"?>
<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
         xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
  <cbc:CustomizationID>urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0</cbc:CustomizationID>
  <cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID>
  <cbc:ID>CONTRACT-1</cbc:ID>
</Invoice>
"""
CONTRACT_MESSAGE = OutboundMessage(
    message_id="contract-kit-peppol-0001", agency_oin="00000099003214345001",
    kind=DocumentKind.INVOICE, format_key="peppol-bis:invoice:3.0", payload=CONTRACT_PAYLOAD,
    filename="CONTRACT-1.xml", business_key="contract-kit/invoice/CONTRACT-1")


@asynccontextmanager
async def _simulated(faults: tuple[str, ...]) -> AsyncIterator[Mapping[str, Any]]:
    simulator = PeppolSimulator(SimulatorSettings(listen="127.0.0.1:0", validate=False,
                                                  faults=faults))
    await simulator.start()
    try:
        yield {"access_point": simulator.url, "sender_id": CONTRACT_SENDER, "timeout": 5}
    finally:
        await simulator.stop()


@asynccontextmanager
async def _working(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _simulated(()) as settings:
        yield settings


@asynccontextmanager
async def _refusing(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _simulated(("400:1000",)) as settings:
        yield settings


@asynccontextmanager
async def _down(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    yield {"access_point": f"http://127.0.0.1:{port}", "sender_id": CONTRACT_SENDER,
           "timeout": 2}


@hookimpl
def register_channels(registry: Registry) -> None:
    registry.add_channel(
        ChannelType(
            name="peppol",
            factory=PeppolChannel,
            description="Send and receive through a Peppol access point (HTTP API or folders), "
                        "with SBDH, receipts and Invoice Responses",
            settings_help={
                "access_point": "base URL of the access point API (POST /outbound)",
                "token_env": "environment variable holding the access point API token",
                "outbox_dir": "or: folder the access point collects SBDH files from",
                "receipts_dir": "folder the access point writes receipts into (outbox mode)",
                "inbound_listen": "host:port of the webhook the access point delivers to "
                                  "(POST /inbound)",
                "inbound_secret_env": "environment variable holding the webhook secret "
                                      "(X-Webhook-Secret header); required with inbound_listen",
                "inbox_dir": "folder the access point delivers SBDH files into",
                "poll_interval": "seconds between receipt polls and inbox scans (default 5)",
                "timeout": "seconds to wait for the access point (default 30)",
                "receipt_deadline": "seconds after the send within which a receipt must come; "
                                    "then the message fails with no-receipt (default 86400, "
                                    "a day)",
                "sender_id": "our participant id, e.g. 9944:NL...B01 (default: supplier "
                             "peppol_id)",
                "country": "COUNTRY_C1 in the SBDH (default NL)",
            },
            # Peppol BIS and the Dutch CIUS on it (SI-UBL 2.0 / NLCIUS, with or without a
            # G-account); an access point has no document type for UBL-OHNL or SETU.
            carries=frozenset({"peppol-bis", "nlcius", "nlcius-gaccount"}),
            contract=ChannelContract(
                working=_working,
                failures=(FailureCase("access point answers 400", _refusing, "final"),
                          FailureCase("access point down", _down, "retryable")),
                message=CONTRACT_MESSAGE,
                # The simulated access point has the transmission's receipt at once.
                status=StatusCase(settings={"poll_interval": 0.2}, within=15),
            ),
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    add_simulator(cli, simulate_peppol)
