"""Code lists and fixed values of UBL-OHNL 1.x, and how canonical values map onto them.

Sources: the Schematron of 1.8/1.9 (list attributes it requires, tax scheme
and party scheme names), the genericode lists in ``cl/gc`` (invoice type
codes, period description codes) and the official examples. Where the
package is silent the choice is ours and says so.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.model import VatCategory

# -- list attributes the Schematron requires on coded elements ----------------------------------

UNECE = "United Nations Economic Commission for Europe"
LOGIUS = "Logius Gegevensbeheer NL-Overheid"

INVOICE_TYPE_CODE_LIST = {
    "listID": "NL-1001",
    "listAgencyID": "88",
    "listAgencyName": LOGIUS,
    "listName": "FactuurSoort",
    "listVersionID": "1.7",
    "listURI": "http://www.nltaxonomie.nl/ubl/2.0/NL/1.7/cl/gc/InvoiceTypeCode.gc",
    "listSchemeURI": "urn:digi-inkoop:ubl:2.0:NL:1.7:gc:InvoiceTypeCode",
}

PERIOD_DESCRIPTION_CODE_LIST = {
    "listID": "NL-1004",
    "listAgencyID": "88",
    "listAgencyName": LOGIUS,
    "listName": "FactuurPeriodDescriptionCode",
    "listVersionID": "1.7",
    "listURI": "http://www.nltaxonomie.nl/ubl/2.0/NL/1.7/cl/gc/InvoicePeriodDescriptionCode.gc",
    "listSchemeURI": "urn:digi-inkoop:ubl:2.0:NL:1.7:gc:InvoicePeriodDescriptionCode",
}

COUNTRY_CODE_LIST = {
    "listID": "ISO3166-1",
    "listAgencyID": "6",
    "listAgencyName": UNECE,
    "listName": "Country",
    "listVersionID": "0.3",
    "listURI": (
        "http://docs.oasis-open.org/ubl/os-UBL-2.0-update/cl/gc/default/"
        "CountryIdentificationCode-2.0.gc"
    ),
    "listSchemeURI": "urn:oasis:names:specification:ubl:codelist:gc:CountryIdentificationCode",
}

CURRENCY_CODE_LIST = {
    "listID": "ISO 4217 Alpha",
    "listAgencyID": "6",
    "listAgencyName": UNECE,
    "listName": "Currency",
    "listVersionID": "2001",
    "listURI": "http://docs.oasis-open.org/ubl/os-UBL-2.0-update/cl/gc/cefact/CurrencyCode-2.0.gc",
    "listSchemeURI": "urn:un:unece:uncefact:codelist:specification:54217",
}

PAYMENT_MEANS_CODE_LIST = {
    "listID": "UN/ECE 4461",
    "listAgencyID": "6",
    "listAgencyName": UNECE,
    "listName": "Payment Means",
    "listVersionID": "D03A",
    "listURI": (
        "http://docs.oasis-open.org/ubl/os-UBL-2.0-update/cl/gc/default/PaymentMeansCode-2.0.gc"
    ),
    "listSchemeURI": "urn:oasis:names:specification:ubl:codelist:gc:PaymentMeansCode",
}

ALLOWANCE_REASON_CODE_LIST = {
    "listID": "UN/ECE 4465",
    "listAgencyID": "6",
    "listAgencyName": UNECE,
    "listName": "Adjustment Reason Description",
    "listVersionID": "D03A",
    "listURI": (
        "http://docs.oasis-open.org/ubl/os-UBL-2.0-update/cl/gc/default/"
        "AllowanceChargeReasonCode-2.0.gc"
    ),
    "listSchemeURI": "urn:oasis:names:specification:ubl:codelist:gc:AllowanceChargeReasonCode",
}

DELIVERY_TERMS_SCHEME = {
    "schemeID": "NL-1002",
    "schemeName": "DeliveryTermsCode",
    "schemeAgencyID": "88",
    "schemeAgencyName": LOGIUS,
    "schemeVersionID": "1.8",
    "schemeURI": "http://www.nltaxonomie.nl/ubl/2.0/NL/1.8/cl/gc/DeliveryTermsCode.gc",
    "schemeDataURI": "urn:digi-inkoop:ubl:2.0:NL:1.8:gc:DeliveryTermsCode",
}

DELIVERY_TERMS_CODES = frozenset({
    "EXW", "FCA", "FAS", "FOB", "FOT", "FOP", "FOR", "CFR", "CIF", "CPT", "CIP", "DAF", "DES",
    "DEQ", "DDU", "DDP", "DAT", "DAP",
})

# -- invoice type (FactuurSoort, NL-1001) --------------------------------------------------------

DEBIT = "D"  # Debitnota
CREDIT = "C"  # Creditnota
PROPOSAL_DEBIT = "VD"  # Voorstel debitnota
PROPOSAL_CREDIT = "VC"  # Voorstel creditnota
PROFORMA = "P"  # Proforma
INVOICE_TYPE_CODES = (DEBIT, CREDIT, PROPOSAL_DEBIT, PROPOSAL_CREDIT, PROFORMA)

# -- periods (NL-1004) ---------------------------------------------------------------------------

PERIOD_INVOICE = "I"
PERIOD_DELIVERY = "D"
PERIOD_DESCRIPTION_CODES = (PERIOD_INVOICE, PERIOD_DELIVERY)

# -- party identification ------------------------------------------------------------------------

PARTY_SCHEMES = ("KvK", "Vest", "BTW", "Fi", "BSN", "OIN", "XXX")
"""``@schemeAgencyName`` values the Schematron allows (XXX: any other scheme)."""

PEPPOL_SCHEMES = {"0190": "OIN", "0106": "KvK", "9944": "BTW"}
"""Peppol ICD/EAS codes the canonical model may carry, and their OHNL names."""

PARTY_SCHEME_COUNTRY = "NL"
"""``@schemeAgencyID``: the country of the issuing register. Every scheme
named above is Dutch, so the encoder writes NL."""

MAX_PARTY_IDS = 3


def ohnl_scheme(scheme: str) -> str | None:
    """The OHNL ``schemeAgencyName`` for a canonical PartyId scheme, or None."""
    if scheme in PEPPOL_SCHEMES:
        return PEPPOL_SCHEMES[scheme]
    for name in PARTY_SCHEMES:
        if scheme.strip().upper() == name.upper():
            return name
    return None


# -- tax -----------------------------------------------------------------------------------------

TAX_SCHEME_VAT = "BTW"
TAX_SCHEMES = ("BTW", "Accijns", "Toeslag", "Overige")

# The examples name the Dutch high rate "BTW HOOG" (TaxCategory/cbc:Name, next
# to cbc:Percent). The package shows no other name; the rest follow the Dutch
# tariff words (laag tarief, nultarief, vrijgesteld, verlegd) in the same form.
# Only the percentage tells high from low: the Dutch low rates, past and
# present, are listed so a standard rate becomes HOOG or LAAG.
TAX_HIGH = "BTW HOOG"
TAX_LOW = "BTW LAAG"
TAX_ZERO = "BTW NUL"
TAX_EXEMPT = "BTW VRIJGESTELD"
TAX_REVERSE = "BTW VERLEGD"
NL_LOW_RATES = frozenset({Decimal("6"), Decimal("9")})

TAX_NAMES: dict[VatCategory, str] = {
    VatCategory.ZERO_RATED: TAX_ZERO,
    VatCategory.EXEMPT: TAX_EXEMPT,
    VatCategory.REVERSE_CHARGE: TAX_REVERSE,
}

# Matched on the upper-cased name; the first hit wins.
TAX_NAME_WORDS: tuple[tuple[str, VatCategory], ...] = (
    ("VERLEGD", VatCategory.REVERSE_CHARGE),
    ("VRIJ", VatCategory.EXEMPT),
    ("HOOG", VatCategory.STANDARD),
    ("LAAG", VatCategory.STANDARD),
    ("NUL", VatCategory.ZERO_RATED),
)

# -- units ---------------------------------------------------------------------------------------

UNITS = frozenset({
    # named in the Implementatiewijzer's unit table as quoted in our domain brief
    "EA", "HUR", "DAY", "MON", "KGM", "LTR", "MTR", "MTK", "MTQ", "PR", "SET", "P1",
    # used by the official 1.8/1.9 example invoices
    "C62", "DZN", "NAR", "NPR",
})
"""The UN/ECE Rec 20 subset OHNL allows (Implementatiewijzer table 1).

The table itself is not in the package; this set holds the codes our domain
brief quotes from it and those the official examples use. Neither XSD nor
Schematron checks it, so a code missing here is refused by us only: extend
the set when the table says so.
"""


# UBL 2.0 LineStatusCode, as the package's genericode sheet requires it
# (no listID). OHNL leaves it optional; the order response uses it to say
# which lines the supplier changed.
LINE_STATUS_CODE_LIST = {
    "listName": "Line Status",
    "listVersionID": "2.0",
    "listSchemeURI": "urn:oasis:names:specification:ubl:codelist:gc:LineStatusCode",
    "listURI": "http://docs.oasis-open.org/ubl/os-UBL-2.0-update/cl/gc/default/LineStatusCode-2.0.gc",
    "listAgencyName": "OASIS Universal Business Language",
    "listAgencyID": "UBL",
}
LINE_REVISED = "Revised"
LINE_NO_STATUS = "NoStatus"
