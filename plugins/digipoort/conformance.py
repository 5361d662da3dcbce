"""``gateway conformance``: the Logius Aansluit Suite scenarios, run through our channel.

Each scenario submits a valid sample invoice with the scenario's name as
aanleverkenmerk (that is how the Aansluit Suite picks its behaviour, domain.md
6), then follows the process through the StatusinformatieService until it
ends, and compares what happened with what the scenario is meant to show.
The run goes through the same :class:`DigipoortChannel` the gateway uses, so
a green run says that our classification of faults and statuses is right,
not only that the wire works.

By default the target is the built-in simulator, started in-process with a
fresh test PKI. ``--target URL`` runs against a real endpoint (the Aansluit
Suite at cs-bedrijven.procesinfrastructuur.nl) with the certificate of the
configured digipoort channel. The report (Markdown, or JSON when the file
name ends in .json) holds what an operator hands to Logius: date, endpoints,
certificate subject, and per scenario the request time, kenmerk, every
status with its timestamp, and the verdict.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

import attrs
import click

from gateway.channels import (
    Accepted,
    ChannelContext,
    FinalError,
    OutboundMessage,
    RetryableError,
)
from gateway.kinds import DocumentKind
from gateway.registry import Registry

from .channel import DigipoortChannel
from .settings import SettingsError
from .wus.client import WusTransportError
from .wus.codes import is_terminal
from .wus.envelope import EnvelopeError, SoapFault
from .wus.koppelvlak import KoppelvlakError, StatusResultaat, WusFault, xsd_path
from .wus.ns import CPL_PATHS
from .wus.security import SecurityError

SAMPLE_FORMAT: Final = "ubl-ohnl:invoice:1.9"
SAMPLE_AGENCY_OIN: Final = "00000001003227522000"  # the buyer in the UBL-OHNL samples


@attrs.frozen
class Expectation:
    """What a scenario must show.

    ``send`` is how the channel must classify the first aanlevering:
    "accepted", "final" (a fault no retry can fix) or "retryable" (then a
    retry with the same aanleverkenmerk must be accepted). ``end`` holds the
    status codes the process may end on, with ``foutcode`` when the last one
    must carry it. ``status_error`` says the StatusinformatieService must
    first refuse: "fault" (a SOAP fault, the run stops there) or "retryable"
    (overloaded: asking again later must work).

    Logius' stub descriptions were not available (domain.md 6); these are our
    reading of the scenario names and the published codes, written for both
    the Aansluit Suite and our simulator.
    """

    description: str
    send: str = "accepted"
    end: tuple[str, ...] = ()
    foutcode: str | None = None
    status_error: str | None = None


SCENARIOS: Final[Mapping[str, Expectation]] = {
    "Happyflow": Expectation("the whole way to 500, validated by the receiver", end=("500",)),
    "AanleverFault": Expectation("the AanleverService refuses with an aanleverFault",
                                 send="final"),
    "StatusInformatieFault": Expectation(
        "accepted, then the StatusinformatieService answers a fault", status_error="fault"),
    "Afleverfout": Expectation("delivery to the receiver fails (410)", end=("410",)),
    "Foutuitvragendepartij": Expectation(
        "the receiver refuses the message (311 or 410)", end=("311", "410")),
    "TechnischProbleemAfleveren": Expectation(
        "a technical problem at the receiver's AfleverService: 420, Digipoort retries",
        end=("420",)),
    "MaximaalAantalAfleverpogingen": Expectation(
        "Digipoort gives up after the maximum number of delivery attempts (420, AFS600)",
        end=("420",), foutcode="AFS600"),
    "ZwaarbelastAanleveren": Expectation("the AanleverService is slow but answers",
                                         end=("500",)),
    "OverbelastAanleveren": Expectation(
        "the AanleverService is overloaded; a retry with the same aanleverkenmerk succeeds",
        send="retryable", end=("500",)),
    "ZwaarbelastStatusInformatie": Expectation(
        "the StatusinformatieService is slow but answers", end=("500",)),
    "OverbelastStatusInformatie": Expectation(
        "the StatusinformatieService is overloaded; asking again later succeeds",
        status_error="retryable", end=("500",)),
}
MAX_TRIES: Final = 4


@attrs.define
class StatusLine:
    code: str
    at: datetime
    text: str
    foutcode: str | None = None


@attrs.define
class ScenarioResult:
    name: str
    expectation: Expectation
    requested_at: datetime
    kenmerk: str | None = None
    send: str = ""
    send_detail: str = ""
    retries: list[str] = attrs.field(factory=list)
    statuses: list[StatusLine] = attrs.field(factory=list)
    status_error: str | None = None
    status_error_detail: str = ""
    problems: list[str] = attrs.field(factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def history(self) -> str:
        return " ".join(s.code + (f"/{s.foutcode}" if s.foutcode else "") for s in self.statuses)

    def outcome(self) -> str:
        parts = [] if self.send == "accepted" else [f"{self.send}: {self.send_detail}"]
        parts += self.retries
        if self.status_error:
            parts.append(f"status {self.status_error}: {self.status_error_detail}")
        if self.statuses:
            parts.append(self.history())
        return "; ".join(parts) or "(no status)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "expected": self.expectation.description,
            "verdict": "pass" if self.passed else "fail",
            "requested_at": self.requested_at.isoformat(),
            "kenmerk": self.kenmerk,
            "aanlevering": self.send,
            "aanlevering_detail": self.send_detail,
            "retries": list(self.retries),
            "statuses": [{"code": s.code, "at": s.at.isoformat(), "text": s.text,
                          **({"foutcode": s.foutcode} if s.foutcode else {})}
                         for s in self.statuses],
            "status_error": self.status_error,
            "status_error_detail": self.status_error_detail,
            "problems": list(self.problems),
        }


@attrs.frozen
class RunInfo:
    started_at: datetime
    target: str
    aanlever_url: str
    status_url: str
    certificate_subject: str
    signature_algorithm: str


async def run_scenario(
    channel: DigipoortChannel, name: str, payload: bytes, *, agency_oin: str = SAMPLE_AGENCY_OIN,
    poll_interval: float = 0.2, follow_for: float = 60.0,
) -> ScenarioResult:
    """Submit the sample for scenario ``name`` and follow it to its end."""
    expectation = SCENARIOS[name]
    requested = datetime.now(UTC)
    result = ScenarioResult(name, expectation, requested)
    message = OutboundMessage(
        message_id=f"conformance-{name}-{requested.strftime('%Y%m%dT%H%M%S%f')}",
        agency_oin=agency_oin, kind=DocumentKind.INVOICE, format_key=SAMPLE_FORMAT,
        payload=payload, filename=f"{name}.xml", metadata={"aanleverkenmerk": name})
    for attempt in range(1, MAX_TRIES + 1):
        outcome = await channel.send(message)
        match outcome:
            case Accepted():
                kind, detail = "accepted", (outcome.detail if attempt == 1
                                            else f"as {outcome.transport_id}")
                result.kenmerk = outcome.transport_id
            case RetryableError():
                kind, detail = "retryable", _with_code(outcome.reason, outcome.code)
            case FinalError():
                kind, detail = "final", _with_code(outcome.reason, outcome.code)
        if attempt == 1:
            result.send, result.send_detail = kind, detail
        else:
            result.retries.append(f"retry {attempt - 1}: {kind} {detail}".rstrip())
        if not isinstance(outcome, RetryableError):
            break
        # Back off as the dispatcher would, briefly: the run is interactive.
        wait = outcome.retry_after.total_seconds() if outcome.retry_after else poll_interval
        await asyncio.sleep(min(wait, 5.0))
    if result.kenmerk is not None:
        await _follow(channel, result, poll_interval, follow_for)
    result.problems = judge(result)
    return result


async def _follow(channel: DigipoortChannel, result: ScenarioResult, poll_interval: float,
                  follow_for: float) -> None:
    assert result.kenmerk is not None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + follow_for
    while True:
        try:
            resultaten: Sequence[StatusResultaat] = await channel.statuses(result.kenmerk,
                                                                           new_only=False)
        except (WusFault, SoapFault) as exc:
            result.status_error, result.status_error_detail = "fault", str(exc)
            return
        except (WusTransportError, EnvelopeError, KoppelvlakError) as exc:
            retryable = isinstance(exc, WusTransportError) and exc.retryable
            if result.status_error is None:
                result.status_error = "retryable" if retryable else "error"
                result.status_error_detail = str(exc)
            if not retryable or loop.time() > deadline:
                return
            await asyncio.sleep(poll_interval)
            continue
        result.statuses = [
            StatusLine(r.statuscode, r.tijdstempel_status, r.statusomschrijving,
                       None if r.status_foutcode is None else r.status_foutcode.foutcode)
            for r in resultaten]
        last = result.statuses[-1] if result.statuses else None
        if last is not None and (is_terminal(last.code, last.foutcode)
                                 or _settled(result.expectation, last)):
            return
        if loop.time() > deadline:
            return
        await asyncio.sleep(poll_interval)


def judge(result: ScenarioResult) -> list[str]:
    """What differs from the scenario's expectation; empty when it passed."""
    expected = result.expectation
    if result.send != expected.send:
        return [f"aanleveren gave {result.send} ({result.send_detail}), expected "
                f"{expected.send}"]
    if expected.send == "final":
        # only an aanleverFault (an ALS code from the service) shows the scenario; a TLS,
        # HTTP or local failure ends "final" too without the service having answered
        if not re.search(r"\[ALS\d{3}\]$", result.send_detail):
            return [f"aanleveren failed without an aanleverFault ({result.send_detail})"]
        return []
    if result.kenmerk is None:
        return [f"no retry was accepted ({'; '.join(result.retries)})"]
    if result.status_error != expected.status_error:
        return [f"status service: expected {expected.status_error or 'answers'}, got "
                f"{result.status_error or 'answers'} {result.status_error_detail}".rstrip()]
    if expected.status_error == "fault":
        return []
    if not result.statuses:
        return ["no status at all"]
    problems: list[str] = []
    last = result.statuses[-1]
    if expected.end and last.code not in expected.end:
        problems.append(f"ended with {last.code}, expected {' or '.join(expected.end)}")
    if expected.foutcode is not None and last.foutcode != expected.foutcode:
        problems.append(f"last status carries {last.foutcode}, expected {expected.foutcode}")
    if not problems and not _settled(expected, last) and not is_terminal(last.code,
                                                                          last.foutcode):
        problems.append(f"the process did not end in time (last status {last.code})")
    return problems


