"""The portal channel in the running gateway: tasks, bundles, the CLI and API, imports.

The gateway runs for real (store, dispatcher, HTTP API); operators' commands
run as `gateway` processes against it, as an operator would type them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from pipeline_support import AGENCY_OIN, FAST, SUPPLIER_KVK, document_json

from gateway.model.samples import example_invoice, example_order
from gateway.pluginmanager import make_plugin_manager
from gateway.render import find_pdf_tool
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState

TOKEN = "portal-test-token"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def config(tmp_path: Path, port: int, warn_after: str = "3d") -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(f"""
[gateway]
listen = "127.0.0.1:{port}"
data_dir = {str(tmp_path / "data")!r}
database = "sqlite:///{tmp_path / 'gateway.db'}"
token = "{TOKEN}"

[supplier]
name = "Naam Leverancier BV"
kvk = "{SUPPLIER_KVK}"
vestigingsnummer = "000018727409"

[channels.portal]
export_dir = "portal-tasks"
warn_after = "{warn_after}"

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "portal"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "canonical:invoice:1"
""", "utf-8")
    return path


@attrs.define
class Running:
    service: GatewayService
    path: Path
    tmp_path: Path

    @property
    def url(self) -> str:
        assert self.service.address is not None
        host, port = self.service.address
        return f"http://{host}:{port}/api/v1/channels/portal"

    async def submit(self, number: str) -> MessageRecord:
        assert self.service.outbound is not None
        invoice = attrs.evolve(example_invoice(), number=number)
        record, created = await self.service.outbound.submit(document_json(invoice),
                                                             agency_oin=AGENCY_OIN)
        assert created
        return await self.wait(record.id, TransportState.SENT)

    async def wait(self, message_id: str, state: TransportState) -> MessageRecord:
        assert self.service.store is not None
        seen = None
        for _ in range(500):
            record = await self.service.store.get(message_id)
            assert record is not None
            if record.transport_state is state:
                return record
            seen = record.transport_state
            await asyncio.sleep(0.01)
        raise AssertionError(f"message {message_id} stayed {seen}")

    async def gateway(self, *args: str) -> tuple[int, str, str]:
        """`gateway --config FILE ARGS...` as a separate process."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.cli.main", "--config", str(self.path), *args,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as session, session.request(
            method, f"{self.url}{path}", json=body, headers=headers,
        ) as response:
            return response.status, await response.json(content_type=None)


async def start(tmp_path: Path, warn_after: str = "3d") -> Running:
    path = config(tmp_path, free_port(), warn_after)
    service = GatewayService(path, make_plugin_manager(), dispatch=FAST)
    await service.start()
    return Running(service, path, tmp_path)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Running]:
    running = await start(tmp_path)
    try:
        yield running
    finally:
        await running.service.stop()


async def test_an_invoice_becomes_an_open_task_with_its_bundle(gateway: Running) -> None:
    record = await gateway.submit("F2024-0101")
    task_id = record.transport_id
    assert task_id == record.id  # the task is the message
    folder = gateway.tmp_path / "data" / "portal-tasks" / task_id
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    expected = ["F2024-0101.json", "attachments/factuur.pdf", "document.html", "task.json"]
    if find_pdf_tool() is not None:
        expected.append("document.pdf")
    assert files == sorted(expected)
    assert (folder / "F2024-0101.json").read_bytes() == record.raw_payload
    assert (folder / "attachments/factuur.pdf").read_bytes() == b"%PDF-1.4 example"
    html = (folder / "document.html").read_text("utf-8")
    assert 'id="invoice-number">F2024-0101<' in html
    task = json.loads((folder / "task.json").read_text("utf-8"))
    assert task["agency_oin"] == AGENCY_OIN
    assert task["message_id"] == record.id

    code, out, err = await gateway.gateway("portal", "tasks", "--json")
    assert code == 0, err
    [listed] = json.loads(out)["tasks"]
    assert listed["id"] == task_id
    assert listed["state"] == "open"
    assert listed["document_number"] == "F2024-0101"
    assert listed["overdue"] is False


async def test_done_closes_the_task_with_the_portal_reference(gateway: Running) -> None:
    record = await gateway.submit("F2024-0102")
    task_id = str(record.transport_id)
    code, out, err = await gateway.gateway("portal", "done", task_id, "--reference", "DI-7781",
                                           "--by", "alice")
    assert code == 0, err
    assert "submitted" in out
    assert "DI-7781" in out
    assert gateway.service.store is not None
    after = await gateway.service.store.get(record.id)
    assert after is not None
    assert after.transport_state is TransportState.SENT
    assert after.business_state == "delivered-to-agency"
    [status] = [e for e in await gateway.service.store.events(record.id) if e.kind == "status"]
    assert status.detail["reference"] == "DI-7781"
    assert status.detail["by"] == "alice"
    # Closing twice is refused, naming the state; the first close stands.
    code, _, err = await gateway.gateway("portal", "done", task_id, "--reference", "DI-0000")
    assert code != 0
    assert "is submitted, not open" in err
    status_code, task = await gateway.api("GET", f"/tasks/{task_id}")
    assert status_code == 200
    assert task["reference"] == "DI-7781"
    code, out, _ = await gateway.gateway("portal", "tasks", "--state", "open")
    assert "no tasks in state open" in out
    code, out, _ = await gateway.gateway("portal", "tasks", "--state", "submitted")
    assert task_id in out


