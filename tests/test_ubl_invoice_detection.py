"""Detection of the UBL invoice formats: exact matches, other versions, and clear refusals."""

from __future__ import annotations

import pytest

from contracts import KIT_DIR
from gateway.errors import GatewayError
from gateway.formats import Detection
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry, UnknownFormatError
from gateway.sniff import Sniffed
from plugins.ubl_invoice import formats
from plugins.ubl_invoice.formats import FORMATS

INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CREDIT_NOTE_NS = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"

PEPPOL_BIS2 = (
    "urn:www.cenbii.eu:transaction:biitrns010:ver2.0:extended:"
    "urn:www.peppol.eu:bis:peppol4a:ver2.0"
)
SI_UBL_12 = f"{PEPPOL_BIS2}:extended:urn:www.simplerinvoicing.org:si:si-ubl:ver1.2"


def ubl(root: str, customization: str | None, profile: str | None = None) -> bytes:
    namespace = INVOICE_NS if root == "Invoice" else CREDIT_NOTE_NS
    header = ""
    if customization is not None:
        header += f"<cbc:CustomizationID>{customization}</cbc:CustomizationID>"
    if profile is not None:
        header += f"<cbc:ProfileID>{profile}</cbc:ProfileID>"
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{namespace}" xmlns:cbc="{CBC}">'
        f"{header}<cbc:ID>1</cbc:ID></{root}>"
    ).encode()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return build_registry(make_plugin_manager())


def test_every_format_is_registered_by_the_plugin(registry: Registry) -> None:
    keys = set(registry.registered_by("ubl-invoice")["formats"])
    assert keys == {format_class.key for format_class in FORMATS}
    assert keys >= {
        "en16931:invoice:2017", "en16931:credit-note:2017",
        "nlcius:invoice:1.0", "nlcius:credit-note:1.0",
        "peppol-bis:invoice:3.0", "peppol-bis:credit-note:3.0",
    }


@pytest.mark.parametrize(("root", "customization", "profile", "key"), [
    ("Invoice", formats.EN16931_CUSTOMIZATION, None, "en16931:invoice:2017"),
    ("CreditNote", formats.EN16931_CUSTOMIZATION, "anything", "en16931:credit-note:2017"),
    ("Invoice", formats.NLCIUS_CUSTOMIZATION, None, "nlcius:invoice:1.0"),
    ("CreditNote", formats.NLCIUS_CUSTOMIZATION, formats.PEPPOL_BILLING_PROFILE,
     "nlcius:credit-note:1.0"),
    ("Invoice", formats.GACCOUNT_CUSTOMIZATION, None, "nlcius-gaccount:invoice:1.0"),
    ("CreditNote", formats.GACCOUNT_CUSTOMIZATION, None, "nlcius-gaccount:credit-note:1.0"),
    ("Invoice", formats.PEPPOL_CUSTOMIZATION, formats.PEPPOL_BILLING_PROFILE,
     "peppol-bis:invoice:3.0"),
    ("CreditNote", formats.PEPPOL_CUSTOMIZATION, formats.PEPPOL_BILLING_PROFILE,
     "peppol-bis:credit-note:3.0"),
    ("Invoice", f"  {formats.PEPPOL_CUSTOMIZATION}\n", f" {formats.PEPPOL_BILLING_PROFILE} ",
     "peppol-bis:invoice:3.0"),
])
def test_exact_customization_is_a_match_for_one_format_only(
    registry: Registry, root: str, customization: str, profile: str | None, key: str
) -> None:
    sniffed = Sniffed(ubl(root, customization, profile))
    matches = [k for k, fmt in registry.formats.items() if fmt.detect(sniffed) is Detection.MATCH]
    assert matches == [key]
    assert registry.detect(sniffed).format.key == key


