"""Parties, addresses and contacts in UBL-OHNL, shared by every OHNL document type.

OHNL rules applied here (Schematron of 1.8/1.9, Implementatiewijzer §3.5):

- a party is identified by one to three ``cac:PartyIdentification/cbc:ID``,
  each with ``@schemeAgencyID`` (an ISO 3166 country, NL for every Dutch
  register) and ``@schemeAgencyName`` (KvK, Vest, BTW, Fi, BSN, OIN, XXX);
  a Vest(igingsnummer) needs the KvK number beside it;
- the accounting parties carry ``PartyName`` and ``PartyLegalEntity`` with a
  ``RegistrationAddress`` that has a country (1.9);
- a ``PostalAddress`` has either a postbox or street data, never both;
- ``BuildingNumber`` holds the number and its addition joined by a hyphen
  (``7-A``), matching ``^\\d+(-[ \\w]+)?$``;
- a ``Contact`` has a name.

Canonical identifiers map as follows: ``Party.ids`` in order (OHNL scheme
names, or the Peppol codes 0190/0106/9944 for OIN/KvK/BTW), then, while there
is room, ``vat_id`` as BTW and ``legal_id``/``endpoint_id`` when their scheme
has an OHNL name and the identification is not there yet. Decoding gives
``ids`` as written and ``vat_id`` from the BTW identification; ``legal_id``
and ``endpoint_id`` stay empty (OHNL has no separate place for them).
"""

from __future__ import annotations

import re
import unicodedata

from gateway.model import Address, Contact, Party, PartyId
from plugins.ubl_ohnl import codes
from plugins.ubl_ohnl.errors import OhnlEncodeError
from plugins.ubl_ohnl.xmltools import Element, Reader, add, add_text

# XPath \w is every character except punctuation (P*), separators (Z*) and
# others (C*): letters, marks, digits and symbols. Python's \w lacks marks and
# symbols, so the addition is checked by Unicode category instead.
_BUILDING_NUMBER = re.compile(r"\d+(?:-(?P<addition>.+))?", re.DOTALL)


def _xpath_word_or_space(char: str) -> bool:
    return char == " " or unicodedata.category(char)[0] not in "PZC"


# -- encoding ------------------------------------------------------------------------------------


def party_identifications(
    party: Party, role: str, *, required: PartyId | None = None,
) -> list[PartyId]:
    """The PartyIdentification values of ``party``, with OHNL scheme names.

    ``required`` is an identification the party must carry (the routed
    agency's OIN); it goes first unless ``party.ids`` has it already.
    """
    result: list[PartyId] = []
    for i, party_id in enumerate(party.ids):
        scheme = codes.ohnl_scheme(party_id.scheme)
        if scheme is None:
            raise OhnlEncodeError(
                f"{role}.ids[{i}]: scheme {party_id.scheme!r} has no UBL-OHNL name; "
                f"OHNL identifies parties by {', '.join(codes.PARTY_SCHEMES)} "
                "(or the Peppol codes 0190, 0106, 9944)"
            )
        result.append(PartyId(scheme=scheme, value=party_id.value))
    if required is not None and not any(
        p.scheme == required.scheme and "".join(p.value.split()) == required.value
        for p in result
    ):
        result.insert(0, required)
    if len(result) > codes.MAX_PARTY_IDS:
        added = f", with {required.scheme} {required.value} added," if (
            required is not None and required not in party.ids) else ""
        raise OhnlEncodeError(
            f"{role}.ids: {len(result)} identifications{added} but UBL-OHNL allows at most "
            f"{codes.MAX_PARTY_IDS} PartyIdentification elements"
        )
    extras = []
    if party.vat_id is not None:
        extras.append(PartyId(scheme="BTW", value=party.vat_id))
    for other in (party.legal_id, party.endpoint_id):
        if other is not None and (scheme := codes.ohnl_scheme(other.scheme)) is not None:
            extras.append(PartyId(scheme=scheme, value=other.value))
    for extra in extras:
        # One VAT number per party; other schemes may repeat with other values.
        taken = any(
            p.scheme == extra.scheme and (p.scheme in ("BTW", "OIN") or p.value == extra.value)
            for p in result
        )
        if not taken and len(result) < codes.MAX_PARTY_IDS:
            result.append(extra)
    if not result:
        raise OhnlEncodeError(
            f"{role}: UBL-OHNL identifies every party by at least one PartyIdentification; "
            f"give {role}.ids (e.g. KvK, OIN or BTW) or a vat_id"
        )
    schemes = [p.scheme for p in result]
    if "Vest" in schemes and schemes.count("KvK") != 1:
        raise OhnlEncodeError(
            f"{role}.ids: a Vest (vestigingsnummer) needs the KvK number beside it, exactly "
            "one (OHNL rule: count(KvK) = 1)"
        )
    return result


