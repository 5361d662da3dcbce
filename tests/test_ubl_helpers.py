"""The shared UBL helpers in ``plugins/ubl``: names, building, reading."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from lxml import etree

from plugins import ubl
from plugins.ubl import (
    CAC,
    CBC,
    TrackingReader,
    UBLReadError,
    document_namespace,
    element,
    first_text,
    format_amount,
    format_date,
    format_decimal,
    make_root,
    parse_date,
    parse_decimal,
    path_of,
    qname,
    reorder,
    sub,
    to_bytes,
)

D = Decimal


def test_names() -> None:
    assert qname("cbc:ID") == f"{{{CBC}}}ID"
    assert qname("Invoice") == "Invoice"
    with pytest.raises(ValueError, match="unknown UBL prefix"):
        qname("xyz:ID")
    assert document_namespace("Order") == "urn:oasis:names:specification:ubl:schema:xsd:Order-2"
    assert ubl.UBL_VERSIONS == ("2.0", "2.1")


def test_sub_leaves_absent_values_and_attributes_out() -> None:
    root = make_root("Invoice")
    assert sub(root, "cbc:Note", None) is None
    node = sub(root, "cbc:ID", "F1", schemeID=None, schemeAgencyID="NL")
    assert node is not None
    assert node.attrib == {"schemeAgencyID": "NL"}
    party = element(root, "cac:Party", name="x")
    assert party.tag == f"{{{CAC}}}Party"
    assert party.get("name") == "x"
    assert root.nsmap[None] == document_namespace("Invoice")
    assert to_bytes(root).startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


@pytest.mark.parametrize(("value", "places", "text"), [
    (D("21"), None, "21"),
    (D("21.00"), None, "21.00"),
    (D("1E+2"), None, "100"),
    (D("0.0000001"), None, "0.0000001"),
    (D("12.345"), 2, "12.35"),
    (D("-12.345"), 2, "-12.35"),
    (D("12.3"), 2, "12.3"),
    (D("-0.00"), 2, "-0.00"),
    (D("0E-7"), 2, "0.00"),
    (D("1E+2"), 2, "100"),
    (D("-0.005"), 2, "-0.01"),
    (D("12.3456789"), 6, "12.345679"),
    (D("1.23456789"), 8, "1.23456789"),
    (D("1.00000000005"), 10, "1.0000000001"),
    (D("1.5E-7"), 6, "0.000000"),
    (D("-2.5E-7"), None, "-0.00000025"),
])
def test_format_decimal_keeps_the_scale(value: Decimal, places: int | None, text: str) -> None:
    assert format_decimal(value, places) == text


def test_format_amount_and_date() -> None:
    assert format_amount(D("10.005")) == "10.01"
    assert format_date(dt.date(2024, 2, 29)) == "2024-02-29"
    with pytest.raises(ValueError, match="cannot write"):
        format_decimal(D("NaN"))


def test_reorder_follows_the_sequence_and_keeps_repeats_in_order() -> None:
    root = make_root("Invoice")
    sub(root, "cbc:Note", "b")
    sub(root, "cbc:ID", "1")
    sub(root, "cbc:Note", "c")
    root.append(etree.Comment("kept out of the way"))
    reorder(root, ["cbc:ID", "cbc:Note"])
    assert [(etree.QName(c).localname, c.text) for c in root if isinstance(c.tag, str)] == [
        ("ID", "1"), ("Note", "b"), ("Note", "c")]
    with pytest.raises(ValueError, match="no place in the sequence for cbc:Note"):
        reorder(root, ["cbc:ID"])


def test_reorder_leaves_children_in_order_alone_and_moves_the_rest() -> None:
    root = make_root("Invoice")
    children = [sub(root, "cbc:ID", "1"), sub(root, "cbc:Note", "a"), sub(root, "cbc:Note", "b")]
    reorder(root, ("cbc:ID", "cbc:Note"))
    assert list(root) == children
    with pytest.raises(ValueError, match="no place in the sequence for cbc:Note"):
        reorder(root, ("cbc:ID",))  # in order or not, a name without a place is refused
    # A non-element between elements ends up in front, as every element moves behind it.
    comment = etree.Comment("c")
    root.insert(1, comment)
    reorder(root, ("cbc:ID", "cbc:Note"))
    assert list(root) == [comment, *children]


def test_names_are_resolved_once_and_bad_ones_refused_every_time() -> None:
    root = make_root("Invoice")
    for _ in range(2):
        with pytest.raises(ValueError, match="unknown UBL prefix 'xyz' in 'xyz:ID'"):
            element(root, "xyz:ID")
        with pytest.raises(ValueError, match="unknown UBL prefix"):
            sub(root, "xyz:ID", "1")
    assert len(root) == 0  # nothing half-written
    assert ubl.clark("cbc:ID") == qname("cbc:ID") == f"{{{CBC}}}ID"
    assert ubl.clark("cbc:ID") is ubl.clark("cbc:ID")
    assert ubl.clark("Invoice") == "Invoice"
    first = element(root, "cac:Party")
    second = element(root, "cac:Party", name=None)
    assert first.tag == second.tag == f"{{{CAC}}}Party"
    assert not second.attrib


def test_copy_of_copies_the_whole_subtree_apart_from_the_original() -> None:
    prototype = element(make_root("Invoice"), "cac:TaxCategory")
    sub(element(prototype, "cac:TaxScheme"), "cbc:ID", "VAT")
    root = make_root("CreditNote")
    root.append(ubl.copy_of(prototype))
    root.append(ubl.copy_of(prototype))
    assert [first_text(node, "cac:TaxScheme/cbc:ID") for node in root] == ["VAT", "VAT"]
    root[0][0][0].text = "changed"
    assert first_text(prototype, "cac:TaxScheme/cbc:ID") == "VAT"
    assert first_text(root[1], "cac:TaxScheme/cbc:ID") == "VAT"
    # The copies take the document's namespace declarations, adding none of their own.
    assert to_bytes(root).count(b"xmlns:cac") == 1


def test_parsing_values() -> None:
    assert parse_decimal(" 1.50 ", "x") == D("1.50")
    assert str(parse_decimal("-.5", "x")) == "-0.5"
    for bad in ("1e3", "NaN", "Infinity", "", "1,5"):
        with pytest.raises(UBLReadError, match=r"^x: "):
            parse_decimal(bad, "x")
    assert parse_date("2024-02-29", "x") == dt.date(2024, 2, 29)
    assert parse_date("2024-02-29+01:00", "x") == dt.date(2024, 2, 29)
    for bad in ("2024-02-30", "29-02-2024", "2024-02-29T10:00:00"):
        with pytest.raises(UBLReadError, match="is not a date"):
            parse_date(bad, "x")


DOCUMENT = f"""<Invoice xmlns="{document_namespace('Invoice')}" xmlns:cac="{CAC}" xmlns:cbc="{CBC}"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="x y">
  <cbc:ID schemeID="0088">1</cbc:ID>
  <!-- a comment -->
  <cac:InvoiceLine><cbc:ID>1</cbc:ID><cbc:Note>a</cbc:Note></cac:InvoiceLine>
  <cac:InvoiceLine><cbc:ID>2</cbc:ID><cac:Item><cbc:Name>b</cbc:Name></cac:Item></cac:InvoiceLine>
