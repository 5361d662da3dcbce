"""The Digipoort simulator keeps its aanlever processes in a state folder across restarts.

`make run` (scripts/run-local.sh) restarts the simulator with the gateway. A
simulator that forgot its processes answered every status question about an
earlier kenmerk with ``STS100 onbekend kenmerk``, and the invoice never reached
its final status; a real Digipoort keeps them. Everything here is real: the
simulator over two-way TLS, our own WUS client, the gateway with its store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest
from api_support import free_port
from digipoort_channel_support import (
    AGENCY_OIN,
    SUPPLIER_KVK,
    client_settings,
    gateway_config,
    invoice_19,
    standards,
)
from pipeline_support import FAST, document_json

from gateway.fileio import write_atomically
from gateway.service import GatewayService
from gateway.statefolder import record_file_name
from gateway.store import BusinessState, MessageRecord, Store, TransportState
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.simulator import simulator as simulator_module
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns, tls
from plugins.digipoort.wus.client import WusClient
from plugins.digipoort.wus.codes import HAPPY_FLOW
from plugins.digipoort.wus.pki import CertFiles, Pki, make_pki
from plugins.digipoort.wus.security import SigningIdentity, Trust
from plugins.ubl_ohnl.samples import sample_invoice

__all__ = ["standards"]  # the shared fixture: the installed standards for every simulator

REPO = Path(__file__).resolve().parents[1]
RUN_LOCAL = REPO / "scripts" / "run-local.sh"
BIN = Path(sys.executable).parent
OTHER_KVK = "30216247"
HAPPY = list(HAPPY_FLOW)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """The sample supplier's certificate and another caller's, from one test CA."""
    return make_pki(tmp_path_factory.mktemp("pki"), kvk_numbers=(SUPPLIER_KVK, OTHER_KVK))


def _settings(pki: Pki, state: Path, step_delay: float) -> SimulatorSettings:
    return SimulatorSettings(pki_dir=pki.folder, step_delay=step_delay, state_dir=state)


def _client(pki: Pki, kvk: str = SUPPLIER_KVK) -> WusClient:
    files: CertFiles = pki.suppliers[kvk]
    return WusClient(SigningIdentity.from_files(files.cert, files.key),
                     tls.client_context(files.cert, files.key, pki.ca),
                     server_trust=Trust.from_pem_files(pki.ca))


async def _submit(client: WusClient, url: str, scenario: str = "Happyflow") -> str:
    request = kv.AanleverRequest(
        berichtsoort="FACTUUR-UBL",
        identiteit_belanghebbende=kv.Identiteit(SUPPLIER_KVK, "KvK"),
        rol_belanghebbende="Bedrijf",
        bericht_inhoud=kv.BerichtInhoud("text/xml", "factuur.xml", invoice_19()),
        aanleverkenmerk=scenario,
        identiteit_ontvanger=kv.Identiteit(AGENCY_OIN, "OIN"),
        autorisatie_adres="http://geenausp.nl",
    )
    body = await client.call(url, ns.AANLEVEREN, request.to_element())
    return kv.parse_as(body, kv.AanleverResponse).kenmerk


async def _statuses(client: WusClient, url: str, kenmerk: str,
                    nieuw: bool = False) -> list[kv.StatusResultaat]:
    request = kv.StatusRequest(kenmerk, "http://geenausp.nl", nieuw=nieuw)
    body = await client.call(url, ns.request_action("status", request.operation),
                             request.to_element())
    return list(kv.parse_as(body, kv.StatusResponse).resultaten)


def _codes(resultaten: list[kv.StatusResultaat]) -> list[str]:
    return [r.statuscode for r in resultaten]


async def test_a_kenmerk_answered_before_a_restart_is_known_after_it_and_walks_on_to_500(
    pki: Pki, tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    async with (DigipoortSimulator(_settings(pki, state, step_delay=0.3)) as first,
                _client(pki) as client):
        kenmerk = await _submit(client, first.aanlever_url)
        await asyncio.sleep(0.4)
        before = await _statuses(client, first.status_url, kenmerk)
    stopped_at = first.process(kenmerk).codes
    assert not first.process(kenmerk).finished, stopped_at
    assert _codes(before) == HAPPY[:len(before)]

    async with DigipoortSimulator(_settings(pki, state, step_delay=0.3)) as second:
        # Taken up as it stood, and the walk waits its step delay before going on.
        assert second.process(kenmerk).codes == stopped_at
        assert second.process(kenmerk).statuses == first.process(kenmerk).statuses
        assert second.process(kenmerk).request == first.process(kenmerk).request
        async with _client(pki) as client:
            after = await _statuses(client, second.status_url, kenmerk)
            assert after[:len(before)] == before
            await second.wait_finished(kenmerk, timeout=30)
            final = await _statuses(client, second.status_url, kenmerk)
    assert _codes(final) == HAPPY
    assert final[:len(before)] == before


async def test_statuses_fetched_as_new_are_not_new_again_after_a_restart(
    pki: Pki, tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    async with (DigipoortSimulator(_settings(pki, state, step_delay=0.3)) as first,
                _client(pki) as client):
        kenmerk = await _submit(client, first.aanlever_url)
        fetched = _codes(await _statuses(client, first.status_url, kenmerk, nieuw=True))
    assert fetched[:2] == ["105", "100"]

    async with DigipoortSimulator(_settings(pki, state, step_delay=0.05)) as second:
        await second.wait_finished(kenmerk, timeout=30)
        async with _client(pki) as client:
            rest = _codes(await _statuses(client, second.status_url, kenmerk, nieuw=True))
            assert _codes(await _statuses(client, second.status_url, kenmerk, nieuw=True)) == []
        # Another caller has fetched nothing yet: everything is new to it.
        async with _client(pki, OTHER_KVK) as other:
            assert _codes(await _statuses(other, second.status_url, kenmerk, nieuw=True)) == HAPPY
    assert fetched + rest == HAPPY


async def test_bad_files_in_the_state_folder_are_named_in_the_log_and_skipped(
    pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    state = tmp_path / "state"
    async with DigipoortSimulator(_settings(pki, state, step_delay=0)) as first:
        async with _client(pki) as client:
            kenmerk = await _submit(client, first.aanlever_url)
        await first.wait_finished(kenmerk)
    [good] = state.iterdir()
    kept = json.loads(good.read_text("utf-8"))

    def variant(name: str, **changes: object) -> None:
        (state / f"{name}.json").write_text(json.dumps({**kept, "kenmerk": name, **changes}),
                                            "utf-8")

    (state / "not-json.json").write_bytes(b"{half a file")
    (state / "a-list.json").write_text("[1, 2]", "utf-8")
    variant("bad-scenario", scenario="Sideways")
    variant("no-request", request="<aanleverRequest/>")
    variant("not-xml", request="<half")
    variant("bad-start", statuses=kept["statuses"][1:])
    variant("bad-fetched", fetched={"someone": 99})
    variant("no-zone", aangeleverd="2026-11-30T10:00:00")
    (state / "other-name.json").write_text(good.read_text("utf-8"), "utf-8")
    (state / f".{good.name}.being-written.tmp").write_bytes(b"{")

    second = DigipoortSimulator(_settings(pki, state, step_delay=0))
    with caplog.at_level(logging.WARNING):
        await second.start()
    try:
        assert [p.kenmerk for p in second.processes()] == [kenmerk]
        async with _client(pki) as client:
            assert _codes(await _statuses(client, second.status_url, kenmerk)) == HAPPY
    finally:
        await second.stop()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for name in ("not-json", "a-list", "bad-scenario", "no-request", "not-xml", "bad-start",
                 "bad-fetched", "no-zone", "other-name"):
        assert str(state / f"{name}.json") in logged, logged
    for reason in ("Sideways", "aanleverRequest", "105 and 100", "99", "time zone", kenmerk):
        assert reason in logged, (reason, logged)
    assert "being-written" not in logged


def _run_local_digipoort_command() -> str:
    """The simulator's command line in scripts/run-local.sh, as bash would run it."""
    text = RUN_LOCAL.read_text("utf-8").replace("\\\n", " ")
    [line] = [line for line in text.splitlines() if " simulate digipoort " in line]
    return line.strip().removesuffix("&").strip()


