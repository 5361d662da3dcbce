"""BESTELLING-BEVESTIGING-HRXML: the SETU-OHNL 2.0 HumanResource, the supplier's answer to an order.

Unlike UBL-OHNL, the answer may reject the order (``HumanResourceStatus``
``accepted`` or ``rejected``). Decoding is here too, so that simulators and
tests can play the agency's side.

Mapping (canonical ← SETU):

- ``id`` ← ``HumanResourceId/IdValue``; ``status`` ←
  ``HumanResourceStatus/@status``;
- ``supplier`` and ``customer`` ← ``ReferenceInformation``
  ``StaffingSupplierId``/``StaffingCustomerId`` (ids only);
- ``candidate.name`` ← ``ResourceInformation/EntityContactInfo/EntityName``
  (the examples leave ``PersonName`` empty); ``availability`` ←
  ``ResourceInformation/AvailabilityDate`` start and end;
- ``notes`` ← ``HumanResourceComments`` (one element: several notes are
  joined by a blank line and read back as one);
- ``offer_id`` ← ``UserArea/HumanResourceAdditionalNL/OfferId`` and
  ``order_reference`` ← its ``CustomerReportingRequirements/PurchaseOrderNumber``,
  next to the VersionId.

Does not survive a round trip: ``issue_date`` and ``candidate.id`` (SETU has
no element for them; left out when encoding), the SETU version in
``SETUVersionId`` (always written as 1.2, the SETU release OHNL 2.0 builds the
HumanResource on), ``idOwner`` of the HumanResourceId (written as
StaffingCompany: the supplier issues it), party names and addresses.
Encoding refuses attachments (``SupportingMaterials`` is not written yet).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.formats import Sample
from gateway.kinds import Direction, DocumentKind
from gateway.model import HumanResource, HumanResourceStatus, Party, Period, Worker
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.format import SetuFormat
from plugins.setu_ohnl.messages import HUMAN_RESOURCE, SETU_NL_NS
from plugins.setu_ohnl.references import (
    party_ids,
    read_ids,
    read_version,
    write_ids,
    write_version,
)
from plugins.setu_ohnl.xmltools import (
    HR_NS,
    Element,
    SetuReader,
    add,
    as_date,
    format_when,
    hr,
    make_root,
)
from plugins.ubl import path_of

SETU_VERSION = "1.2"
NOTE_SEPARATOR = "\n\n"


def nl(path: str) -> str:
    return hr(path, SETU_NL_NS)


def write_human_resource(answer: HumanResource) -> Element:
    if answer.attachments:
        raise SetuEncodeError(
            "HumanResource.attachments: SupportingMaterials is not written yet"
        )
    root = make_root("HumanResource")
    add(add(root, "HumanResourceId", idOwner="StaffingCompany"), "IdValue", answer.id)
    add(root, "HumanResourceStatus", status=answer.status.value)
    references = add(root, "ReferenceInformation")
    write_ids(references, "StaffingSupplierId",
              party_ids(answer.supplier, "HumanResource.supplier"))
    write_ids(references, "StaffingCustomerId",
              party_ids(answer.customer, "HumanResource.customer"))
    resource = add(root, "ResourceInformation")
    add(resource, "PersonName")
    contact = add(resource, "EntityContactInfo")
    add(contact, "EntityName", answer.candidate.name if answer.candidate else "")
    add(contact, "ContactMethod")
    availability = answer.availability
    if availability is not None and availability.start is not None:
        dates = add(resource, "AvailabilityDate")
        add(dates, "AvailabilityStartDate", format_when(availability.start))
        if availability.end is not None:
            add(dates, "AvailabilityEndDate", format_when(availability.end))
    elif availability is not None:
        raise SetuEncodeError("HumanResource.availability: SETU needs the start date")
    add(root, "Profile")
    add(root, "Preferences")
    if answer.notes:
        add(root, "HumanResourceComments", NOTE_SEPARATOR.join(answer.notes))
    additional = add(add(root, "UserArea"), "HumanResourceAdditionalNL", ns=SETU_NL_NS)
    add(additional, "SETUVersionId", SETU_VERSION)
    # The Schematron wants an OfferId unless the status is x:Confirmed; without an
    # offer it stays empty, as in the EBF example.
    offer = add(additional, "OfferId", idOwner="StaffingCompany")
    add(offer, "IdValue", answer.offer_id or "", ns=HR_NS)
    requirements = add(additional, "CustomerReportingRequirements")
    add(requirements, "PurchaseOrderNumber", answer.order_reference, ns=HR_NS)
    write_version(requirements)
    return root


class HumanResourceReader:
    def __init__(self, root: Element) -> None:
        self.root = root
        self.r = SetuReader(root)

    def human_resource(self) -> tuple[HumanResource, list[str]]:
        root = self.root
        answer_id = self.r.id_value(root, "HumanResourceId")
        if answer_id is None:
            raise SetuDecodeError("/HumanResource/HumanResourceId/IdValue is required and empty")
        status_node = self.r.first(root, hr("HumanResourceStatus"))
        status = self.r.attr(status_node, "status")
        if status not in {s.value for s in HumanResourceStatus}:
            raise SetuDecodeError(
                f"/HumanResource/HumanResourceStatus/@status: {status!r} is neither "
                "accepted nor rejected"
            )
        references = self.r.first(root, hr("ReferenceInformation"))
        resource = self.r.first(root, hr("ResourceInformation"))
        candidate = None
        availability = None
        if resource is not None:
            self._mark_empty(resource, "PersonName")
            self._mark_empty(resource, "EntityContactInfo/ContactMethod")
            name = self.r.text(resource, hr("EntityContactInfo/EntityName"))
            if name is None:
                name = self.r.text(resource, hr("PersonName/FormattedName"))
            candidate = Worker(name=name) if name else None
            dates = self.r.first(resource, hr("AvailabilityDate"))
            if dates is not None:
                start = self.r.when(dates, hr("AvailabilityStartDate"))
                end = self.r.when(dates, hr("AvailabilityEndDate"))
                availability = Period(
                    start=as_date(start) if start is not None else None,
                    end=as_date(end) if end is not None else None,
                )
        for empty in ("Profile", "Preferences"):
            self._mark_empty(root, empty)
        comments = self.r.text(root, hr("HumanResourceComments"))
        additional = self.r.first(root, hr("UserArea") + "/" + nl("HumanResourceAdditionalNL"))
        offer_id = order = None
        if additional is not None:
            self.r.code(additional, nl("SETUVersionId"))
            offer = self.r.first(additional, nl("OfferId"))
            if offer is not None:
                self.r.attr(offer, "idOwner")
                offer_id = self.r.code(offer, hr("IdValue"))
                if offer_id is None:
                    self._mark_empty(offer, "IdValue")
            requirements = self.r.first(additional, nl("CustomerReportingRequirements"))
            read_version(self.r, requirements)
            if requirements is not None:
                order = self.r.code(requirements, hr("PurchaseOrderNumber"))
        if order is None:
            raise SetuDecodeError(
                f"{path_of(root)}: the order number (PurchaseOrderNumber) is missing"
            )
        answer = HumanResource(
            id=answer_id,
            order_reference=order,
            status=HumanResourceStatus(status),
            customer=Party(ids=read_ids(self.r, references, "StaffingCustomerId")),
            supplier=Party(ids=read_ids(self.r, references, "StaffingSupplierId")),
            candidate=candidate,
            availability=availability,
            offer_id=offer_id,
            notes=tuple(comments.split(NOTE_SEPARATOR)) if comments else (),
        )
        return answer, self.r.unread()

    def _mark_empty(self, parent: Element, path: str) -> None:
        """Empty placeholders the XSD requires carry nothing to map."""
        found = self.r.peek(parent, hr(path))
        if found is not None and len(found) == 0 and not (found.text or "").strip():
            self.r.mark(found)


class SetuHumanResource20(SetuFormat):
    key = "setu-ohnl:human-resource:2.0"
    kind = DocumentKind.HUMAN_RESOURCE
    directions = frozenset({Direction.OUTBOUND, Direction.INBOUND})
    description = (
        "SETU (HR-XML)-OHNL 2.0 HumanResource (BESTELLING-BEVESTIGING-HRXML): the supplier "
        "accepts or rejects a staffing order"
    )
    message = HUMAN_RESOURCE
    model = HumanResource
    noun = "order confirmations (HumanResource)"
    subject = "the confirmation"

    def write(self, document: Any) -> Element:
        return write_human_resource(document)

    def read(self, root: Element) -> tuple[Any, list[str]]:
        return HumanResourceReader(root).human_resource()

    def samples(self) -> Sequence[Sample]:
        from plugins.setu_ohnl.samples import human_resource_samples

        return human_resource_samples()
