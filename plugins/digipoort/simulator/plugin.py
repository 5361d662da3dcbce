"""Plugin entry point ``digipoort-simulator``: the ``gateway simulate digipoort`` command.

Only click and the hook marker are imported at start-up; the simulator itself
loads when the command runs, so ``gateway --help`` stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gateway.cli.simulate import add_simulator, configured_standards_dir
from gateway.eventloop import until_terminated
from gateway.hookspecs import hookimpl

if TYPE_CHECKING:
    from .simulator import DigipoortSimulator

# Where scripts/run-local.sh and examples/gateway.toml expect it; 8781 is the Peppol simulator's.
DEFAULT_LISTEN = "127.0.0.1:8783"


def parse_listen(value: str, option: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) into its parts."""
    host, sep, port = value.rpartition(":")
    if (not sep or not host or not (port.isascii() and port.isdigit())
            or not 0 <= int(port) <= 65535):
        raise click.BadParameter(f"expected HOST:PORT, got {value!r}", param_hint=option)
    return host.strip("[]"), int(port)


@click.command("digipoort")
@click.option("--listen", default=DEFAULT_LISTEN, show_default=True, metavar="HOST:PORT",
              help="Address to serve on; port 0 picks a free one.")
@click.option("--pki-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Folder with the test PKI; generated there when empty or missing. "
                   "Default: a temporary folder, removed on exit.")
@click.option("--trust", "trust", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="CA.pem",
              help="Accept client certificates issued by (or listed in) this PEM file; "
                   "repeatable. Default: the CA of the simulator's PKI.")