def add_party(
    parent: Element, party: Party, role: str, *, registration_address: bool = True,
    ids: list[PartyId] | None = None,
) -> None:
    """Append ``cac:Party`` for ``party`` (PartyType, in XSD order).

    ``registration_address`` says PartyLegalEntity/RegistrationAddress is
    required (OHNL 1.9, for the trading parties); otherwise PartyLegalEntity
    is written when there is something to put in it. ``ids`` overrides the
    identifications (the buyer's OIN from the agency directory).
    """
    element = add(parent, "cac:Party")
    for party_id in ids if ids is not None else party_identifications(party, role):
        identification = add(element, "cac:PartyIdentification")
        add(identification, "cbc:ID", party_id.value, {
            "schemeAgencyID": codes.PARTY_SCHEME_COUNTRY, "schemeAgencyName": party_id.scheme,
        })
    name = party.name or party.registration_name
    if name is None:
        raise OhnlEncodeError(f"{role}: UBL-OHNL requires PartyName; give {role}.name")
    add(add(element, "cac:PartyName"), "cbc:Name", name)
    address = party.address
    if address is not None and _is_postal(address, f"{role}.address"):
        add_address(element, "cac:PostalAddress", address, f"{role}.address")
    registered = address is not None and address.country_code is not None
    if registration_address and not registered:
        raise OhnlEncodeError(
            f"{role}.address: UBL-OHNL requires PartyLegalEntity/RegistrationAddress "
            "with a country; give the party's address with its country_code"
        )
    if registered or party.registration_name is not None:
        legal = add(element, "cac:PartyLegalEntity")
        add_text(legal, "cbc:RegistrationName", party.registration_name)
        if registered:
            assert address is not None
            add_address(legal, "cac:RegistrationAddress", address, f"{role}.address")
    if party.contact is not None:
        add_contact(element, party.contact, f"{role}.contact")


def _is_postal(address: Address, role: str) -> bool:
    """Whether ``address`` makes a valid PostalAddress (postbox or street, not both)."""
    street = address.street is not None or address.building_number is not None
    if address.postbox is not None and street:
        raise OhnlEncodeError(
            f"{role}: UBL-OHNL allows either a postbox or a street address in PostalAddress, "
            "not both"
        )
    return address.postbox is not None or street


def add_address(parent: Element, tag: str, address: Address, role: str) -> None:
    """Append an AddressType element; its country is required wherever OHNL uses one."""
    if address.country_code is None:
        raise OhnlEncodeError(f"{role}: UBL-OHNL requires the country of every address")
    element = add(parent, tag)
    add_text(element, "cbc:Postbox", address.postbox)
    add_text(element, "cbc:StreetName", address.street)
    add_text(element, "cbc:AdditionalStreetName", address.additional_street)
    add_text(element, "cbc:BuildingNumber", building_number(address, role))
    add_text(element, "cbc:CityName", address.city)
    add_text(element, "cbc:PostalZone", address.postal_zone)
    add_text(element, "cbc:CountrySubentity", address.country_subdivision)
    if address.address_line is not None:
        add(add(element, "cac:AddressLine"), "cbc:Line", address.address_line)
    add_country(element, "cac:Country", address.country_code)


def add_country(parent: Element, tag: str, country_code: str) -> None:
    add(add(parent, tag), "cbc:IdentificationCode", country_code, codes.COUNTRY_CODE_LIST)


