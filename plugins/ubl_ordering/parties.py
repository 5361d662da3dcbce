"""Parties, addresses and periods as the Peppol ordering transactions write them."""

from __future__ import annotations

import datetime as dt

from lxml import etree

from gateway.identifiers import eas_code
from gateway.model import Address, Contact, Party, PartyId, Period
from plugins.ubl import TrackingReader, element, format_date, sub

NO_SCHEME = "XXX"
"""The scheme of an identifier written without schemeID, the model's word for "other"."""


def write_address(parent: etree._Element, name: str, address: Address) -> None:
    node = element(parent, name)
    sub(node, "cbc:StreetName", address.street)
    sub(node, "cbc:AdditionalStreetName", address.additional_street)
    sub(node, "cbc:CityName", address.city)
    sub(node, "cbc:PostalZone", address.postal_zone)
    sub(node, "cbc:CountrySubentity", address.country_subdivision)
    if address.address_line is not None:
        sub(element(node, "cac:AddressLine"), "cbc:Line", address.address_line)
    # T01 requires the country on every address it has.
    country = element(node, "cac:Country")
    sub(country, "cbc:IdentificationCode", address.country_code)


def read_address(reader: TrackingReader, node: etree._Element) -> Address:
    return Address(
        street=reader.text(node, "cbc:StreetName"),
        additional_street=reader.text(node, "cbc:AdditionalStreetName"),
        city=reader.text(node, "cbc:CityName"),
        postal_zone=reader.text(node, "cbc:PostalZone"),
        country_subdivision=reader.text(node, "cbc:CountrySubentity"),
        address_line=reader.text(node, "cac:AddressLine/cbc:Line"),
        country_code=reader.code(node, "cac:Country/cbc:IdentificationCode"),
    )


def write_contact(parent: etree._Element, contact: Contact) -> None:
    node = element(parent, "cac:Contact")
    sub(node, "cbc:Name", contact.name)
    sub(node, "cbc:Telephone", contact.telephone)
    sub(node, "cbc:ElectronicMail", contact.email)


def read_contact(reader: TrackingReader, node: etree._Element | None) -> Contact | None:
    if node is None:
        return None
    contact = Contact(
        name=reader.text(node, "cbc:Name"),
        telephone=reader.text(node, "cbc:Telephone"),
        email=reader.text(node, "cbc:ElectronicMail"),
    )
    return contact if contact != Contact() else None


def read_party_id(reader: TrackingReader, node: etree._Element | None) -> PartyId | None:
    if node is None:
        return None
    value = reader.code(node)
    if value is None:
        return None
    return PartyId(scheme=reader.attr(node, "schemeID") or NO_SCHEME, value=value)


def _write_id(parent: etree._Element, name: str, party_id: PartyId | None,
              *, address: bool = False) -> None:
    if party_id is not None:
        sub(parent, name, party_id.value, schemeID=scheme_attribute(party_id, address=address))


def scheme_attribute(party_id: PartyId, *, address: bool = False) -> str | None:
    """The schemeID written for ``party_id``.

    A code is written as it is, a word of the canonical model as its code
    (``KvK`` as 0106), and the "other" scheme it was read from as none. Another
    word has no code: an identifier goes without a scheme, as the invoice
    encoders write it, but an electronic ``address`` keeps the word for the
    rules to report, since its schemeID is mandatory.
    """
    scheme = party_id.scheme
    if scheme == NO_SCHEME:
        return None
    if len(scheme) == 4 and scheme.isascii() and scheme.isdigit():
        return scheme
    code = eas_code(scheme)
    if code is None and address:
        return scheme
    return code


def write_party(parent: etree._Element, role: str, party: Party, *, full: bool) -> None:
    """``party`` under ``role``; ``full`` False writes the T76 subset (address, ids, legal name)."""
    node = element(element(parent, role), "cac:Party")
    _write_id(node, "cbc:EndpointID", party.endpoint_id, address=True)
    for each in party.ids:
        _write_id(element(node, "cac:PartyIdentification"), "cbc:ID", each)
    if full and party.name is not None:
        sub(element(node, "cac:PartyName"), "cbc:Name", party.name)
    if full and party.address is not None:
        write_address(node, "cac:PostalAddress", party.address)
    if full and party.vat_id is not None:
        tax = element(node, "cac:PartyTaxScheme")
        sub(tax, "cbc:CompanyID", party.vat_id)
        sub(element(tax, "cac:TaxScheme"), "cbc:ID", "VAT")
    if party.registration_name is not None or (full and party.legal_id is not None):
        legal = element(node, "cac:PartyLegalEntity")
        sub(legal, "cbc:RegistrationName", party.registration_name)
        if full:
            _write_id(legal, "cbc:CompanyID", party.legal_id)
    if full and party.contact is not None:
        write_contact(node, party.contact)


def read_party(reader: TrackingReader, node: etree._Element) -> Party:
    vat_id = None
    # Another tax scheme's number is no VAT id: left unread, it is reported.
    if reader.peek_text(node, "cac:PartyTaxScheme/cac:TaxScheme/cbc:ID") == "VAT":
        reader.code(node, "cac:PartyTaxScheme/cac:TaxScheme/cbc:ID")
        vat_id = reader.code(node, "cac:PartyTaxScheme/cbc:CompanyID")
    address = reader.first(node, "cac:PostalAddress")
    return Party(
        name=reader.text(node, "cac:PartyName/cbc:Name"),
        registration_name=reader.text(node, "cac:PartyLegalEntity/cbc:RegistrationName"),
        ids=tuple(
            party_id
            for each in reader.peek_all(node, "cac:PartyIdentification/cbc:ID")
            if (party_id := read_party_id(reader, each)) is not None
        ),
        legal_id=read_party_id(reader, reader.peek(node, "cac:PartyLegalEntity/cbc:CompanyID")),
        vat_id=vat_id,
        address=read_address(reader, address) if address is not None else None,
        contact=read_contact(reader, reader.peek(node, "cac:Contact")),
        endpoint_id=read_party_id(reader, reader.peek(node, "cbc:EndpointID")),
    )


def write_period(parent: etree._Element, name: str, date: dt.date | None,
                 period: Period | None) -> None:
    """A single date is written as a period of one day: the transactions have no date of its own."""
    if date is not None:
        period = Period(start=date, end=date)
    if period is None:
        return
    node = element(parent, name)
    sub(node, "cbc:StartDate", format_date(period.start) if period.start else None)
    sub(node, "cbc:EndDate", format_date(period.end) if period.end else None)


def read_period(reader: TrackingReader, node: etree._Element | None
                ) -> tuple[dt.date | None, Period | None]:
    """``(date, period)``: a one-day period reads back as the date it was written from."""
    if node is None:
        return None, None
    start = reader.date(node, "cbc:StartDate")
    end = reader.date(node, "cbc:EndDate")
    if start is None and end is None:
        return None, None
    if start is not None and start == end:
        return start, None
    return None, Period(start=start, end=end)