def _settled(expected: Expectation, last: StatusLine) -> bool:
    """Whether the process reached the state the scenario is about.

    420 without AFS600 is where Digipoort keeps retrying for 72 hours: the
    scenario shows it, nobody waits for the end.
    """
    return expected.end == ("420",) and last.code == "420" and expected.foutcode is None


def _with_code(reason: str, code: str | None) -> str:
    return f"{reason} [{code}]" if code else reason


# --- the run ------------------------------------------------------------------


def urls_for_target(target: str) -> tuple[str, str]:
    """Aanlever and status URL for ``--target``.

    A bare host (``https://cs-bedrijven.procesinfrastructuur.nl``) means the
    Aansluit Suite's layout (``/cpl/...``); a full AanleverService address
    gives the StatusinformatieService beside it.
    """
    parts = urlsplit(target)
    if parts.scheme != "https" or not parts.netloc:
        raise ValueError(f"--target must be an https:// address, not {target!r}")
    if parts.path in ("", "/"):
        base = f"https://{parts.netloc}"
        return base + CPL_PATHS["aanlever"], base + CPL_PATHS["status"]
    if "aanleverservice" not in parts.path:
        raise ValueError(f"--target {target!r}: give a host or an AanleverService address "
                         "(its path names 'aanleverservice')")
    return target, target.replace("aanleverservice", "statusinformatieservice")


