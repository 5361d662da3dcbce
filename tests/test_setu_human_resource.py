"""SETU-OHNL 2.0 HumanResource (BESTELLING-BEVESTIGING-HRXML): accept or reject an order."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest
from setu_corpus import SHARED

from gateway.formats import EncodeContext
from gateway.model import Attachment, HumanResource, HumanResourceStatus, Period
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.humanresource import SetuHumanResource20
from plugins.setu_ohnl.samples import human_resource, rejection

FORMAT = SetuHumanResource20()
EBF = SHARED / "ohnl-2.0" / "xml" / "EBF_HumanResourceNL_Orderbevestiging.xml"


def test_berichtsoort_and_key() -> None:
    assert FORMAT.berichtsoort == "BESTELLING-BEVESTIGING-HRXML"
    assert FORMAT.key == "setu-ohnl:human-resource:2.0"


def test_ebf_example() -> None:
    if not EBF.is_file():
        pytest.skip(f"{EBF} is not present")
    decoded = FORMAT.decode(EBF.read_bytes())
    answer = decoded.document
    assert isinstance(answer, HumanResource)
    assert answer.id == "55844255"
    assert answer.status is HumanResourceStatus.ACCEPTED
    assert answer.order_reference == "45001577255"
    assert answer.candidate is not None
    assert answer.candidate.name == "Uit Zender"
    assert answer.customer.id_for("OIN") == "00001540000442"
    assert answer.supplier.id_for("KvK") == "32158479"
    assert answer.offer_id is None, "the example's OfferId is empty"
    assert answer.notes == ("inhuur LB",)
    assert decoded.warnings == ()


def test_rejection_is_written_as_such() -> None:
    data = FORMAT.encode(rejection(), EncodeContext())
    assert b'<HumanResourceStatus status="rejected"/>' in data
    assert b"<EntityName></EntityName>" in data


def test_encode_refuses_attachments_and_open_availability() -> None:
    with pytest.raises(SetuEncodeError, match="attachments"):
        FORMAT.encode(attrs.evolve(human_resource(), attachments=(
            Attachment(content=b"%PDF", mime_type="application/pdf", filename="cv.pdf"),
        )), EncodeContext())
    with pytest.raises(SetuEncodeError, match="availability"):
        FORMAT.encode(attrs.evolve(
            human_resource(), availability=Period(end=dt.date(2011, 12, 31))
        ), EncodeContext())
    with pytest.raises(SetuEncodeError, match="HumanResource"):
        FORMAT.encode("not a confirmation", EncodeContext())


def test_unknown_status_is_a_decode_error() -> None:
    data = FORMAT.encode(human_resource(), EncodeContext())
    with pytest.raises(SetuDecodeError, match="neither accepted nor rejected"):
        FORMAT.decode(data.replace(b'status="accepted"', b'status="x:Confirmed"'))
