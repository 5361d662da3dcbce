"""The Peppol ordering encoders check the buyer's OIN as an OIN, as the invoice encoders do.

0190, the legacy 9954 and the word OIN are one scheme, and OINs compare
after normalising: another agency's OIN under 9954 is a mismatch, and the
routed agency's own OIN written with spaces or dots is not.
"""

from __future__ import annotations

import attrs
import pytest

from gateway.formats import EncodeContext
from gateway.model import PartyId
from plugins.ubl_ordering.errors import AgencyMismatchError
from plugins.ubl_ordering.formats import PeppolOrder, PeppolOrderResponse
from plugins.ubl_ordering.samples import AGENCY, AGENCY_OIN, basisorder_rijk, sample_responses

RIJK = EncodeContext(agency_oin=AGENCY_OIN, agency_name=AGENCY.name)
OTHER_AGENCY = "00000004003214345001"


def _order_with_buyer_id(party_id: PartyId) -> object:
    order = basisorder_rijk()
    return attrs.evolve(order, buyer=attrs.evolve(order.buyer, ids=(party_id,)))


def _response_with_buyer_id(party_id: PartyId) -> object:
    _, response = sample_responses()[0]
    return attrs.evolve(response, buyer=attrs.evolve(response.buyer, ids=(party_id,)))


@pytest.mark.parametrize("scheme", ["9954", "OIN", "oin"])
def test_an_order_naming_another_agency_under_any_oin_scheme_is_refused(scheme: str) -> None:
    with pytest.raises(AgencyMismatchError, match=OTHER_AGENCY):
        PeppolOrder().encode(_order_with_buyer_id(PartyId(scheme=scheme, value=OTHER_AGENCY)),
                             RIJK)


@pytest.mark.parametrize("scheme", ["9954", "OIN"])
def test_an_order_response_naming_another_agency_is_refused(scheme: str) -> None:
    response = _response_with_buyer_id(PartyId(scheme=scheme, value=OTHER_AGENCY))
    with pytest.raises(AgencyMismatchError, match=OTHER_AGENCY):
        PeppolOrderResponse().encode(response, RIJK)


@pytest.mark.parametrize("written", ["0000 0001 0098 9834 7000", "00000001.009898347.000"])
def test_the_routed_agencys_own_oin_written_with_separators_is_no_mismatch(written: str) -> None:
    PeppolOrder().encode(_order_with_buyer_id(PartyId(scheme="0190", value=written)), RIJK)
    PeppolOrderResponse().encode(_response_with_buyer_id(PartyId(scheme="0190", value=written)),
                                 RIJK)


@pytest.mark.parametrize("written", ["00000001.003227522.000", "00000001-003227522-000"])
def test_the_invoice_encoder_reads_the_buyers_oin_as_an_oin_too(written: str) -> None:
    # The routed agency's OIN goes through OIN(), which takes dots and hyphens;
    # the document's own copy of it only loses its whitespace.
    from plugins.ubl_invoice.formats import NLCIUSInvoice
    from plugins.ubl_invoice.samples import AGENCY, dutch_invoice
    from plugins.ubl_invoice.samples import AGENCY_OIN as INVOICE_AGENCY_OIN

    assert INVOICE_AGENCY_OIN == "00000001003227522000"
    invoice = attrs.evolve(dutch_invoice(), buyer=attrs.evolve(
        AGENCY, ids=(PartyId(scheme="0190", value=written),)))
    NLCIUSInvoice().encode(invoice, EncodeContext(agency_oin=INVOICE_AGENCY_OIN))