async def run_all(
    settings: Mapping[str, Any], names: Sequence[str], payload: bytes, *, target: str,
    supplier: Any = None, data_dir: str | None = None, poll_interval: float = 0.2,
    follow_for: float = 60.0,
) -> tuple[RunInfo, list[ScenarioResult]]:
    """Run ``names`` one after the other through a channel built from ``settings``."""
    channel = DigipoortChannel("conformance", settings)
    # No status sink: the runner follows each process itself.
    await channel.start(ChannelContext("conformance", data_dir=data_dir, supplier=supplier))
    try:
        assert channel.client is not None
        info = RunInfo(
            started_at=datetime.now(UTC), target=target,
            aanlever_url=channel.config.aanlever_url, status_url=channel.config.status_url,
            certificate_subject=channel.client.identity.certificate.subject.rfc4514_string(),
            signature_algorithm=channel.config.signature_algorithm)
        results = [await run_scenario(channel, name, payload, poll_interval=poll_interval,
                                      follow_for=follow_for) for name in names]
    finally:
        await channel.stop()
    return info, results


def table(results: Sequence[ScenarioResult]) -> str:
    """The pass/fail table printed on the terminal."""
    rows = [("scenario", "verdict", "kenmerk", "outcome")]
    rows += [(r.name, "PASS" if r.passed else "FAIL", r.kenmerk or "-",
              r.outcome() + ("" if r.passed else "  <- " + "; ".join(r.problems)))
             for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:3])) + "  " + row[3]
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * 7)
    passed = sum(r.passed for r in results)
    lines.append(f"\n{passed} of {len(results)} scenarios passed")
    return "\n".join(lines)


