"""The ``digipoort`` plugin: the Digipoort WUS channel, its simulator and the conformance runner.

``wus/`` is the protocol library, ``simulator/`` a local Digipoort; the
channel (``channel.py``, with ``aflever.py`` and ``ophaal.py`` for inbound
documents and ``status.py`` for reading statuses) and ``gateway conformance``
(``conformance.py``) build on both. Heavy modules load only when a channel or
command is used, so ``gateway --help`` stays quick.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from gateway.channels import (
    Channel,
    ChannelContract,
    ChannelType,
    FailureCase,
    OutboundMessage,
    StatusCase,
)
from gateway.hookspecs import hookimpl
from gateway.kinds import DocumentKind
from gateway.registry import Registry

from .wus.berichtsoorten import BERICHTSOORTEN

__version__ = "1.0.0"

CONTRACT_KVK = "30097265"


def _channel(name: str, settings: Mapping[str, Any]) -> Channel:
    from .channel import DigipoortChannel

    return DigipoortChannel(name, settings)


@asynccontextmanager
async def _simulator(scratch: Path, **changes: Any) -> AsyncIterator[Mapping[str, Any]]:
    """A simulator with a fresh test PKI in ``scratch``; yields settings that reach it."""
    from .simulator import DigipoortSimulator, SimulatorSettings
    from .simulator.settings import Fault
    from .wus.pki import make_pki

    pki = make_pki(scratch / "pki", kvk_numbers=(CONTRACT_KVK,))
    inject: list[Fault] = changes.pop("inject", [])
    extra: dict[str, Any] = changes.pop("channel", {})
    # The kit's message is a bare invoice element: the wire is under test, not the content.
    simulator = DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder, validate_payload=False,
                                                     **changes))
    await simulator.start()
    for fault in inject:
        simulator.inject(fault)
    supplier = pki.suppliers[CONTRACT_KVK]
    try:
        yield {
            "environment": "simulator", "aanlever_url": simulator.aanlever_url,
            "status_url": simulator.status_url, "certificate": str(supplier.cert),
            "private_key": str(supplier.key), "server_ca": str(pki.ca),
            "belanghebbende_nummer": CONTRACT_KVK, **extra,
        }
    finally:
        await simulator.stop()


@asynccontextmanager
async def _working(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _simulator(scratch) as settings:
        yield settings


@asynccontextmanager
async def _aanlever_fault(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _simulator(scratch, channel={"aanleverkenmerk_scenario": "AanleverFault"}) as s:
        yield s


@asynccontextmanager
async def _overloaded(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    async with _simulator(scratch, overload_refusals=100,
                          channel={"aanleverkenmerk_scenario": "OverbelastAanleveren"}) as s:
        yield s


@asynccontextmanager
async def _no_answer(scratch: Path) -> AsyncIterator[Mapping[str, Any]]:
    from .simulator.settings import Fault, FaultKind

    async with _simulator(scratch, inject=[Fault(FaultKind.TIMEOUT, count=5, delay=3.0)],
                          channel={"request_timeout": 0.5}) as settings:
        yield settings


# What the channel can put on an envelope: the documents of every active berichtsoort, in
# any version of their standard (a UBL-OHNL 2.0 invoice would still be a FACTUUR-UBL).
CARRIES = frozenset(b.format_prefix for b in BERICHTSOORTEN if b.active)

CONTRACT_MESSAGE = OutboundMessage(
    message_id="contract-kit-0001",
    agency_oin="00000099003214345001",
    kind=DocumentKind.INVOICE,
    format_key="ubl-ohnl:invoice:1.9",
    payload=b"<?xml version='1.0'?>"
            b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>",
    filename="invoice.xml",
    business_key="contract-kit/invoice/0001",
)

SETTINGS_HELP = {
    "environment": "simulator, conformance (Aansluit Suite), preproductie, productie, "
                   "preproductie-2026 or productie-2026 (default simulator)",
    "aanlever_url / status_url / ophaal_url": "explicit service addresses; required for "
                                              "the simulator, override the environment's",
    "certificate / private_key": "PKIoverheid certificate and key (PEM), for TLS and signing",
    "private_key_passphrase_env": "environment variable holding the key's passphrase",
    "server_ca": "CA bundle Digipoort's TLS certificate must chain to (pinned)",
    "signature_ca": "CA bundle for Digipoort's response signatures (default server_ca)",
    "signature_ids": "subject serialNumbers (OIN) of the certificates that may sign "
                     "Digipoort's answers, since signature_ca also certifies other "
                     "organisations (default: the organisation of the TLS server certificate "
                     "the answer came with)",
    "signature_algorithm": "rsa-sha1 (published policy, default) or rsa-sha256",
    "autorisatie_adres": "AuSP address on every request (default http://geenausp.nl)",
    "belanghebbende_identity": "kvk (default) or oin: which supplier number to send",
    "belanghebbende_nummer": "the belanghebbende number itself (default: from [supplier] as "
                             "belanghebbende_identity says)",
    "belanghebbende_type / belanghebbende_rol": "identity type and role (default KvK, Bedrijf)",
    "ontvanger_type / ontvanger_rol": "the agency's identity type (default OIN) and role",
    "status_poll_interval": "seconds between StatusinformatieService rounds (default 60)",
    "status_batch": "waiting messages asked about per round (default 200)",
    "status_deadline": "seconds without a new status after which a process is no longer "
                       "asked about: no-status before the agency has it, polling-stopped "
                       "after (default 345600, 4 days)",
    "aflever_listen": "host:port of our AfleverService (inbound, two-way TLS)",
    "aflever_client_ca": "CA bundle whose client certificates may deliver (required with it)",
    "aflever_client_ids": "subject serialNumbers (OIN) of Digipoort's client certificates, "
                          "the only ones that may deliver (required with it)",
    "aflever_certificate / aflever_private_key": "server certificate for the AfleverService "
                                                 "(default: certificate)",
    "ophaal": "true: fetch inbound documents from the OphaalService instead",
    "ophaal_poll_interval": "seconds between OphaalService rounds (default 300)",
    "request_timeout": "seconds to wait for one answer (default 60)",
    "aanleverkenmerk_scenario": "rehearsal only: every aanlevering selects this Aansluit "
                                "Suite scenario",
}


@hookimpl
def register_channels(registry: Registry) -> None:
    registry.add_channel(
        ChannelType(
            name="digipoort",
            factory=_channel,
            description="Digipoort WUS 2.0: aanleveren with WS-Security over two-way TLS, "
                        "status polling, inbound AfleverService or OphaalService",
            settings_help=SETTINGS_HELP,
            carries=CARRIES,
            contract=ChannelContract(
                working=_working,
                failures=(
                    FailureCase("AanleverFault ALS100", _aanlever_fault, "final"),
                    FailureCase("overloaded AanleverService (ALS400)", _overloaded,
                                "retryable"),
                    FailureCase("no answer within request_timeout", _no_answer, "retryable"),
                ),
                message=CONTRACT_MESSAGE,
                # The simulator has the aanlevering's first statuses at once.
                status=StatusCase(settings={"status_poll_interval": 0.2}, within=15),
            ),
        )
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .conformance import conformance

    cli.add_command(conformance)