@click.option("--step-delay", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds between two statuses of an aanlevering.")
@click.option("--redelivery-delay", type=click.FloatRange(min=0),
              help="Seconds standing in for Digipoort's 72 hours of redelivery "
                   "(TechnischProbleemAfleveren). Default: 3 x --step-delay.")
@click.option("--slow-delay", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Seconds of delay in the Zwaarbelast* scenarios.")
@click.option("--algorithm", type=click.Choice(["rsa-sha1", "rsa-sha256"]), default="rsa-sha1",
              show_default=True, help="Signature algorithm of the simulator's responses.")
@click.option("--standards-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Installed standards (koppelvlak XSD, format XSD/Schematron). "
                   "Default: the gateway's standards directory, as its configuration "
                   "(--config) says.")
@click.option("--no-validate", is_flag=True,
              help="Do not check payloads against their berichtsoort's format.")
@click.option("--deliver-to", metavar="URL",
              help="The supplier's AfleverService, where agency documents are delivered "
                   "(POST /control/deliveries, --deliver-samples); one it cannot reach is "
                   "tried again for --redeliver-for seconds. Default: none, documents are "
                   "offered through the OphaalService.")
@click.option("--deliver-samples", is_flag=True,
              help="Once the simulator runs, deliver a sample order, staffing order and "
                   "timecard (to --deliver-to, else through the OphaalService).")
@click.option("--redeliver-for", type=click.FloatRange(min=0), default=600.0,
              show_default=True, metavar="SECONDS",
              help="How long a delivery the AfleverService does not take (not listening "
                   "yet, HTTP 5xx, a retryable afleverFault) is tried again.")
@click.option("--control-listen", metavar="HOST:PORT",
              help="Serve the control API (POST/GET /control/deliveries) over plain HTTP "
                   "here; it has no authentication, so keep it on loopback. Default: none.")
@click.option("--aflever-trust", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False, exists=True), metavar="CA.pem",
              help="CA bundle for the AfleverService's server certificate; "
                   "default: the simulator's CA.")
@click.option("--state-dir", type=click.Path(path_type=Path, file_okay=False), metavar="DIR",
              help="Keep every aanlevering in this folder and take them up again at the next "
                   "start, so status questions about them survive a restart. "
                   "Default: in memory only.")
def simulate_digipoort(
    listen: str, pki_dir: Path | None, trust: tuple[Path, ...], step_delay: float,
    redelivery_delay: float | None, slow_delay: float, algorithm: str,
    standards_dir: Path | None, no_validate: bool, deliver_to: str | None,
    deliver_samples: bool, redeliver_for: float, control_listen: str | None,
    aflever_trust: tuple[Path, ...], state_dir: Path | None,
) -> None:
    """A local Digipoort (WUS 1.2, two-way TLS) for rehearsals; see plugins/digipoort/README.md.

    Serves the Aanlever-, Statusinformatie- and OphaalService, walks every
    aanlevering through its statuses and plays the Aansluit Suite scenarios
    chosen by aanleverkenmerk. Stop it with Ctrl-C.
    """
    from ..wus import koppelvlak
    from ..wus.security import SecurityError
    from .settings import SimulatorSettings
    from .simulator import DigipoortSimulator

    host, port = parse_listen(listen)
    control = None if control_listen is None else parse_listen(control_listen, "--control-listen")
    # Also with --no-validate: the koppelvlak bodies are checked against the XSD in there.
    standards = standards_dir or configured_standards_dir()
    settings = SimulatorSettings(
        host=host, port=port, pki_dir=pki_dir, trust=trust, step_delay=step_delay,
        redelivery_delay=redelivery_delay, slow_delay=slow_delay,
        algorithm="rsa-sha256" if algorithm == "rsa-sha256" else "rsa-sha1",
        standards_dir=standards, validate_payload=not no_validate, deliver_to=deliver_to,
        aflever_trust=aflever_trust, state_dir=state_dir, redeliver_for=redeliver_for,
        control_listen=control,
    )
    simulator = DigipoortSimulator(settings)

    # Deliveries tried again, taken late or given up are told as they happen.
    shown = logging.getLogger("plugins.digipoort.simulator")
    shown.setLevel(logging.INFO)
    shown.addHandler(logging.StreamHandler(sys.stderr))

    async def run() -> None:
        if standards is not None:
            # The koppelvlak module finds its XSD in the folder registered for the process,
            # as the digipoort channel registers its own; else it looks in the default one.
            koppelvlak.use_standards_dir(standards)
        try:
            await simulator.start()
        except (OSError, ValueError, SecurityError) as exc:
            # A busy port, an incomplete --pki-dir, an unreadable --trust file, a
            # --state-dir that cannot be created or read.
            raise click.ClickException(f"cannot start the simulator: {exc}") from exc
        try:
            _describe(simulator)
            if deliver_samples:
                await _deliver_samples(simulator)
            await asyncio.Event().wait()
        finally:
            await simulator.stop()

    # `kill` (scripts/run-local.sh, systemd) stops it as Ctrl-C does: its TLS files in a
    # temporary folder are removed.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(until_terminated(run()))


def _describe(simulator: DigipoortSimulator) -> None:
    pki = simulator.pki
    assert pki is not None
    click.echo("Digipoort simulator (WUS 1.2, two-way TLS)")
    click.echo(f"  AanleverService          {simulator.aanlever_url}")
    click.echo(f"  StatusinformatieService  {simulator.status_url}")
    click.echo(f"  OphaalService            {simulator.ophaal_url}")
    if simulator.settings.control_listen is not None:
        click.echo(f"  control API              {simulator.control_url}/control/deliveries")
    click.echo(f"Delivers agency documents to "
               f"{simulator.settings.deliver_to or 'no AfleverService (OphaalService only)'}")
    click.echo(f"Certificates in {pki.folder}:")
    click.echo(f"  CA (trust it for the server; it issues the client certificates)  {pki.ca}")
    for kvk, files in pki.suppliers.items():
        click.echo(f"  supplier KvK {kvk}: certificate {files.cert}, key {files.key}")
    click.echo(f"  server certificate {pki.server.cert}")
    trusted = ", ".join(str(p) for p in simulator.settings.trust) or str(pki.ca)
    click.echo(f"Client certificates accepted from: {trusted}")
    if simulator.settings.state_dir is not None:
        click.echo(f"Aanleveringen kept in {simulator.settings.state_dir} "
                   f"({len(simulator.processes())} taken up)")
    click.echo("Scenario by aanleverkenmerk: Happyflow, AanleverFault, StatusInformatieFault, ...")
    click.echo("Press Ctrl-C to stop.")


async def _deliver_samples(simulator: DigipoortSimulator) -> None:
    from gateway.pluginmanager import build_registry, make_plugin_manager

    from .control import sample_message
    from .deliveries import SAMPLES

    registry = simulator.registry or build_registry(make_plugin_manager())
    for name in SAMPLES:
        message = sample_message(simulator, registry, name)
        [delivery] = await simulator.deliver_reliably(message, f"sample {name}")
        said = f" ({delivery.error})" if delivery.error else ""
        click.echo(f"{message.berichtsoort} kenmerk {message.kenmerk} to "
                   f"{delivery.to or 'the OphaalService'}: {delivery.state}{said}")


@hookimpl
def register_commands(cli: click.Group) -> None:
    add_simulator(cli, simulate_digipoort)