async def test_cancel_moves_the_message_to_failed_with_the_reason(gateway: Running) -> None:
    record = await gateway.submit("F2024-0103")
    task_id = str(record.transport_id)
    status, task = await gateway.api("POST", f"/tasks/{task_id}/cancel",
                                     {"reason": "agency asked for a corrected invoice",
                                      "by": "bob"})
    assert status == 200, task
    assert task["state"] == "cancelled"
    failed = await gateway.wait(record.id, TransportState.FAILED)
    assert "agency asked for a corrected invoice" in str(failed.last_error)
    status, listing = await gateway.api("GET", "/tasks?state=cancelled")
    assert [t["id"] for t in listing["tasks"]] == [task_id]
    status, problem = await gateway.api("POST", f"/tasks/{task_id}/done", {"reference": "X"})
    assert status == 409
    assert "cancelled" in problem["detail"]
    status, problem = await gateway.api("POST", "/tasks/NO-SUCH-TASK/done", {"reference": "X"})
    assert status == 404
    status, problem = await gateway.api("POST", f"/tasks/{task_id}/cancel", {"by": "bob"})
    assert status == 400
    assert "reason" in problem["title"]


async def test_download_rebuilds_the_bundle_where_this_machine_has_none(
    gateway: Running, tmp_path: Path,
) -> None:
    record = await gateway.submit("F2024-0104")
    task_id = str(record.transport_id)
    code, out, err = await gateway.gateway("portal", "download", task_id, "--to",
                                           str(tmp_path / "first"))
    assert code == 0, err
    assert f"{task_id}/document.html" in out
    first = tmp_path / "first" / task_id
    assert (first / "F2024-0104.json").read_bytes() == record.raw_payload
    # Another instance of the gateway, without the export folder, serves the same task.
    export = gateway.tmp_path / "data" / "portal-tasks" / task_id
    for path in sorted(export.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    export.rmdir()
    code, _, err = await gateway.gateway("portal", "download", task_id, "--to",
                                         str(tmp_path / "second"))
    assert code == 0, err
    second = tmp_path / "second" / task_id
    # Named as the first bundle names it: the number, .json for a JSON document.
    assert (second / "F2024-0104.json").read_bytes() == record.raw_payload
    assert (second / "document.html").read_bytes() == (first / "document.html").read_bytes()
    assert (second / "attachments" / "factuur.pdf").read_bytes() == b"%PDF-1.4 example"


async def test_import_hands_portal_documents_to_the_inbound_pipeline(
    gateway: Running, tmp_path: Path,
) -> None:
    order_file = tmp_path / "order.json"
    order_file.write_bytes(document_json(example_order()))
    code, out, err = await gateway.gateway("portal", "import", str(order_file),
                                           "--agency", AGENCY_OIN)
    assert code == 0, err
    assert "decoded order" in out
    assert gateway.service.store is not None
    message_id = out.split()[1].rstrip(":")
    stored = await gateway.service.store.get(message_id)
    assert stored is not None
    assert stored.channel == "portal"
    assert stored.document_kind == "order"
    assert stored.raw_payload == order_file.read_bytes()

    # The same order downloaded from the portal as UBL-OHNL XML: decoded, and known
    # as a repeat of the one keyed in (same agency, same order number).
    fmt = gateway.service.registry.format("ubl-ohnl:order:1.9")
    chosen = fmt.samples()[0]
    xml_file = tmp_path / "portal-order.xml"
    xml_file.write_bytes(fmt.encode(chosen.document, chosen.context))
    code, out, err = await gateway.gateway("portal", "import", str(xml_file),
                                           "--agency", AGENCY_OIN)
    assert code == 0, err
    assert "duplicate order" in out
    xml_stored = await gateway.service.store.get(out.split()[1].rstrip(":"))
    assert xml_stored is not None
    assert xml_stored.format_key == "ubl-ohnl:order:1.9"

    before = await gateway.service.store.count_by_state()
    bad = tmp_path / "broken.json"
    bad.write_text('{"kind": "order", "document": {"number": 12}}')
    code, _, err = await gateway.gateway("portal", "import", str(bad), "--agency", AGENCY_OIN)
    assert code != 0
    assert "broken.json: not a canonical JSON document" in err
    status, problem = await gateway.api("POST", "/import", {
        "agency": "12345", "content_base64": base64.b64encode(b"<Order/>").decode()})
    assert status == 400
    assert "--agency '12345'" in problem["detail"]
    status, problem = await gateway.api("POST", "/import", {
        "agency": AGENCY_OIN, "content_base64": base64.b64encode(b"<Order>").decode()})
    assert status == 400
    assert "not well-formed XML" in problem["detail"]
    # The errors name their field as the core API's do ($.name, with a message).
    status, problem = await gateway.api("POST", "/import", {"agency": AGENCY_OIN})
    assert status == 400
    assert problem["errors"] == [{"field": "$.content_base64",
                                  "message": "a non-empty string is needed"}]
    status, problem = await gateway.api("POST", "/import", {
        "agency": AGENCY_OIN, "content_base64": "not base64!"})
    assert status == 400
    assert problem["errors"] == [{"field": "$.content_base64", "message": "not base64"}]
    assert await gateway.service.store.count_by_state() == before  # nothing half-stored


async def test_tasks_left_open_too_long_warn_and_survive_a_restart(tmp_path: Path) -> None:
    running = await start(tmp_path, warn_after="0s")
    try:
        record = await running.submit("F2024-0105")
    finally:
        await running.service.stop()
    running = await start(tmp_path, warn_after="0s")
    try:
        code, out, err = await running.gateway("portal", "tasks")
        assert code == 0, err
        assert f"{record.transport_id}  open" in out
        assert "WARNING: open too long" in out
        assert "1 task(s) open longer than" in err
        health = await running.service.health()
        assert health["status"] == "degraded"
        assert any("channel portal: 1 portal task(s) open longer than 0:00:00" in p
                   for p in health["problems"])
    finally:
        await running.service.stop()