async def _wait_for_port(port: int, process: asyncio.subprocess.Process,
                         within: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        assert process.returncode is None, "the simulator exited"
        assert loop.time() < deadline, "the simulator did not listen"
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return


async def test_make_runs_simulator_knows_its_kenmerken_after_its_restart(
    tmp_path: Path, installed_standards: Path,
) -> None:
    """The simulator exactly as scripts/run-local.sh starts it, stopped as it stops it."""
    port = free_port()
    command = _run_local_digipoort_command()
    assert "127.0.0.1:8783" in command
    command = command.replace("127.0.0.1:8783", f"127.0.0.1:{port}")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    env = {**os.environ, "BIN": str(BIN), "CONFIG": str(REPO / "examples" / "gateway.toml"),
           "DATA": str(data_dir), "GATEWAY_DATA_DIR": str(data_dir),
           "GATEWAY_STANDARDS_DIR": str(installed_standards),
           "WISSEL_API_TOKEN": "wissel-local-development"}
    answers: list[list[str]] = []
    kenmerk = ""
    for run in range(2):
        process = await asyncio.create_subprocess_exec(
            "bash", "-c", f"exec {command}", cwd=REPO, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        try:
            await _wait_for_port(port, process)
            sim_pki = Pki.load(data_dir / "digipoort-pki")
            url = f"https://127.0.0.1:{port}"
            files = sim_pki.supplier
            async with WusClient(SigningIdentity.from_files(files.cert, files.key),
                                 tls.client_context(files.cert, files.key, sim_pki.ca),
                                 server_trust=Trust.from_pem_files(sim_pki.ca)) as client:
                if run == 0:
                    kenmerk = await _submit(client, f"{url}/cpl/aanleverservice/1.2")
                try:
                    found = await _statuses(client, f"{url}/cpl/statusinformatieservice/1.2",
                                            kenmerk)
                except kv.WusFault as fault:
                    raise AssertionError(f"run {run + 1}: {fault}") from fault
                answers.append(_codes(found))
        finally:
            process.send_signal(signal.SIGTERM)
            _, errors = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0, errors.decode(errors="replace")
    assert answers[0][:2] == ["105", "100"]
    assert answers[1][:len(answers[0])] == answers[0]


async def _until(store: Store, message_id: str, done: Callable[[MessageRecord], bool],
                 note: Callable[[], str] = str, within: float = 30.0) -> MessageRecord:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        record = await store.get(message_id)
        assert record is not None
        if done(record):
            return record
        assert loop.time() < deadline, (f"message stayed {record.transport_state}/"
                                        f"{record.business_state}: {record.last_error} "
                                        f"{note()}")
        await asyncio.sleep(0.05)


async def test_the_gateways_invoice_reaches_its_final_status_across_a_simulator_restart(
    pki: Pki, tmp_path: Path,
) -> None:
    """End to end: the gateway sends, the simulator restarts on its port and state folder,
    and the message still gets to acknowledged."""
    state = tmp_path / "simulator-state"
    first = DigipoortSimulator(_settings(pki, state, step_delay=0.4))
    await first.start()
    channel = client_settings(pki, aanlever_url=first.aanlever_url,
                              status_url=first.status_url, status_poll_interval=0.05,
                              request_timeout=5)
    del channel["belanghebbende_nummer"]  # the gateway's [supplier] says who we are
    service = GatewayService(gateway_config(tmp_path, channel), dispatch=FAST)
    await service.start()
    second: DigipoortSimulator | None = None
    try:
        assert service.outbound is not None
        assert service.store is not None
        record, _ = await service.outbound.submit(document_json(sample_invoice()),
                                                  agency_oin=AGENCY_OIN)
        sent = await _until(service.store, record.id,
                            lambda r: r.transport_state is TransportState.SENT
                            and r.transport_id is not None)
        assert sent.transport_id is not None
        assert not first.process(sent.transport_id).finished
        await first.stop()
        await asyncio.sleep(0.3)  # the gateway's polls meet a closed port meanwhile

        second = restarted = DigipoortSimulator(attrs.evolve(first.settings, port=first.port))
        await second.start()
        done = await _until(service.store, record.id,
                            lambda r: r.business_state == BusinessState.ACKNOWLEDGED.value,
                            lambda: f"(the restarted simulator knows kenmerken "
                                    f"{[p.kenmerk for p in restarted.processes()]}, "
                                    f"the gateway's is {sent.transport_id})")
        assert done.transport_state is TransportState.SENT
        events = await service.store.events(record.id)
        assert tuple(e.detail["code"] for e in events if e.kind == "status") == HAPPY_FLOW
        assert second.process(sent.transport_id).codes == HAPPY
    finally:
        await service.stop()
        await first.stop()
        if second is not None:
            await second.stop()


async def test_no_walk_outlives_the_stop(pki: Pki, tmp_path: Path) -> None:
    """An aanlevering still being answered when the stop began started its walk after the
    walks were cancelled: it went on writing the state folder a new simulator reads."""
    state = tmp_path / "state"
    settings = attrs.evolve(_settings(pki, state, step_delay=0.2), slow_delay=0.4)
    simulator = DigipoortSimulator(settings)
    await simulator.start()
    async with _client(pki) as client:
        call = asyncio.create_task(_submit(client, simulator.aanlever_url,
                                           "ZwaarbelastAanleveren"))
        await asyncio.sleep(0.2)  # the AanleverService is at work on it
        await simulator.stop()
        kenmerk = await call
    kept = (state / record_file_name(kenmerk)).read_bytes()
    await asyncio.sleep(1.0)  # some step delays
    alive = [task.get_name() for task in simulator._tasks if not task.done()]
    for task in list(simulator._tasks):
        task.cancel()
    assert alive == [], "a walk goes on after stop()"
    assert (state / record_file_name(kenmerk)).read_bytes() == kept


async def test_a_status_is_kept_before_any_caller_is_told_it(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A status question answered while the step's write was under way saw the new status;
    a kill in that moment, and the restarted walk made it again with another time."""
    state = tmp_path / "state"
    seen: list[tuple[int, int]] = []  # (statuses written, statuses the process shows)
    holder: list[DigipoortSimulator] = []

    def slow_write(path: Path, data: bytes) -> None:
        written = json.loads(data)
        try:
            shown = len(holder[0].process(written["kenmerk"]).statuses)
        except KeyError:  # the aanlevering itself: kept before it is known at all
            shown = 0
        time.sleep(0.05)  # a slow disk: the window a caller could ask in
        seen.append((len(written["statuses"]), shown))
        write_atomically(path, data)

    monkeypatch.setattr(simulator_module, "write_atomically", slow_write)
    async with DigipoortSimulator(_settings(pki, state, step_delay=0.05)) as simulator:
        holder.append(simulator)
        async with _client(pki) as client:
            kenmerk = await _submit(client, simulator.aanlever_url)
        await simulator.wait_finished(kenmerk, timeout=30)
    steps = [(written, shown) for written, shown in seen if written > 2]
    assert steps, seen
    assert all(shown == written - 1 for written, shown in steps), steps
