"""Two or more gateway instances on one database, as two machines of one installation.

Each instance has its own folder (data directory, port) and the same
database; the tests name the one channel the agency is routed to.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from pipeline_support import AGENCY_OIN, SUPPLIER_KVK
from test_portal import free_port

from gateway.service import GatewayService


@contextlib.asynccontextmanager
async def running(services: Iterable[GatewayService]) -> AsyncIterator[list[GatewayService]]:
    """Start the services one after another; stop every one that started, whatever happens.

    ``services`` may be a generator: each is made once the one before it runs.
    """
    started: list[GatewayService] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
        yield started
    finally:
        for service in started:
            await service.stop()


def instance_config(folder: Path, database: str, channel: str, table: str, *,
                    invoice_format: str | None = "canonical:invoice:1", token: str = "test-token",
                    gateway_extra: str = "") -> Path:
    """``folder/gateway.toml`` routing the supplier's agency to ``[channels.<channel>]``.

    ``table`` holds that channel's settings; ``invoice_format`` None routes no
    invoice format (the channel only receives).
    """
    folder.mkdir()
    path = folder / "gateway.toml"
    invoices = "" if invoice_format is None else f"""
[agencies."{AGENCY_OIN}".documents.invoice]
format = "{invoice_format}"
"""
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:{free_port()}"
data_dir = {str(folder / "data")!r}
database = {database!r}
token = "{token}"
{gateway_extra}

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.{channel}]
{table}

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "{channel}"
{invoices}""", "utf-8")
    return path
