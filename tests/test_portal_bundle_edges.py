"""Portal bundles and imports at their edges: every file a person needs, nothing stale."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import attrs
from pipeline_support import AGENCY_OIN, OTHER_OIN, document_json
from test_portal import Running, gateway  # noqa: F401 - fixture

from gateway.model import Attachment, DocumentReference, PartyId
from gateway.model.json import dumps
from gateway.model.samples import example_invoice, example_order, example_quotation
from gateway.store import TransportState
from plugins.portal.bundle import BundleSource, build_files
from plugins.portal.channel import PortalChannel


async def test_bundle_holds_files_embedded_in_supporting_document_references(
        gateway: Running) -> None:  # noqa: F811
    """BG-24 supporting documents may embed files (the model says so); the person must
    upload them in the portal too, so the bundle must hold them."""
    invoice = attrs.evolve(
        example_invoice(), number="F2024-0301",
        other_references=(DocumentReference(
            id="UREN-2024-03", description="urenverantwoording",
            attachment=Attachment(content=b"%PDF-1.4 hours", mime_type="application/pdf",
                                  filename="uren.pdf")),))
    assert gateway.service.outbound is not None
    record, _ = await gateway.service.outbound.submit(document_json(invoice),
                                                      agency_oin=AGENCY_OIN)
    sent = await gateway.wait(record.id, TransportState.SENT)
    folder = gateway.tmp_path / "data" / "portal-tasks" / str(sent.transport_id)
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert "attachments/uren.pdf" in files, files


def test_bundle_holds_the_attachments_of_a_quotation() -> None:
    """A quotation (an outbound document with its own attachments) loses them."""
    quotation = example_quotation()
    quotation = attrs.evolve(quotation, attachments=(Attachment(
        content=b"%PDF-1.4 offer", mime_type="application/pdf", filename="offerte.pdf"),))
    source = BundleSource(task_id="T1", message_id="T1", agency_oin=AGENCY_OIN,
                          kind="quotation", format_key="canonical:quotation:1",
                          filename="Q-1.json", payload=b"{}", canonical_json=dumps(quotation))
    files = build_files(source, None, make_pdf=False)
    assert "attachments/offerte.pdf" in files, sorted(files)


def test_a_document_numbered_task_is_not_overwritten_by_task_json() -> None:
    """The document file is named after the number: number 'task' in JSON is 'task.json'."""
    invoice = attrs.evolve(example_invoice(), number="task")
    payload = document_json(invoice)
    source = BundleSource(task_id="T2", message_id="T2", agency_oin=AGENCY_OIN,
                          kind="invoice", format_key="canonical:invoice:1",
                          filename="task.json", payload=payload,
                          canonical_json=dumps(invoice))
    files = build_files(source, None, make_pdf=False)
    assert payload in files.values(), "the document itself is missing from the bundle"


async def test_a_retried_task_bundle_does_not_still_say_it_was_cancelled(
        gateway: Running) -> None:  # noqa: F811
    record = await gateway.submit("F2024-0302")
    task_id = str(record.transport_id)
    channel = gateway.service.channels["portal"]
    assert isinstance(channel, PortalChannel)
    await channel.cancel(task_id, "wrong VAT, will be corrected", "bob")
    await gateway.wait(record.id, TransportState.FAILED)
    from gateway.pipeline import operator
    assert gateway.service.store is not None
    await operator.retry(gateway.service.store, record.id, actor="bob", reason="corrected")
    await gateway.wait(record.id, TransportState.SENT)
    task = await channel.task(task_id)
    assert task.state == "open"
    files = await channel.bundle(task_id)
    note = json.loads(files["task.json"])
    # The task is open again, but the bundle a person opens says it was closed.
    assert "closed" not in note, note


async def test_rebuilt_bundle_names_the_document_as_the_original_did(
        gateway: Running) -> None:  # noqa: F811
    record = await gateway.submit("F2024-0303")
    task_id = str(record.transport_id)
    channel = gateway.service.channels["portal"]
    assert isinstance(channel, PortalChannel)
    first = await channel.bundle(task_id)
    export = gateway.tmp_path / "data" / "portal-tasks" / task_id
    for path in sorted(export.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    export.rmdir()
    rebuilt = await channel.bundle(task_id)
    # A canonical JSON document comes back as "<task id>.xml" instead of "F2024-0303.json".
    assert sorted(n for n in rebuilt if n != "task.json") == sorted(
        n for n in first if n != "task.json")


async def test_import_refuses_the_suppliers_own_invoice(
        gateway: Running, tmp_path: Path) -> None:  # noqa: F811
    """The portal import is for orders and proposal invoices the agency shows; the
    supplier's own invoice (e.g. the XML from a task bundle, picked by mistake) must not
    reach the ERP as an inbound document from the agency."""
    own = document_json(example_invoice())
    status, answer = await gateway.api("POST", "/import", {
        "agency": AGENCY_OIN, "content_base64": base64.b64encode(own).decode()})
    assert status == 400, answer


async def test_import_checks_the_agency_given_against_the_document(
        gateway: Running) -> None:  # noqa: F811
    """--agency names who the document comes from; an order of another agency is the
    wrong file and must be refused, not stored under the document's own buyer."""
    order = document_json(example_order())  # buyer AGENCY_OIN
    status, answer = await gateway.api("POST", "/import", {
        "agency": OTHER_OIN, "content_base64": base64.b64encode(order).decode()})
    assert status == 400, answer


async def test_import_names_a_buyer_oin_that_is_no_oin(gateway: Running) -> None:  # noqa: F811
    """A buyer OIN with a wrong prefix is refused with the identifier's own reason."""
    order = example_order()
    wrong = attrs.evolve(order, buyer=attrs.evolve(
        order.buyer, endpoint_id=PartyId(value="12345678901234567890", scheme="0190")))
    status, answer = await gateway.api("POST", "/import", {
        "agency": AGENCY_OIN,
        "content_base64": base64.b64encode(document_json(wrong)).decode()})
    assert status == 400, answer
    assert "12345678901234567890" in answer["detail"], answer
    assert "none" not in answer["detail"], answer


def test_attachments_with_clashing_names_all_reach_the_bundle() -> None:
    """The renamed '3-a.pdf' of the third attachment overwrites the first, named '3-a.pdf'."""
    pdfs = tuple(Attachment(content=data, mime_type="application/pdf", filename=name)
                 for name, data in (("3-a.pdf", b"one"), ("a.pdf", b"two"), ("a.pdf", b"three")))
    invoice = attrs.evolve(example_invoice(), attachments=pdfs)
    source = BundleSource(task_id="T3", message_id="T3", agency_oin=AGENCY_OIN,
                          kind="invoice", format_key="canonical:invoice:1",
                          filename="F.json", payload=b"{}", canonical_json=dumps(invoice))
    files = build_files(source, None, make_pdf=False)
    assert sorted(v for k, v in files.items() if k.startswith("attachments/")) == sorted(
        [b"one", b"two", b"three"]), sorted(files)
