"""The Peppol ordering encoders write scheme words (OIN, KvK, BTW, GLN) as their EAS codes.

The canonical model allows the words OHNL and SETU use as well as the codes;
the T76/T01 rules accept codes only (PEPPOL-T76-B01901), so a word with a
code is written as it, and one without (Vest) is left off a party's ids.
"""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from lxml import etree

from gateway.formats import EncodeContext
from gateway.model import PartyId
from gateway.model.samples import AGENCY, example_order_response
from gateway.validation import Validator, validator_for
from plugins.ubl_ordering.formats import PeppolOrderResponse

FORMAT = PeppolOrderResponse()
NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


@pytest.fixture(scope="module")
def validator(installed_standards: Path) -> Validator:
    validator = validator_for(installed_standards)
    validator.prepare(list(FORMAT.layers()))
    return validator


def _encoded() -> bytes:
    assert AGENCY.endpoint_id is not None
    # T76 needs a currency, which the canonical sample leaves to the order.
    response = attrs.evolve(example_order_response(), currency="EUR")
    return FORMAT.encode(response, EncodeContext(agency_oin=AGENCY.endpoint_id.value))


def test_the_sample_order_response_passes_t76(validator: Validator) -> None:
    report = validator.validate(_encoded(), FORMAT.layers(), format_key=FORMAT.key)
    assert report.valid, [str(each) for each in report.findings]


def test_scheme_words_become_codes_or_go() -> None:
    written = {node.get("schemeID") for node in etree.fromstring(_encoded()).iterfind(
        ".//cbc:EndpointID", NS)} | {node.get("schemeID") for node in etree.fromstring(
        _encoded()).iterfind(".//{*}PartyIdentification/cbc:ID", NS)}
    assert written - {None} <= {"0190", "0106", "9944", "0088"}, written


def test_a_word_endpoint_scheme_is_written_as_its_code() -> None:
    response = attrs.evolve(example_order_response(), currency="EUR")
    seller = attrs.evolve(response.seller, endpoint_id=PartyId(scheme="KvK", value="30097265"))
    assert AGENCY.endpoint_id is not None
    data = FORMAT.encode(attrs.evolve(response, seller=seller),
                         EncodeContext(agency_oin=AGENCY.endpoint_id.value))
    schemes = [node.get("schemeID") for node in etree.fromstring(data).iterfind(
        ".//cbc:EndpointID", NS) if node.text == "30097265"]
    assert schemes == ["0106"]
