"""The portal import checks XML as it checks JSON, and a bundle folder is served only as the
store has the task.

Moved from the review of the portal channel (tests/test_zz_review_channels.py), with the
cases beside them. Real counterparts only: the running gateway with its store and HTTP
API, the `gateway` CLI as a process, real export folders shared by two full instances.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from instances_support import instance_config
from pipeline_support import AGENCY_OIN, FAST, OTHER_OIN, document_json
from test_portal import TOKEN, Running, gateway  # noqa: F401 - fixture
from test_portal_show_task_cost import counting_pdf_tool

from gateway.model.samples import example_invoice, example_order
from gateway.pipeline import operator
from gateway.pluginmanager import make_plugin_manager
from gateway.service import GatewayService
from gateway.store import MessageRecord, TransportState
from plugins.portal.channel import PortalChannel
from plugins.ubl_ohnl.invoice import ALLOW_PROPOSAL

# -- imports ----------------------------------------------------------------------------------


def _sample_xml(running: Running, key: str, **changes: Any) -> bytes:
    fmt = running.service.registry.format(key)
    chosen = fmt.samples()[0]
    document = attrs.evolve(chosen.document, **changes) if changes else chosen.document
    context = chosen.context
    if changes.get("proposal"):  # only the agency side writes a proposal invoice
        context = attrs.evolve(context, settings={**context.settings, ALLOW_PROPOSAL: True})
    data: bytes = fmt.encode(document, context)
    return data


async def _import(running: Running, data: bytes, agency: str,
                  filename: str = "from-portal.xml") -> tuple[int, Any]:
    return await running.api("POST", "/import", {
        "agency": agency, "filename": filename,
        "content_base64": base64.b64encode(data).decode()})


async def _stored(running: Running) -> Any:
    assert running.service.store is not None
    return await running.service.store.count_by_state()


async def test_import_refuses_the_suppliers_own_invoice_as_xml_too(
        gateway: Running) -> None:  # noqa: F811
    """The JSON import refuses the supplier's own invoice (test_portal_bundle_edges); the
    same invoice as XML (the document of a task bundle, picked by mistake) was stored and
    handed to the ERP as an inbound invoice from the agency."""
    before = await _stored(gateway)
    own = _sample_xml(gateway, "nlcius:invoice:1.0")
    status, answer = await _import(gateway, own, AGENCY_OIN, "F2024-0001.xml")
    assert status == 400, answer
    assert answer["detail"].startswith(
        "F2024-0001.xml: this invoice is not a proposal invoice"), answer
    assert await _stored(gateway) == before  # nothing stored


async def test_import_checks_the_agency_of_an_xml_order(gateway: Running) -> None:  # noqa: F811
    """--agency names who the document comes from; for JSON another agency's order is
    refused, for the same order as XML it was stored under the document's own buyer."""
    before = await _stored(gateway)
    order_xml = _sample_xml(gateway, "ubl-ohnl:order:1.9")
    status, answer = await _import(gateway, order_xml, OTHER_OIN)
    assert status == 400, answer
    assert answer["detail"] == (f"from-portal.xml: the document names agency {AGENCY_OIN}, "
                                f"not --agency {OTHER_OIN}"), answer
    assert await _stored(gateway) == before


async def test_the_cli_names_the_xml_file_refused_and_stores_nothing(
        gateway: Running, tmp_path: Path) -> None:  # noqa: F811
    """`gateway portal import` prints the gateway's reason and fails, as for JSON."""
    before = await _stored(gateway)
    own = tmp_path / "F2024-0001.xml"
    own.write_bytes(_sample_xml(gateway, "nlcius:invoice:1.0"))
    code, out, err = await gateway.gateway("portal", "import", str(own),
                                           "--agency", AGENCY_OIN)
    assert code != 0, out
    assert "F2024-0001.xml: this invoice is not a proposal invoice" in err, err
    assert await _stored(gateway) == before


async def test_xml_the_portal_shows_is_still_imported(gateway: Running) -> None:  # noqa: F811
    """An order and a proposal invoice as XML pass the checks and are decoded."""
    for data, kind in ((_sample_xml(gateway, "ubl-ohnl:order:1.9"), "order"),
                       (_sample_xml(gateway, "ubl-ohnl:invoice:1.9", proposal=True,
                                    type_code="VD"), "invoice")):
        status, answer = await _import(gateway, data, AGENCY_OIN)
        assert status == 201, answer
        assert (answer["transport_state"], answer["kind"]) == ("decoded", kind), answer


async def test_xml_no_installed_format_reads_is_refused_before_it_is_stored(
        gateway: Running) -> None:  # noqa: F811
    before = await _stored(gateway)
    status, answer = await _import(gateway, b"<Bestelling><Nummer>1</Nummer></Bestelling>",
                                   AGENCY_OIN, "bestelling.xml")
    assert status == 400, answer
    assert answer["detail"].startswith("bestelling.xml: no installed format matches"), answer
    assert await _stored(gateway) == before


async def test_import_of_canonical_json_with_a_byte_order_mark_is_not_called_xml(
        gateway: Running) -> None:  # noqa: F811
    """A canonical order saved by an editor that writes a UTF-8 BOM (Windows Notepad) was
    sent down the XML branch and refused as 'not well-formed XML', which names the wrong
    problem; the canonical JSON reader itself accepts the BOM."""
    keyed_in = b"\xef\xbb\xbf" + document_json(example_order())
    status, answer = await _import(gateway, keyed_in, AGENCY_OIN, "order.json")
    assert "not well-formed XML" not in str(answer.get("detail")), answer
    assert status == 201, answer
    assert answer["transport_state"] == "decoded", answer