def building_number(address: Address, role: str) -> str | None:
    if address.building_number is None:
        if address.building_addition is not None:
            raise OhnlEncodeError(
                f"{role}.building_addition: UBL-OHNL writes the addition after the building "
                "number; give building_number too"
            )
        return None
    text = address.building_number
    if address.building_addition is not None:
        text += "-" + address.building_addition
    match = _BUILDING_NUMBER.fullmatch(text)
    if match is None or not all(_xpath_word_or_space(c) for c in match["addition"] or ""):
        raise OhnlEncodeError(
            f"{role}: building number {text!r} does not fit UBL-OHNL's BuildingNumber "
            "(digits, then optionally '-' and an addition of letters, digits and spaces)"
        )
    return text


def add_contact(parent: Element, contact: Contact, role: str) -> None:
    if contact.name is None:
        raise OhnlEncodeError(f"{role}.name: UBL-OHNL requires the name of a contact")
    element = add(parent, "cac:Contact")
    add(element, "cbc:Name", contact.name)
    add_text(element, "cbc:Telephone", contact.telephone)
    add_text(element, "cbc:ElectronicMail", contact.email)


# -- decoding ------------------------------------------------------------------------------------


def read_party(r: Reader, element: Element) -> Party:
    """A canonical Party from a PartyType element."""
    ids = []
    for node in r.all(element, "cac:PartyIdentification/cbc:ID"):
        value = node.text
        if value is None or not value.strip():
            continue
        scheme = (node.get("schemeAgencyName") or node.get("schemeID") or "").strip()
        if not scheme:
            r.warn(node, "no @schemeAgencyName; read as scheme XXX (other)")
            scheme = "XXX"
        country = (node.get("schemeAgencyID") or "").strip()
        if country and country != codes.PARTY_SCHEME_COUNTRY:
            r.warn(node, f"@schemeAgencyID {country!r} is not kept; the canonical model "
                         "assumes the Dutch register")
        ids.append(PartyId(scheme=scheme, value=value))
    vat_id = next((p.value for p in ids if p.scheme.upper() == "BTW"), None)
    postal_node = r.first(element, "cac:PostalAddress")
    address = read_address(r, postal_node) if postal_node is not None else None
    registration_node = r.first(element, "cac:PartyLegalEntity/cac:RegistrationAddress")
    if registration_node is not None:
        registration = read_address(r, registration_node)
        if address is None:
            address = registration
        elif registration != address:
            r.warn(registration_node, "differs from the postal address and is not kept")
    physical_node = r.first(element, "cac:PhysicalLocation/cac:Address")
    if physical_node is not None:
        physical = read_address(r, physical_node)
        if address is None:
            address = physical
        elif physical != address:
            r.warn(physical_node, "differs from the postal address and is not kept")
    contact_node = r.first(element, "cac:Contact")
    return Party(
        name=r.text(element, "cac:PartyName/cbc:Name"),
        registration_name=r.text(element, "cac:PartyLegalEntity/cbc:RegistrationName"),
        ids=tuple(ids),
        vat_id=vat_id,
        address=address,
        contact=read_contact(r, contact_node) if contact_node is not None else None,
    )


def read_address(r: Reader, element: Element) -> Address | None:
    number = r.text(element, "cbc:BuildingNumber")
    addition = None
    if number is not None and "-" in number:
        number, _, addition = number.partition("-")
        number, addition = number or None, addition or None
    fields = {
        "postbox": r.text(element, "cbc:Postbox"),
        "street": r.text(element, "cbc:StreetName"),
        "additional_street": r.text(element, "cbc:AdditionalStreetName"),
        "building_number": number,
        "building_addition": addition,
        "city": r.text(element, "cbc:CityName"),
        "postal_zone": r.text(element, "cbc:PostalZone"),
        "country_subdivision": r.text(element, "cbc:CountrySubentity"),
        "address_line": r.text(element, "cac:AddressLine/cbc:Line"),
        "country_code": r.token(element, "cac:Country/cbc:IdentificationCode"),
    }
    if all(value is None for value in fields.values()):
        return None
    return Address(**fields)


def read_contact(r: Reader, element: Element) -> Contact | None:
    contact = Contact(
        name=r.text(element, "cbc:Name"),
        telephone=r.text(element, "cbc:Telephone"),
        email=r.text(element, "cbc:ElectronicMail"),
    )
    return None if contact == Contact() else contact