def report(info: RunInfo, results: Sequence[ScenarioResult], path: Path) -> None:
    """Write the report an operator hands to Logius: JSON for .json, Markdown otherwise."""
    if path.suffix.lower() == ".json":
        document = {
            "title": "Digipoort WUS conformance run (Aansluit Suite scenarios)",
            "date": info.started_at.isoformat(), "target": info.target,
            "aanlever_url": info.aanlever_url, "status_url": info.status_url,
            "certificate_subject": info.certificate_subject,
            "signature_algorithm": info.signature_algorithm,
            "passed": sum(r.passed for r in results), "scenarios": len(results),
            "results": [r.to_dict() for r in results],
        }
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
        return
    path.write_text(markdown(info, results), "utf-8")


def markdown(info: RunInfo, results: Sequence[ScenarioResult]) -> str:
    passed = sum(r.passed for r in results)
    out = [
        "# Digipoort WUS conformance run",
        "",
        f"- Date: {info.started_at.strftime('%Y-%m-%d %H:%M:%S UTC')}",
        f"- Target: {info.target}",
        f"- AanleverService: {info.aanlever_url}",
        f"- StatusinformatieService: {info.status_url}",
        f"- Certificate subject: {info.certificate_subject}",
        f"- Signature algorithm: {info.signature_algorithm}",
        f"- Result: {passed} of {len(results)} scenarios passed",
        "",
        "| Scenario | Verdict | Requested (UTC) | Kenmerk | Outcome |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        out.append(f"| {r.name} | {'pass' if r.passed else 'FAIL'} | "
                   f"{r.requested_at.strftime('%H:%M:%S')} | {r.kenmerk or '-'} | "
                   f"{_cell(r.outcome())} |")
    for r in results:
        out += ["", f"## {r.name}", "", f"Expected: {r.expectation.description}.", "",
                f"- Requested at: {r.requested_at.isoformat()}",
                f"- Aanleverkenmerk: {r.name}",
                f"- Kenmerk: {r.kenmerk or '-'}",
                f"- Aanlevering: {r.send} {r.send_detail}".rstrip()]
        if r.status_error:
            out.append(f"- Status service: {r.status_error}: {r.status_error_detail}")
        if r.statuses:
            out += ["", "| Status | Time | Description | Foutcode |", "|---|---|---|---|"]
            out += [f"| {s.code} | {s.at.isoformat()} | {_cell(s.text)} | {s.foutcode or ''} |"
                    for s in r.statuses]
        out += ["", f"Verdict: {'pass' if r.passed else 'FAIL: ' + '; '.join(r.problems)}"]
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# --- the command --------------------------------------------------------------

DEFAULT_SUPPLIER_KVK: Final = "30097265"  # the supplier in the UBL-OHNL samples


def sample_payload(registry: Registry) -> bytes:
    """The first UBL-OHNL 1.9 invoice its plugin vouches for, encoded."""
    fmt = registry.format(SAMPLE_FORMAT)
    chosen = fmt.samples()[0]
    return fmt.encode(chosen.document, chosen.context)


@asynccontextmanager
async def simulated(scratch: Path, kvk: str) -> AsyncIterator[tuple[dict[str, Any], str]]:
    """A simulator on loopback with a fresh test PKI; yields channel settings and its URL."""
    from .simulator import DigipoortSimulator, SimulatorSettings
    from .wus.pki import make_pki

    pki = make_pki(scratch / "pki", kvk_numbers=(kvk,))
    simulator = DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder, step_delay=0.0,
                                                     slow_delay=1.0, redelivery_delay=0.2))
    await simulator.start()
    try:
        supplier = pki.suppliers[kvk]
        yield {
            "environment": "simulator", "aanlever_url": simulator.aanlever_url,
            "status_url": simulator.status_url, "certificate": str(supplier.cert),
            "private_key": str(supplier.key), "server_ca": str(pki.ca),
            "belanghebbende_nummer": kvk, "request_timeout": 10,
        }, simulator.aanlever_url
    finally:
        await simulator.stop()


