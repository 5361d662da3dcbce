"""Everything that differs between UBL-OHNL releases, in one place.

The encoders and decoders in this package are written once for UBL 2.0 with
the NL extensions; they ask an :class:`OhnlVersion` for the values and limits
that a release changed. A new release (or the older 1.8, which issue 4 adds)
is an :class:`OhnlVersion` instance here, a three-line format subclass naming
it (see ``OhnlInvoice19`` and ``OhnlInvoice18``) and one registration line in
``__init__.py``: the mapping code does not move.

Differences found by comparing the published Schematron sources
(``sch/Invoice.sch`` of 1.8 and 1.9):

- ``cbc:CustomizationID`` is ``1.8`` or ``1.9``;
- 1.8 allows at most one ``cbc:Note``, one ``cac:PaymentMeans`` and three
  ``cac:PaymentTerms`` on an invoice; 1.9 lifted these limits (the encoder
  writes one PaymentTerms at most, so that limit needs no setting);
- 1.9 requires ``PartyLegalEntity/RegistrationAddress`` with a country for the
  trading parties; 1.8 only allows it.

Order and OrderResponse: the 1.8 and 1.9 Schematron sources differ only in
the CustomizationID and in 1.9 requiring the list attributes of every
country and payment means code, which the encoders write for both releases;
the XSDs have the same element sequences. So the Order and OrderResponse
formats need no release settings. The quote flow (RequestForQuotation,
Quotation, RequestForQuotationCancellation) exists in 1.8 only.

Namespaces of the NL extension schemas are the same in both releases: the
basic components kept their 1.7 namespace, the aggregate components their 1.8
one (release notes 1.8 and 1.9).
"""

from __future__ import annotations

import attrs

from gateway.formats import LayerKind, ValidationLayer

UBL_VERSION = "2.0"
PROFILE_ID = "NL"

NL_CBC_NS = "urn:digi-inkoop:ubl:2.0:NL:1.7:UBL-NL-CommonBasicComponents-2"
NL_CAC_NS = "urn:digi-inkoop:ubl:2.0:NL:1.8:UBL-NL-CommonAggregateComponents-2"


@attrs.frozen
class OhnlVersion:
    """One UBL-OHNL release as the formats of this package need to know it.

    ``root`` is the release's folder in the installed standards tree (see
    ``schemas/standards.toml``). The ``max_*`` limits are None where the
    release sets none.
    """

    version: str
    root: str
    nl_cbc_ns: str = NL_CBC_NS
    nl_cac_ns: str = NL_CAC_NS
    max_invoice_notes: int | None = None
    max_payment_means: int | None = None
    requires_registration_address: bool = True

    @property
    def customization_id(self) -> str:
        return self.version

    def xsd(self, document: str) -> str:
        """The entry schema of ``document`` (``Invoice``, ``Order``, ...).

        The runtime schemas (``xsdrt``) are the same types without the
        documentation, and load faster.
        """
        return f"{self.root}/xsdrt/maindoc/{document}.xsd"

    def schematron(self, document: str) -> str:
        return f"{self.root}/{document}-Schematron-Validation.xsl"

    def layers(self, document: str) -> tuple[ValidationLayer, ...]:
        """XSD, then the release's business rules for ``document``.

        The release also ships ``Genericode-Validation.xsl`` (code list values:
        currencies, countries, FactuurSoort D/C/VD/VC/P, payment means, ...),
        generated from ``cva/UBL-DefaultDTQ-2.0-NL-1.7.cva``. It is not a
        layer here:

        - the 1.7 release notes (kept in ``Releasenotes1.9.txt``) introduce
          that CVA "alleen ter informatie"; the per-document Schematron is
          the normative rule set, and it already requires the list
          attributes of every coded element;
        - the sheet is XSLT 1.0 that stops with ``xsl:message
          terminate="yes"`` instead of writing SVRL, so the validation
          engine could only report "processing terminated", not which value
          is wrong.

        Our encoder writes codes from the same lists (``codes.py``), and the
        tests run the sheet over every document the encoder writes.
        """
        return (
            ValidationLayer(
                kind=LayerKind.XSD, name=f"UBL-OHNL {self.version} XSD ({document})",
                artifact=self.xsd(document),
            ),
            ValidationLayer(
                kind=LayerKind.SCHEMATRON,
                name=f"UBL-OHNL {self.version} Schematron ({document})",
                artifact=self.schematron(document),
            ),
        )


V1_9 = OhnlVersion(version="1.9", root="ubl-ohnl/1.9")

V1_8 = OhnlVersion(
    version="1.8", root="ubl-ohnl/1.8",
    max_invoice_notes=1, max_payment_means=1,
    requires_registration_address=False,
)
"""For agencies pinned to 1.8; the only release with the quote flow."""