@pytest.mark.parametrize(("customization", "profile", "other_version_of"), [
    (PEPPOL_BIS2, None, "peppol-bis:invoice:3.0"),
    ("urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.1",
     formats.PEPPOL_BILLING_PROFILE, "peppol-bis:invoice:3.0"),
    # The right CustomizationID under another business process is not Billing 01.
    (formats.PEPPOL_CUSTOMIZATION, "urn:fdc:peppol.eu:2017:poacc:billing:02:1.0",
     "peppol-bis:invoice:3.0"),
    (formats.PEPPOL_CUSTOMIZATION, None, "peppol-bis:invoice:3.0"),
    ("urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v2.0", None,
     "nlcius:invoice:1.0"),
    (SI_UBL_12, None, "nlcius:invoice:1.0"),
    (f"{formats.NLCIUS_CUSTOMIZATION}#conformant#urn:fdc:nen.nl:gaccount:v2.0", None,
     "nlcius-gaccount:invoice:1.0"),
    ("urn:cen.eu:en16931:2030", None, "en16931:invoice:2017"),
])
def test_another_version_of_a_known_standard_is_named(
    registry: Registry, customization: str, profile: str | None, other_version_of: str
) -> None:
    sniffed = Sniffed(ubl("Invoice", customization, profile))
    answers = {key: fmt.detect(sniffed) for key, fmt in registry.formats.items()}
    assert Detection.MATCH not in answers.values()
    assert [k for k, v in answers.items() if v is Detection.OTHER_VERSION] == [other_version_of]
    with pytest.raises(UnknownFormatError, match="known standard but a version no installed") as e:
        registry.detect(sniffed)
    assert other_version_of in str(e.value)
    assert customization.strip() in str(e.value)


def test_peppol_billing_2_is_reported_as_a_version_no_format_handles(registry: Registry) -> None:
    with pytest.raises(UnknownFormatError) as caught:
        registry.detect(ubl("Invoice", PEPPOL_BIS2, "urn:www.cenbii.eu:profile:bii04:ver2.0"))
    message = str(caught.value)
    assert "known standard but a version no installed format handles" in message
    assert "peppol-bis:invoice:3.0" in message
    assert PEPPOL_BIS2 in message


def test_an_unknown_customization_is_reported_with_what_was_seen(registry: Registry) -> None:
    data = (KIT_DIR / "foreign" / "ubl-unknown-customization.xml").read_bytes()
    with pytest.raises(UnknownFormatError) as caught:
        registry.detect(data)
    message = str(caught.value)
    assert "no installed format matches" in message
    assert "urn:example:not-a-real-specification:v9" in message
    assert "Invoice-2}Invoice" in message


def test_a_credit_note_customization_on_an_invoice_root_is_not_a_credit_note(
    registry: Registry,
) -> None:
    sniffed = Sniffed(ubl("Invoice", formats.NLCIUS_CUSTOMIZATION))
    for key in ("nlcius:credit-note:1.0", "peppol-bis:credit-note:3.0"):
        assert registry.format(key).detect(sniffed) is Detection.NO


def test_the_gaccount_extension_is_not_plain_nlcius(registry: Registry) -> None:
    sniffed = Sniffed(ubl("Invoice", formats.GACCOUNT_CUSTOMIZATION))
    assert registry.format("nlcius:invoice:1.0").detect(sniffed) is Detection.NO
    assert registry.format("en16931:invoice:2017").detect(sniffed) is Detection.NO
    assert registry.format("peppol-bis:invoice:3.0").detect(sniffed) is Detection.NO


@pytest.mark.parametrize("data", [
    ubl("Invoice", None),
    ubl("Invoice", ""),
    b"<Invoice/>",
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-3"><ID/></Invoice>',
    b"not xml at all",
])
def test_documents_without_our_markers_are_no_match(registry: Registry, data: bytes) -> None:
    sniffed = Sniffed(data)
    for format_class in FORMATS:
        assert registry.format(format_class.key).detect(sniffed) is Detection.NO


@pytest.mark.parametrize("name", sorted(p.name for p in (KIT_DIR / "foreign").iterdir()))
@pytest.mark.parametrize("key", [format_class.key for format_class in FORMATS])
def test_the_hostile_corpus_is_refused_with_a_clear_error(
    registry: Registry, key: str, name: str
) -> None:
    fmt = registry.format(key)
    data = (KIT_DIR / "foreign" / name).read_bytes()
    assert fmt.detect(Sniffed(data)) is not Detection.MATCH
    with pytest.raises(GatewayError) as caught:
        fmt.decode(data)
    message = str(caught.value)
    assert message.strip()
    assert "Traceback" not in message


def test_decoding_another_formats_document_names_both(registry: Registry) -> None:
    peppol = registry.format("peppol-bis:invoice:3.0")
    nlcius = registry.format("nlcius:invoice:1.0")
    data = peppol.samples()[0].data
    assert data is not None
    with pytest.raises(GatewayError) as caught:
        nlcius.decode(data)
    message = str(caught.value)
    assert formats.NLCIUS_CUSTOMIZATION in message
    assert formats.PEPPOL_CUSTOMIZATION in message