</Invoice>"""


def test_path_of_names_positions_only_where_needed() -> None:
    root = etree.fromstring(DOCUMENT)
    line = root.findall(qname("cac:InvoiceLine"))[1]
    name = line.find("cac:Item/cbc:Name", ubl.PREFIXES)
    assert name is not None
    assert path_of(name) == "/Invoice/cac:InvoiceLine[2]/cac:Item/cbc:Name"
    assert path_of(root) == "/Invoice"
    assert first_text(root, "cac:InvoiceLine/cbc:Note") == "a"
    assert first_text(root, "cac:InvoiceLine/cbc:Missing") is None


def test_tracking_reader_reports_what_it_did_not_read() -> None:
    root = etree.fromstring(DOCUMENT)
    reader = TrackingReader(root)
    assert reader.code(root, "cbc:ID") == "1"
    lines = reader.all(root, "cac:InvoiceLine")
    assert [reader.text(line, "cbc:ID") for line in lines] == ["1", "2"]
    assert reader.peek_text(lines[0], "cbc:Note") == "a"  # looking is not reading
    assert reader.unread() == [
        "/Invoice/cbc:ID/@schemeID ('0088') is not mapped",
        "/Invoice/cac:InvoiceLine[1]/cbc:Note ('a') is not mapped",
        "/Invoice/cac:InvoiceLine[2]/cac:Item ('b') is not mapped",
    ]
    reader.attr(reader.first(root, "cbc:ID"), "schemeID")
    reader.mark_all(lines[1])
    assert reader.unread() == ["/Invoice/cac:InvoiceLine[1]/cbc:Note ('a') is not mapped"]


def test_tracking_reader_required_values() -> None:
    root = etree.fromstring(DOCUMENT)
    reader = TrackingReader(root)
    with pytest.raises(UBLReadError, match="/Invoice/cbc:IssueDate is required"):
        reader.required_text(root, "cbc:IssueDate")
    with pytest.raises(UBLReadError, match="/Invoice/cbc:Amount is required"):
        reader.required_decimal(root, "cbc:Amount")
    assert reader.required_decimal(root, "cbc:ID") == D("1")
    assert reader.date(root, "cbc:Missing") is None