async def test_xml_that_is_not_well_formed_is_named_so_once(
        gateway: Running) -> None:  # noqa: F811
    status, answer = await _import(gateway, b"\xef\xbb\xbf<Order>", AGENCY_OIN, "o.xml")
    assert status == 400, answer
    assert answer["detail"].startswith("o.xml: not well-formed XML: line 1"), answer
    assert answer["detail"].count("not well-formed XML") == 1, answer


# -- a bundle folder written by an earlier send on this machine -------------------------------


async def _until(service: GatewayService, message_id: str,
                 state: TransportState) -> MessageRecord:
    assert service.store is not None
    for _ in range(1000):
        record = await service.store.get(message_id)
        assert record is not None
        if record.transport_state is state:
            return record
        await asyncio.sleep(0.01)
    raise AssertionError(f"message {message_id} never became {state}")


async def _started(path: Path) -> GatewayService:
    service = GatewayService(path, make_plugin_manager(), dispatch=FAST)
    await service.start()
    return service


def _portal(service: GatewayService) -> PortalChannel:
    channel = service.channels["portal"]
    assert isinstance(channel, PortalChannel)
    return channel


def _two_instances(tmp_path: Path) -> tuple[Path, Path]:
    """Two full instances on one database, each with its own export folder."""
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    return (instance_config(tmp_path / "first", database, "portal",
                            'export_dir = "portal-tasks"', token=TOKEN),
            instance_config(tmp_path / "second", database, "portal",
                            'export_dir = "portal-tasks"', token=TOKEN))


async def _send(service: GatewayService, number: str) -> tuple[str, str]:
    """Submit an invoice routed to the portal; its message id and task id once sent."""
    assert service.outbound is not None
    invoice = attrs.evolve(example_invoice(), number=number)
    record, _ = await service.outbound.submit(document_json(invoice), agency_oin=AGENCY_OIN)
    sent = await _until(service, record.id, TransportState.SENT)
    return record.id, str(sent.transport_id)


async def test_a_task_reopened_on_another_instance_is_not_served_from_a_stale_bundle(
        tmp_path: Path) -> None:
    """Two full instances share one database, each with its own export folder (README:
    'an instance that has no bundle folder for a task rebuilds it from the store'). A task
    sent by the first and cancelled, then retried and sent again by the second, is open;
    the first instance served its own old bundle, whose task.json said the task was
    closed (cancelled), with no check against the store."""
    first, second = _two_instances(tmp_path)
    service = await _started(first)
    try:
        message_id, task_id = await _send(service, "F2024-0901")
        await _portal(service).cancel(task_id, "wrong order number, corrected in the ERP",
                                      "bob")
    finally:
        await service.stop()
    service = await _started(second)
    try:
        assert service.store is not None
        await operator.retry(service.store, message_id, actor="bob", reason="corrected")
        await _until(service, message_id, TransportState.SENT)
    finally:
        await service.stop()
    service = await _started(first)
    try:
        channel = _portal(service)
        assert (await channel.task(task_id)).state == "open"
        note = json.loads((await channel.bundle(task_id))["task.json"])
        assert "closed" not in note, note
    finally:
        await service.stop()


async def test_a_close_recorded_elsewhere_is_in_the_note_and_nothing_is_printed_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second instance submits a task the first wrote: the first's download says so
    (from the store), without printing the PDF again; on the instance that wrote and closed
    it the folder is served as it is on disk."""
    count = counting_pdf_tool(tmp_path, monkeypatch)

    first, second = _two_instances(tmp_path)
    first_folder = tmp_path / "first" / "data" / "portal-tasks"
    service = await _started(first)
    try:
        _, task_id = await _send(service, "F2024-0902")
        _, own_task = await _send(service, "F2024-0903")
        await _portal(service).cancel(own_task, "sent by post instead", "carol")
        assert count() == 2
        files = await _portal(service).bundle(own_task)  # closed here: as on disk
        assert files["task.json"] == (first_folder / own_task / "task.json").read_bytes()
        assert json.loads(files["task.json"])["closed"][0]["reason"] == "sent by post instead"
    finally:
        await service.stop()
    service = await _started(second)
    try:
        await _portal(service).done(task_id, "DI-7781", "alice")
    finally:
        await service.stop()
    service = await _started(first)
    try:
        files = await _portal(service).bundle(task_id)
        note = json.loads(files["task.json"])
        assert [(c["reference"], c["by"]) for c in note["closed"]] == [("DI-7781", "alice")]
        assert files["document.pdf"] == (first_folder / task_id / "document.pdf").read_bytes()
        assert count() == 2, "the folder's bundle was printed again"
    finally:
        await service.stop()


async def test_a_folder_holding_another_document_is_rebuilt_from_the_store(
        gateway: Running) -> None:  # noqa: F811
    """A folder left by an earlier send of the task (another format, before a reroute on
    another instance) holds a document the store no longer has: the store's is served."""
    record = await gateway.submit("F2024-0904")
    task_id = str(record.transport_id)
    folder = gateway.tmp_path / "data" / "portal-tasks" / task_id
    document = folder / json.loads((folder / "task.json").read_bytes())["document"]
    document.write_bytes(b'<?xml version="1.0"?>\n<Invoice>as first encoded</Invoice>\n')
    channel = _portal(gateway.service)
    files = await channel.bundle(task_id)
    assert files[document.name] == record.raw_payload
    status, shown = await gateway.api("GET", f"/tasks/{task_id}")
    assert status == 200, shown
    assert document.name in shown["files"]