def target_settings(config: Any, channel: str, target: str) -> dict[str, Any]:
    """The configured channel's certificates, pointed at ``target``; no inbound side."""
    table = config.channels.get(channel)
    if table is None or table.type != "digipoort":
        raise click.ClickException(f"the configuration has no digipoort channel {channel!r} to "
                                   "take the certificate from (--channel NAME)")
    try:
        aanlever, status = urls_for_target(target)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    settings = {key: value for key, value in table.settings.items()
                if not key.startswith(("aflever_", "ophaal"))}
    settings.update(aanlever_url=aanlever, status_url=status)
    return settings


@click.command()
@click.option("--target", metavar="URL", default=None,
              help="A real endpoint: the Aansluit Suite host (https://cs-bedrijven."
                   "procesinfrastructuur.nl) or an AanleverService address. Default: the "
                   "built-in simulator, started for the run.")
@click.option("--scenario", "scenarios", multiple=True, metavar="NAME",
              type=click.Choice(list(SCENARIOS)),
              help="Run only this scenario (repeatable). Default: all eleven.")
@click.option("--report", "report_path", type=click.Path(path_type=Path, dir_okay=False),
              default=None, help="Report file: Markdown, or JSON when it ends in .json. "
                                 "Default: digipoort-conformance-<time>.md here.")
@click.option("--channel", "channel_name", default="digipoort", show_default=True,
              help="The configured digipoort channel whose certificate --target uses.")
@click.option("--poll-interval", type=float, default=None,
              help="Seconds between status requests (default 0.2 on the simulator, 10 on a "
                   "real target).")
@click.option("--follow-for", type=float, default=None,
              help="Seconds to follow one process before giving up (default 60 on the "
                   "simulator, 900 on a real target).")
@click.pass_context
def conformance(ctx: click.Context, target: str | None, scenarios: tuple[str, ...],
                report_path: Path | None, channel_name: str, poll_interval: float | None,
                follow_for: float | None) -> None:
    """Run the Digipoort Aansluit Suite scenarios and write a report for Logius.

    Each scenario aanlevers a valid UBL-OHNL 1.9 invoice with the scenario's
    name as aanleverkenmerk, follows its statuses (or its fault) to the end and
    compares the outcome with what the scenario must show. Exit status 0 when
    every scenario passed, 1 otherwise.
    """
    from gateway.cli.context import CliContext

    cli = ctx.find_object(CliContext)
    names = list(scenarios) or list(SCENARIOS)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = report_path or Path(f"digipoort-conformance-{stamp}.md")
    if not xsd_path().is_file():
        raise click.ClickException(f"the koppelvlak XSD is not installed ({xsd_path()}); run "
                                   "`gateway standards install --from DIR` (or --only "
                                   "digipoort-wus-1.2) first")
    registry = cli.registry if cli is not None else _registry()
    payload = sample_payload(registry)

    async def run() -> tuple[RunInfo, list[ScenarioResult]]:
        if target is None:
            with tempfile.TemporaryDirectory(prefix="wissel-conformance-") as scratch:
                async with simulated(Path(scratch), DEFAULT_SUPPLIER_KVK) as (settings, url):
                    return await run_all(settings, names, payload, target=f"simulator ({url})",
                                         poll_interval=poll_interval or 0.2,
                                         follow_for=follow_for or 60.0)
        if cli is None:
            raise click.ClickException("--target needs the gateway configuration (--config)")
        config = cli.config
        settings = target_settings(config, channel_name, target)
        return await run_all(settings, names, payload, target=target, supplier=config.supplier,
                             data_dir=str(config.gateway.data_dir),
                             poll_interval=poll_interval or 10.0, follow_for=follow_for or 900.0)

    try:
        info, results = asyncio.run(run())
    except (SettingsError, SecurityError, OSError, ValueError) as exc:
        raise click.ClickException(f"cannot run the scenarios: {exc}") from None
    click.echo(table(results))
    report(info, results, path)
    click.echo(f"report written to {path}")
    ctx.exit(0 if all(r.passed for r in results) else 1)


def _registry() -> Registry:
    from gateway.pluginmanager import build_registry, make_plugin_manager

    return build_registry(make_plugin_manager())
