"""What the digipoort channel tests share: a test PKI, sample documents, channel settings.

``pki`` and ``standards`` are fixtures: a test module imports them (and names
them in its ``__all__``) to use them.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pipeline_support import FAST

from gateway.channels import InboundDocument
from gateway.paths import STANDARDS_DIR_ENV
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.service import GatewayService
from gateway.store import StoreError
from plugins.digipoort.wus.pki import DIGIPOORT_KVK, Pki, make_pki, supplier_serial_number

SUPPLIER_KVK = "30097265"  # the supplier of the UBL-OHNL samples
AGENCY_OIN = "00000001003227522000"  # the ministry of the UBL-OHNL samples


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Digipoort's and the sample supplier's certificates, from one test CA."""
    return make_pki(tmp_path_factory.mktemp("pki"), kvk_numbers=(SUPPLIER_KVK,))


@pytest.fixture(autouse=True)
def standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The installed standards (the koppelvlak XSD) for every channel and simulator started."""
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@cache
def registry() -> Registry:
    return build_registry(make_plugin_manager())


def sample(format_key: str, index: int = 0) -> bytes:
    """A document the format's plugin vouches for, encoded."""
    fmt = registry().format(format_key)
    chosen = fmt.samples()[index]
    return fmt.encode(chosen.document, chosen.context)


def invoice_19() -> bytes:
    return sample("ubl-ohnl:invoice:1.9")


def order_19() -> bytes:
    return sample("ubl-ohnl:order:1.9")


async def database_away(document: InboundDocument) -> str:
    """An inbound sink that cannot store now: the document is to be kept and offered again."""
    raise StoreError(f"cannot store {document.transport_id}: the database is away")


def client_settings(pki: Pki, **extra: Any) -> dict[str, Any]:
    """Channel settings with the supplier's test certificate and the test CA pinned."""
    supplier = pki.suppliers.get(SUPPLIER_KVK) or pki.supplier
    return {
        "environment": "simulator",
        "aanlever_url": "https://127.0.0.1:1/unused",
        "status_url": "https://127.0.0.1:1/unused",
        "certificate": str(supplier.cert),
        "private_key": str(supplier.key),
        "server_ca": str(pki.ca),
        "belanghebbende_nummer": SUPPLIER_KVK,
        **extra,
    }


def aflever_settings(pki: Pki, **extra: Any) -> dict[str, Any]:
    """An AfleverService on a free loopback port, trusting the test CA's clients."""
    return client_settings(
        pki, aflever_listen="127.0.0.1:0", aflever_certificate=str(pki.server.cert),
        aflever_private_key=str(pki.server.key), aflever_client_ca=str(pki.ca),
        aflever_client_ids=[supplier_serial_number(DIGIPOORT_KVK)], **extra)


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value).lower() if isinstance(value, bool) else str(value)


def gateway_config(tmp_path: Path, channel: dict[str, Any],
                   standards_dir: Path | None = None) -> Path:
    """A gateway config routing the sample agency's invoices to a digipoort channel."""
    table = "\n".join(f"{key} = {toml_value(value)}" for key, value in channel.items())
    standards = ("" if standards_dir is None else
                 f"standards_dir = {toml_value(str(standards_dir))}")
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:0"
data_dir = {toml_value(str(tmp_path / "data"))}
token = "test-token"
database = {toml_value(f"sqlite:///{tmp_path / 'gateway.db'}")}
{standards}

[supplier]
name = "Kantoorartikelen Jansen BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.digipoort]
{table}

[agencies."{AGENCY_OIN}"]
name = "Ministerie van Voorbeeldzaken"
default_channel = "digipoort"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "ubl-ohnl:invoice:1.9"
""", "utf-8")
    return path


@contextlib.asynccontextmanager
async def gateways(tmp_path: Path) -> AsyncIterator[
        Callable[[dict[str, Any]], Awaitable[GatewayService]]]:
    """Starts gateways whose digipoort channel has the given settings; stops them after."""
    services: list[GatewayService] = []

    async def start(channel: dict[str, Any]) -> GatewayService:
        service = GatewayService(gateway_config(tmp_path, channel), make_plugin_manager(),
                                 dispatch=FAST)
        await service.start()
        services.append(service)
        assert "digipoort" in service.channels, service.channel_problems
        return service

    try:
        yield start
    finally:
        for service in services:
            await service.stop()
