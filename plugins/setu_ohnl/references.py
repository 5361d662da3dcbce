"""Party identifiers and references, written and read the same way in every SETU message.

SETU-OHNL identifies the trading parties only by id under an ``idOwner``
scheme (``OIN``, ``KvK``, ``Vest``, ``BTW``, ``Fi``; ``StaffingCustomer`` and
``StaffingCompany`` for ids the parties gave each other): the agency in
``StaffingCustomerId``, the supplier in ``StaffingSupplierId``. Names and
addresses of the parties have no place in a TimeCard or HumanResource.
"""

from __future__ import annotations

from gateway.model import Party
from gateway.model.common import PartyId
from plugins.setu_ohnl.errors import SetuEncodeError
from plugins.setu_ohnl.xmltools import (
    HR_NS,
    VERSION_ID,
    VERSION_TITLE,
    Element,
    SetuReader,
    add,
    hr,
)

PARTY_SCHEMES = frozenset(
    {"OIN", "KvK", "Vest", "BTW", "Fi", "StaffingCustomer", "StaffingCompany"}
)


def party_ids(party: Party, field: str) -> tuple[PartyId, ...]:
    """The ids of ``party`` SETU can carry; refuses a party without one.

    ``vat_id`` travels as a ``BTW`` id unless ``ids`` already has one: the
    reader gives it back under ``ids``, so a round trip moves it there.
    """
    ids = [party_id for party_id in party.ids if party_id.scheme in PARTY_SCHEMES]
    if party.vat_id and not any(party_id.scheme == "BTW" for party_id in ids):
        ids.append(PartyId(scheme="BTW", value=party.vat_id))
    if not ids:
        schemes = ", ".join(sorted(PARTY_SCHEMES))
        raise SetuEncodeError(f"{field}: SETU-OHNL identifies a party by an id under {schemes}")
    return tuple(ids)


def write_ids(parent: Element, name: str, ids: tuple[PartyId, ...]) -> None:
    for party_id in ids:
        add(add(parent, name, idOwner=party_id.scheme), "IdValue", party_id.value)


def read_ids(reader: SetuReader, parent: Element | None, name: str) -> tuple[PartyId, ...]:
    if parent is None:
        return ()
    found = []
    for node in reader.all(parent, hr(name)):
        scheme = reader.attr(node, "idOwner")
        value = reader.code(node, hr("IdValue"))
        if scheme is not None and value is not None:
            found.append(PartyId(scheme=scheme, value=value))
    return tuple(found)


def write_version(requirements: Element) -> None:
    """The VersionId requirement; SETU wants it after the references in the sequence."""
    add(requirements, "AdditionalRequirement", VERSION_ID, ns=HR_NS, requirementTitle=VERSION_TITLE)


def read_version(reader: SetuReader, requirements: Element | None) -> None:
    """Mark the VersionId read: detection already checked it, the model has no field for it."""
    if requirements is None:
        return
    for node in reader.peek_all(requirements, hr("AdditionalRequirement")):
        if node.get("requirementTitle") == VERSION_TITLE:
            reader.mark(node)
            reader.attr(node, "requirementTitle")
