"""The formats: EN 16931 in UBL 2.1, and the CIUSes built on it (NLCIUS, Peppol BIS Billing 3).

:class:`EN16931Invoice` is the base. A CIUS is a subclass that changes what
a CIUS changes: its CustomizationID and ProfileID, its validation layers and
the few places where it asks more of the mapping (Peppol derives a missing
electronic address; the G-account extension splits the payment). Each
credit-note format is a subclass of the invoice format of its standard that
only changes ``key`` and ``kind``: the document type follows from ``kind``.

Detection is exact: the root element (Invoice-2 or CreditNote-2) and the
CustomizationID must both be this format's (and for Peppol the ProfileID).
A CustomizationID of the same standard in another version is answered with
OTHER_VERSION, anything else with NO.

The G-account extension has formats of its own (``nlcius-gaccount:...``)
rather than a setting on NLCIUS: it has its own CustomizationID, so only
separate keys let detection say exactly which one a document is in, and a
route names the format it wants without a second switch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import attrs
from lxml import etree
from stdnum import iban

from gateway.formats import (
    Decoded,
    Detection,
    EncodeContext,
    Format,
    LayerKind,
    Sample,
    ValidationLayer,
)
from gateway.identifiers import OIN, is_oin_scheme
from gateway.kinds import Direction, DocumentKind
from gateway.model import Invoice, Party, PartyId, kind_of, round_amount
from gateway.sniff import Sniffed
from gateway.xmlsafe import parse_xml
from plugins.ubl import first_text
from plugins.ubl_invoice.decode import ReadOptions, read_invoice
from plugins.ubl_invoice.documents import UBLDocumentType, document_type
from plugins.ubl_invoice.encode import GAccountSplit, WriteOptions, write_invoice
from plugins.ubl_invoice.errors import (
    AgencyMismatchError,
    GAccountError,
    NotThisFormatError,
    ProposalInvoiceError,
    WrongDocumentError,
)
from plugins.ubl_invoice.samples import AGENCY, AGENCY_OIN, GACCOUNT_SETTINGS, sample_documents
from plugins.ubl_invoice.schemes import scheme_code

EN16931_CUSTOMIZATION = "urn:cen.eu:en16931:2017"
NLCIUS_CUSTOMIZATION = f"{EN16931_CUSTOMIZATION}#compliant#urn:fdc:nen.nl:nlcius:v1.0"
GACCOUNT_CUSTOMIZATION = f"{NLCIUS_CUSTOMIZATION}#conformant#urn:fdc:nen.nl:gaccount:v1.0"
PEPPOL_CUSTOMIZATION = (
    f"{EN16931_CUSTOMIZATION}#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
)
PEPPOL_BILLING_PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
CORRECTIVE_INVOICE = "384"

EN16931_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "en16931", "en16931/ubl/xslt/EN16931-UBL-validation.xslt"
)
PEPPOL_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "peppol", "peppol-bis-billing-3/xslt/PEPPOL-EN16931-UBL.xslt"
)
# Both SI-UBL stylesheets embed the CEN EN 16931 rules (the G-account one in a
# version that allows two payment means and terms), so the EN 16931 layer is
# not run next to them: it would report every rule twice, or refuse the split.
SI_UBL_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "si-ubl-2.0", "si-ubl-validation/xsl/si-ubl-2.0.xsl"
)
SI_UBL_GACCOUNT_LAYER = ValidationLayer(
    LayerKind.SCHEMATRON, "si-ubl-2.0-gaccount", "si-ubl-validation/xsl/si-ubl-2.0-ext-gaccount.xsl"
)

GACCOUNT_IBAN_SETTING = "gaccount_iban"
GACCOUNT_PERCENTAGE_SETTING = "gaccount_percentage"

def _header(root: etree._Element, name: str) -> str | None:
    text = first_text(root, f"cbc:{name}")
    return text.strip() or None if text is not None else None


class EN16931Invoice(Format):
    """EN 16931-1:2017 core invoice in UBL 2.1 (CustomizationID ``urn:cen.eu:en16931:2017``)."""

    key = "en16931:invoice:2017"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.INBOUND, Direction.OUTBOUND})
    description = "EN 16931 core invoice (2017) in UBL 2.1"

    customization_id: ClassVar[str] = EN16931_CUSTOMIZATION
    profile_id: ClassVar[str | None] = None
    """The ProfileID written (BT-23); None writes none."""
    profile_required: ClassVar[bool] = False
    """Whether detection also demands ``profile_id``."""

    @property
    def document_type(self) -> UBLDocumentType:
        return document_type(self.kind)

    # -- validation ----------------------------------------------------------------

    def schematron_layers(self) -> list[ValidationLayer]:
        return [EN16931_LAYER]

    def layers(self) -> Sequence[ValidationLayer]:
        xsd = ValidationLayer(LayerKind.XSD, "ubl-2.1", self.document_type.xsd)
        return [xsd, *self.schematron_layers()]

    # -- detection -------------------------------------------------------------------

    def is_other_version(self, customization_id: str, profile_id: str | None) -> bool:
        """Whether a CustomizationID that is not ours belongs to our standard nonetheless."""
        # Another edition of EN 16931 itself, not a CIUS of it.
        return customization_id.startswith("urn:cen.eu:en16931:") and "#" not in customization_id

    def classify(self, root: etree._Element | None) -> Detection:
        if root is None or root.tag != self.document_type.tag:
            return Detection.NO
        customization = _header(root, "CustomizationID")
        if customization is None:
            return Detection.NO
        profile = _header(root, "ProfileID")
        if customization == self.customization_id and (
            not self.profile_required or profile == self.profile_id
        ):
            return Detection.MATCH
        if customization == self.customization_id or self.is_other_version(customization, profile):
            return Detection.OTHER_VERSION
        return Detection.NO

    def detect(self, doc: Sniffed) -> Detection:
        return self.classify(doc.root)

    # -- encoding ----------------------------------------------------------------------

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        invoice = self.prepare(self.check(document), context)
        return write_invoice(invoice, self.write_options(invoice, context))

    def check(self, document: Any) -> Invoice:
        """``document`` if this format can write it, else a clear error."""
        if not isinstance(document, Invoice):
            raise WrongDocumentError(
                f"{self.key} writes invoices and credit notes, not {type(document).__name__}"
            )
        if document.proposal:
            raise ProposalInvoiceError(
                f"invoice {document.number} is a proposal invoice (voorstelfactuur); "
                f"{self.key} has no proposal invoices, only UBL-OHNL does"
            )
        if kind_of(document) is not self.kind:
            raise WrongDocumentError(
                f"{self.key} writes {self.kind.value}s; invoice {document.number} is a "
                f"{kind_of(document).value}: route it to the "
                f"{self.key.replace(self.kind.value, kind_of(document).value)} format"
            )
        return document

    def prepare(self, invoice: Invoice, context: EncodeContext) -> Invoice:
        """The invoice as this format writes it, with the changes of :meth:`changes`."""
        changes = self.changes(invoice, context)
        # One evolve for all of them: each one checks every field of the invoice again.
        return attrs.evolve(invoice, **changes) if changes else invoice

    def changes(self, invoice: Invoice, context: EncodeContext) -> dict[str, Any]:
        """The fields this format writes differently: the routed agency as the buyer."""
        if context.agency_oin is None:
            return {}
        return {"buyer": _addressed_buyer(invoice, context)}

    def write_options(self, invoice: Invoice, context: EncodeContext) -> WriteOptions:
        return WriteOptions(customization_id=self.customization_id, profile_id=self.profile_id)

    # -- decoding ------------------------------------------------------------------------

    def read_options(self) -> ReadOptions:
        return ReadOptions(profile_id=self.profile_id)

    def decode(self, data: bytes) -> Decoded:
        root = parse_xml(data).getroot()
        verdict = self.classify(root)
        if verdict is not Detection.MATCH:
            raise NotThisFormatError(
                f"{self.key} reads UBL {self.document_type.root} documents with "
                f"CustomizationID {self.customization_id!r}"
                + (f" and ProfileID {self.profile_id!r}" if self.profile_required else "")
                + f"; this is {Sniffed(data).describe()}"
            )
        return read_invoice(root, self.document_type, self.read_options())

    # -- samples -----------------------------------------------------------------------------

    def sample_context(self) -> EncodeContext:
        """The route the samples are encoded for: the sample agency, by its OIN."""
        return EncodeContext(agency_oin=AGENCY_OIN, agency_name=AGENCY.name)

    def samples(self) -> Sequence[Sample]:
        context = self.sample_context()
        return [
            Sample(name=name, document=document, data=self.encode(document, context),
                   context=context)
            for name, document in sample_documents(self.kind)
        ]


class EN16931CreditNote(EN16931Invoice):
    """EN 16931-1:2017 core credit note in UBL 2.1."""

    key = "en16931:credit-note:2017"
    kind = DocumentKind.CREDIT_NOTE
    description = "EN 16931 core credit note (2017) in UBL 2.1"


class NLCIUSInvoice(EN16931Invoice):
    """SI-UBL 2.0: the Dutch CIUS (NLCIUS v1.0) of EN 16931 in UBL 2.1."""

    key = "nlcius:invoice:1.0"
    description = "SI-UBL 2.0 / NLCIUS 1.0 invoice (EN 16931 CIUS, UBL 2.1)"
    customization_id = NLCIUS_CUSTOMIZATION
    # Not required by NLCIUS, but the Peppol network routes on it (the
    # SI-UBL rules skip BR-NL-23 for that reason).
    profile_id = PEPPOL_BILLING_PROFILE

    def schematron_layers(self) -> list[ValidationLayer]:
        return [SI_UBL_LAYER]

    def is_other_version(self, customization_id: str, profile_id: str | None) -> bool:
        # Other NLCIUS versions, and SI-UBL 1.x, NLCIUS's predecessor.
        if "urn:fdc:nen.nl:gaccount:" in customization_id:
            return False  # the G-account extension is a format of its own
        return ("urn:fdc:nen.nl:nlcius:" in customization_id
                or "simplerinvoicing.org:si:si-ubl" in customization_id)


class NLCIUSCreditNote(NLCIUSInvoice):
    """SI-UBL 2.0 / NLCIUS 1.0 credit note."""

    key = "nlcius:credit-note:1.0"
    kind = DocumentKind.CREDIT_NOTE
    description = "SI-UBL 2.0 / NLCIUS 1.0 credit note (EN 16931 CIUS, UBL 2.1)"


class NLCIUSGAccountInvoice(NLCIUSInvoice):
    """NLCIUS with the G-account extension: the amount due split over a G-account.

    The canonical invoice has no G-account, so the route supplies it in its
    settings: ``gaccount_iban`` (the supplier's G-account) and
    ``gaccount_percentage`` (the share of the amount due paid into it). The
    invoice keeps its one ordinary payment means; the encoder adds the
    G-account and the two payment terms the extension requires (BR-GA-1 to
    BR-GA-7). Decoding reports the G-account part as not mapped.
    """

    key = "nlcius-gaccount:invoice:1.0"
    description = "SI-UBL 2.0 / NLCIUS 1.0 invoice with the G-account extension 1.0"
    customization_id = GACCOUNT_CUSTOMIZATION

    def schematron_layers(self) -> list[ValidationLayer]:
        return [SI_UBL_GACCOUNT_LAYER]

    def is_other_version(self, customization_id: str, profile_id: str | None) -> bool:
        return "urn:fdc:nen.nl:gaccount:" in customization_id

    def write_options(self, invoice: Invoice, context: EncodeContext) -> WriteOptions:
        options = super().write_options(invoice, context)
        if self.document_type.is_credit_note:
            return options  # the G-account rules apply to invoices only
        return attrs.evolve(options, gaccount=_gaccount_split(self.key, invoice, context.settings))

    def read_options(self) -> ReadOptions:
        return attrs.evolve(super().read_options(), gaccount=True)

    def sample_context(self) -> EncodeContext:
        return attrs.evolve(super().sample_context(), settings=GACCOUNT_SETTINGS)


class NLCIUSGAccountCreditNote(NLCIUSGAccountInvoice):
    """NLCIUS credit note under the G-account extension (no split: its rules are for invoices)."""

    key = "nlcius-gaccount:credit-note:1.0"
    kind = DocumentKind.CREDIT_NOTE
    description = "SI-UBL 2.0 / NLCIUS 1.0 credit note with the G-account extension 1.0"


class PeppolBISInvoice(EN16931Invoice):
    """Peppol BIS Billing 3.0 invoice (EN 16931 CIUS) in UBL 2.1."""

    key = "peppol-bis:invoice:3.0"
    description = "Peppol BIS Billing 3.0 invoice (EN 16931 CIUS, UBL 2.1)"
    customization_id = PEPPOL_CUSTOMIZATION
    profile_id = PEPPOL_BILLING_PROFILE
    profile_required = True

    def schematron_layers(self) -> list[ValidationLayer]:
        return [EN16931_LAYER, PEPPOL_LAYER]

    def is_other_version(self, customization_id: str, profile_id: str | None) -> bool:
        # Other Billing 3.x releases, and BIS 2 (the cenbii/peppol4a identifiers),
        # but not SI-UBL 1.2, which extends BIS 2 and belongs to NLCIUS's line.
        if "simplerinvoicing" in customization_id:
            return False
        return ("urn:fdc:peppol.eu:2017:poacc:billing:" in customization_id
                or "urn:www.peppol.eu:bis:peppol" in customization_id)

    def changes(self, invoice: Invoice, context: EncodeContext) -> dict[str, Any]:
        changes = super().changes(invoice, context)
        buyer: Party = changes.get("buyer", invoice.buyer)
        type_code = invoice.type_code
        if type_code == CORRECTIVE_INVOICE and not _both_german(invoice.seller, buyer):
            # Peppol allows the corrective type only between German parties
            # (PEPPOL-EN16931-P0112); elsewhere a correction is an ordinary
            # invoice referring to the one it corrects, which it still does.
            type_code = None
        notes = invoice.notes
        if len(notes) > 1 and not _both_german(invoice.seller, buyer):
            # Peppol allows one document note, except between German parties
            # (PEPPOL-EN16931-R002): the notes travel as one, a line each.
            notes = ("\n".join(notes),)
        # Peppol requires both electronic addresses (PEPPOL-EN16931-R010, -R020).
        return {
            **changes, "type_code": type_code, "notes": notes,
            "seller": _with_endpoint(invoice.seller), "buyer": _with_endpoint(buyer),
        }


class PeppolBISCreditNote(PeppolBISInvoice):
    """Peppol BIS Billing 3.0 credit note."""

    key = "peppol-bis:credit-note:3.0"
    kind = DocumentKind.CREDIT_NOTE
    description = "Peppol BIS Billing 3.0 credit note (EN 16931 CIUS, UBL 2.1)"


FORMATS: tuple[type[EN16931Invoice], ...] = (
    EN16931Invoice,
    EN16931CreditNote,
    NLCIUSInvoice,
    NLCIUSCreditNote,
    NLCIUSGAccountInvoice,
    NLCIUSGAccountCreditNote,
    PeppolBISInvoice,
    PeppolBISCreditNote,
)


# -- mapping differences ----------------------------------------------------------------------


def _addressed_buyer(invoice: Invoice, context: EncodeContext) -> Party:
    """The buyer with the routed agency's OIN as electronic address and legal id (0190).

    The agency directory decides who the invoice goes to; an OIN on the
    invoice that names someone else means the routing and the document
    disagree, and sending it either way would be a guess.
    """
    assert context.agency_oin is not None
    agency_oin = OIN(context.agency_oin)
    oin = agency_oin.value
    buyer = invoice.buyer
    named = [
        (where, party_id)
        for where, party_id in (
            ("endpoint id", buyer.endpoint_id), ("legal id", buyer.legal_id),
            *(("identifier", each) for each in buyer.ids),
        )
        if party_id is not None and is_oin_scheme(party_id.scheme)
    ]
    for where, party_id in named:
        if not agency_oin.same_as(party_id.value):
            agency = f" ({context.agency_name})" if context.agency_name else ""
            raise AgencyMismatchError(
                f"invoice {invoice.number}: the buyer's {where} is OIN {party_id.value}, but "
                f"the invoice is routed to agency {oin}{agency}; the routing and the document "
                "disagree, correct one of them"
            )
    address = PartyId(scheme="0190", value=oin)
    name = buyer.name
    if name is None and buyer.registration_name is None:
        name = context.agency_name
    return attrs.evolve(buyer, endpoint_id=address, legal_id=address, name=name)


def _both_german(seller: Party, buyer: Party) -> bool:
    def country(party: Party) -> str | None:
        return party.address.country_code if party.address is not None else None

    return country(seller) == country(buyer) == "DE"


def _with_endpoint(party: Party) -> Party:
    """``party`` with an electronic address, taken from its ids when it has none.

    The order is the one the NL Peppol Authority gives senders for looking up
    a Dutch receiver: OIN, KvK, VAT, then anything else with a code.
    """
    if party.endpoint_id is not None:
        return party
    candidates = [each for each in (party.legal_id, *party.ids) if each is not None]
    for wanted in ("0190", "0106"):
        for each in candidates:
            if scheme_code(each.scheme) == wanted:
                return attrs.evolve(party, endpoint_id=PartyId(scheme=wanted, value=each.value))
    if party.vat_id is not None and party.vat_id.upper().startswith("NL"):
        return attrs.evolve(party, endpoint_id=PartyId(scheme="9944", value=party.vat_id))
    for each in candidates:
        code = scheme_code(each.scheme)
        if code is not None and code.isdigit():
            return attrs.evolve(party, endpoint_id=PartyId(scheme=code, value=each.value))
    return party


def _gaccount_split(key: str, invoice: Invoice, settings: Mapping[str, Any]) -> GAccountSplit:
    account = settings.get(GACCOUNT_IBAN_SETTING)
    share = settings.get(GACCOUNT_PERCENTAGE_SETTING)
    missing = [
        name for name, value in ((GACCOUNT_IBAN_SETTING, account),
                                 (GACCOUNT_PERCENTAGE_SETTING, share))
        if value is None
    ]
    if missing:
        raise GAccountError(
            f"{key}: the route must set {' and '.join(missing)} (the G-account and the share "
            "of the amount due paid into it); the canonical invoice does not carry them"
        )
    if not isinstance(account, str) or not iban.is_valid(account):
        raise GAccountError(f"{key}: setting {GACCOUNT_IBAN_SETTING} {account!r} is not an IBAN")
    try:
        percentage = Decimal(str(share))
    except InvalidOperation:
        percentage = Decimal("NaN")
    if isinstance(share, bool) or not percentage.is_finite() or not 0 < percentage <= 100:
        raise GAccountError(
            f"{key}: setting {GACCOUNT_PERCENTAGE_SETTING} {share!r} must be a percentage "
            "above 0 and at most 100"
        )
    if len(invoice.payment_means) != 1:
        raise GAccountError(
            f"{key}: invoice {invoice.number} has {len(invoice.payment_means)} payment means; "
            "a G-account invoice needs exactly one, the ordinary account, next to the G-account"
        )
    return GAccountSplit(
        iban=iban.compact(account),
        amount=round_amount(invoice.totals.payable * percentage / 100),
    )
