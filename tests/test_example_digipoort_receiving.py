"""examples/gateway.toml receives over Digipoort from the simulator `make run` starts.

Its digipoort channel had no AfleverService, and the simulator delivered to
none: nothing ever arrived over Digipoort. The example's receiving settings
must parse, name the files of the test PKI the simulator writes into the data
directory, and accept what that simulator delivers where scripts/run-local.sh
points it.
"""

from __future__ import annotations

import itertools
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from digipoort_channel_support import gateway_config, standards
from pipeline_support import FAST

from gateway.config import load_config
from gateway.kinds import Direction
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.settings import parse_settings
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus.pki import DIGIPOORT_KVK, supplier_serial_number

__all__ = ["standards"]  # the shared fixture, used by the tests here

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
RUN_LOCAL = ROOT / "scripts" / "run-local.sh"


def example_table() -> dict[str, Any]:
    channel = load_config(EXAMPLE).channels["digipoort"]
    assert channel.enabled
    return dict(channel.settings)


def simulator_options() -> dict[str, str]:
    """The options scripts/run-local.sh starts the Digipoort simulator with."""
    script = RUN_LOCAL.read_text("utf-8").replace("\\\n", " ")
    [line] = [each for each in script.splitlines() if "simulate digipoort" in each]
    words = shlex.split(line.rstrip("& "))
    return {word: value for word, value in itertools.pairwise(words)
            if word.startswith("--")}


def test_the_example_receives_through_an_aflever_service_the_simulator_delivers_to() -> None:
    settings = parse_settings("digipoort", example_table())
    options = simulator_options()
    assert settings.aflever_listen is not None
    target = urlsplit(options["--deliver-to"])
    assert target.scheme == "https"
    assert target.port == settings.aflever_listen[1]
    assert target.hostname in ("localhost", "127.0.0.1")
    # The test PKI is where the channel's relative file names point: in the data directory.
    assert options["--pki-dir"] == "$DATA/digipoort-pki"
    assert "--control-listen" in options
    pki = Path("digipoort-pki")
    assert settings.aflever_certificate == pki / "server.pem"
    assert settings.aflever_private_key == pki / "server.key"
    assert settings.aflever_client_ca == pki / "ca.pem"
    assert settings.aflever_client_ids == (supplier_serial_number(DIGIPOORT_KVK),)
    assert not settings.ophaal


def test_the_simulator_and_the_aflever_service_share_loopback_ports_of_make_run() -> None:
    options = simulator_options()
    ports = {int(options["--listen"].rpartition(":")[2]),
             int(options["--control-listen"].rpartition(":")[2]),
             parse_settings("digipoort", example_table()).aflever_listen[1],  # type: ignore[index]
             int(re.findall(r'listen = "[^"]*:(\d+)"', EXAMPLE.read_text("utf-8"))[0])}
    assert len(ports) == 4, ports  # the simulator, its control API, the AfleverService, the API


async def test_a_sample_order_reaches_the_example_channel_from_the_simulator(
        tmp_path: Path) -> None:
    """The example's Digipoort table, its ports moved, against the simulator as `make run`
    starts it: the test PKI it makes in the data directory, delivering to localhost."""
    data = tmp_path / "data"
    options = simulator_options()
    async with DigipoortSimulator(SimulatorSettings(
            pki_dir=data / "digipoort-pki", control_listen=("127.0.0.1", 0))) as simulator:
        table = example_table()
        table.update(aanlever_url=simulator.aanlever_url, status_url=simulator.status_url,
                     aflever_listen="127.0.0.1:0")
        service = GatewayService(gateway_config(tmp_path, table), make_plugin_manager(),
                                 dispatch=FAST)
        await service.start()
        try:
            channel = service.channels.get("digipoort")
            assert isinstance(channel, DigipoortChannel), service.channel_problems
            assert channel.aflever is not None
            port = channel.aflever.url.rstrip("/").rpartition(":")[2]
            host = urlsplit(options["--deliver-to"]).hostname
            simulator.settings.deliver_to = f"https://{host}:{port}/"
            async with aiohttp.ClientSession() as session, session.post(
                    f"{simulator.control_url}/control/deliveries",
                    json={"sample": "order"}) as response:
                answer = await response.json()
            assert response.status == 201, answer
            assert service.store is not None
            page = await service.store.list_messages(direction=Direction.INBOUND)
            [record] = page.items
            assert record.document_kind == "order"
            assert record.transport_id == answer["deliveries"][0]["kenmerk"]
        finally:
            await service.stop()
