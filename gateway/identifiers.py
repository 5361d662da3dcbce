"""Typed identifiers for parties, validated when they are made.

Every identifier is a small frozen value object holding one normalised string.
Constructing one from raw text (``OIN("0000 0004 0032 1434 5001")``) strips
spaces, dots and hyphens, upper-cases letters and validates; anything wrong
raises :class:`InvalidIdentifier` naming the type, the text given and the rule
it breaks. An instance therefore always holds a valid value.

Where the rules come from:

* OIN: 20 digits = prefix (8) + hoofdnummer (8 or 9) + suffix (4 or 3), prefix
  table and layout from the Logius OIN-stelsel (``ch06_Data Architectuur.md``).
  No check digit is defined, so only an RSIN-based OIN has a checkable part.
  Suffixes are not restricted: the published examples use ``000`` as well as
  ``001``. Test OINs (prefix 00000099) may carry any 12 digits.
* KvK-nummer (8 digits) and vestigingsnummer (12 digits): KvK's description of
  the Handelsregister numbers. A KvK-nummer is a sequence number without a check
  digit, so it is deliberately *not* put through the 11-test.
* RSIN, BSN and Fi-nummer: 9 digits passing the 11-test (weights 9..2 and -1),
  checked with ``stdnum.nl.bsn``.
* Dutch VAT (btw) numbers: ``NL`` + 9 digits + ``B`` + 2 digits; the old
  omzetbelastingnummer passes the 11-test on its 9 digits, the newer
  btw-identificatienummer passes ISO 7064 mod 97-10; ``stdnum.nl.btw`` knows both.
* GLN: 13 digits with the GS1 mod-10 check digit (``stdnum.ean``).
* Peppol participant identifiers: ``scheme:value`` with a code from the Peppol
  EAS list (``_EAS_CODES``), per the Peppol policy for identifiers and the NL
  Peppol Authority guideline; the foreign schemes are checked with the
  matching ``stdnum`` module.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeAlias

import attrs
from stdnum import ean, iban
from stdnum.be import vat as be_vat
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError
from stdnum.nl import bsn, btw
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr

from gateway.errors import GatewayError

__all__ = [
    "BSN",
    "GLN",
    "OIN",
    "RSIN",
    "FiNummer",
    "Identifier",
    "InvalidIdentifier",
    "KvKNumber",
    "PeppolParticipantId",
    "VATNumber",
    "Vestigingsnummer",
    "eas_code",
    "is_oin_scheme",
    "parse_identifier",
]


class InvalidIdentifier(GatewayError, ValueError):
    """Raised when text is not a valid identifier of the requested type.

    ``kind`` names the type, ``value`` is the text as given (before
    normalisation, so the user recognises it) and ``reason`` says what is wrong.
    """

    def __init__(self, kind: str, value: str, reason: str) -> None:
        self.kind = kind
        self.value = value
        self.reason = reason
        super().__init__(f"{kind} {value!r}: {reason}")


def _compact(raw: str) -> str:
    # People write numbers grouped with spaces, dots or hyphens
    # ("1234.56.782", "NL 0012 34 567 B01"); none of these identifiers has
    # such a character as a significant part.
    return "".join(raw.split()).replace(".", "").replace("-", "").upper()


def _is_digits(text: str) -> bool:
    # str.isdigit alone would let through superscripts and non-ASCII digits.
    return text.isascii() and text.isdigit()


def _digits(kind: str, raw: str, length: int, *, pad_from: int | None = None) -> str:
    """Return ``raw`` compacted, or raise unless it is exactly ``length`` digits.

    ``pad_from`` is a shorter length that is accepted and left-padded with
    zeros, for numbers whose leading zero is commonly dropped.
    """
    value = _compact(raw)
    if not value:
        raise InvalidIdentifier(kind, raw, f"is empty, must be {length} digits")
    bad = next((char for char in value if not _is_digits(char)), None)
    if bad is not None:
        raise InvalidIdentifier(kind, raw, f"must be {length} digits, found {bad!r}")
    if pad_from is not None and len(value) == pad_from:
        value = value.zfill(length)
    if len(value) != length:
        raise InvalidIdentifier(kind, raw, f"must be {length} digits, got {len(value)}")
    return value


class _Identifier:
    """Behaviour shared by the single-value identifiers below."""

    __slots__ = ()
    value: str

    def __str__(self) -> str:
        return self.value


# --- Numbers from the Handelsregister and the Belastingdienst ------------------------


def _check_kvk(raw: str) -> str:
    return _digits("KvK number", raw, 8)


def _check_vestigingsnummer(raw: str) -> str:
    return _digits("vestigingsnummer", raw, 12)


def _eleven_test(kind: str, raw: str) -> str:
    value = _digits(kind, raw, 9, pad_from=8)
    if value == "000000000":
        raise InvalidIdentifier(kind, raw, "must not be all zeros")
    if not bsn.is_valid(value):
        raise InvalidIdentifier(kind, raw, "fails the 11-test")
    return value


def _check_rsin(raw: str) -> str:
    return _eleven_test("RSIN", raw)


def _check_bsn(raw: str) -> str:
    return _eleven_test("BSN", raw)


def _check_fi_nummer(raw: str) -> str:
    return _eleven_test("Fi-nummer", raw)


@attrs.frozen(order=True)
class KvKNumber(_Identifier):
    """KvK-nummer: 8 digits identifying an entry in the Handelsregister."""

    value: str = attrs.field(converter=_check_kvk)

    def to_oin(self, suffix: str = "0000") -> OIN:
        """Return the KvK-based OIN (prefix 00000003) with the given 4-digit suffix."""
        if not (len(suffix) == 4 and _is_digits(suffix)):
            raise InvalidIdentifier(
                "KvK number", self.value, f"OIN suffix must be 4 digits, got {suffix!r}"
            )
        return OIN(_KVK_PREFIX + self.value + suffix)

    def to_peppol(self) -> PeppolParticipantId:
        """Return the Peppol participant id under scheme 0106."""
        return PeppolParticipantId.for_kvk(self)


@attrs.frozen(order=True)
class Vestigingsnummer(_Identifier):
    """Vestigingsnummer: 12 digits identifying one establishment of a KvK entry."""

    value: str = attrs.field(converter=_check_vestigingsnummer)


@attrs.frozen(order=True)
class RSIN(_Identifier):
    """RSIN: 9-digit legal-entity number; 8 digits get their leading zero back."""

    value: str = attrs.field(converter=_check_rsin)


@attrs.frozen(order=True)
class BSN(_Identifier):
    """BSN: 9-digit citizen service number; 8 digits get their leading zero back.

    A BSN is personal data: keep it out of logs beyond what an error needs.
    """

    value: str = attrs.field(converter=_check_bsn)


@attrs.frozen(order=True)
class FiNummer(_Identifier):
    """Fi-nummer: 9-digit Belastingdienst number of a body without an RSIN."""

    value: str = attrs.field(converter=_check_fi_nummer)


# --- OIN ---------------------------------------------------------------------------


@attrs.frozen
class _OinRegister:
    name: str
    # None where the OIN-stelsel does not fix the split between hoofdnummer
    # and suffix for this register.
    hoofdnummer_length: int | None


_RSIN_PREFIX = "00000001"
_KVK_PREFIX = "00000003"
_UNASSIGNED_PREFIX = "00000005"
_TEST_PREFIX = "00000099"

_OIN_REGISTERS: dict[str, _OinRegister] = {
    _RSIN_PREFIX: _OinRegister("RSIN", 9),
    "00000002": _OinRegister("Fi-nummer", 9),
    _KVK_PREFIX: _OinRegister("KvK-nummer", 8),
    "00000004": _OinRegister("SubOIN", 9),
    "00000006": _OinRegister("Logius OIN-hoofdnummer", 9),
    "00000007": _OinRegister("BRIN", None),
    "00000008": _OinRegister("foreign number", None),
    "00000009": _OinRegister("UZI-nummer", None),
    "00000010": _OinRegister("TRR-BD", None),
    _TEST_PREFIX: _OinRegister("test OIN", None),
}


def _check_oin(raw: str) -> str:
    return _oin_value(raw)


# Every submission checks the agency's OIN several times (intake, directory, routing)
# and there are only so many agencies. A failure is not cached: it raises again.
@functools.lru_cache(maxsize=1024)
def _oin_value(raw: str) -> str:
    value = _digits("OIN", raw, 20)
    prefix = value[:8]
    if prefix == _UNASSIGNED_PREFIX:
        raise InvalidIdentifier("OIN", raw, f"prefix {prefix} is not assigned to any register")
    if prefix not in _OIN_REGISTERS:
        known = ", ".join(_OIN_REGISTERS)
        raise InvalidIdentifier("OIN", raw, f"unknown prefix {prefix}, must be one of {known}")
    # Only an RSIN has a check digit; Fi-nummers seem to pass the 11-test as
    # well, but without a source saying they always do we leave them alone.
    if prefix == _RSIN_PREFIX:
        try:
            RSIN(value[8:17])
        except InvalidIdentifier as exc:
            raise InvalidIdentifier(
                "OIN", raw, f"digits 9-17 ({value[8:17]}) must be an RSIN: {exc.reason}"
            ) from None
    return value


@attrs.frozen(order=True)
class OIN(_Identifier):
    """Organisatie-identificatienummer: how Dutch government bodies are addressed."""

    value: str = attrs.field(converter=_check_oin)

    @property
    def prefix(self) -> str:
        """The first 8 digits, naming the register the hoofdnummer comes from."""
        return self.value[:8]

    @property
    def register(self) -> str:
        """Name of the register behind the prefix, e.g. ``"KvK-nummer"``."""
        return _OIN_REGISTERS[self.prefix].name

    @property
    def is_test(self) -> bool:
        """True for the test range 00000099, which anyone may use."""
        return self.prefix == _TEST_PREFIX

    @property
    def hoofdnummer(self) -> str | None:
        """The number taken from the register, or None where its length is not fixed."""
        length = _OIN_REGISTERS[self.prefix].hoofdnummer_length
        return None if length is None else self.value[8 : 8 + length]

    @property
    def suffix(self) -> str | None:
        """The 3 or 4 digits after the hoofdnummer, or None where the split is not fixed."""
        length = _OIN_REGISTERS[self.prefix].hoofdnummer_length
        return None if length is None else self.value[8 + length :]

    @property
    def kvk(self) -> KvKNumber | None:
        """The KvK number of a KvK-based OIN (prefix 00000003), else None."""
        return KvKNumber(self.value[8:16]) if self.prefix == _KVK_PREFIX else None

    @property
    def rsin(self) -> RSIN | None:
        """The RSIN of an RSIN-based OIN (prefix 00000001), else None."""
        return RSIN(self.value[8:17]) if self.prefix == _RSIN_PREFIX else None

    def to_peppol(self) -> PeppolParticipantId:
        """Return the Peppol participant id under scheme 0190."""
        return PeppolParticipantId.for_oin(self)

    def same_as(self, text: str) -> bool:
        """True when ``text`` is this OIN however it is written; False for anything else."""
        try:
            return OIN(text) == self
        except InvalidIdentifier:
            return False


# --- VAT and GLN -------------------------------------------------------------------


def _check_vat(raw: str) -> str:
    kind = "VAT number"
    value = _compact(raw)
    if not value:
        raise InvalidIdentifier(kind, raw, "is empty, must be 'NL', 9 digits, 'B' and 2 digits")
    if not value.startswith("NL"):
        raise InvalidIdentifier(
            kind, raw, "must start with 'NL' (only Dutch VAT numbers are supported)"
        )
    if len(value) != 14:
        raise InvalidIdentifier(
            kind, raw, f"must be 14 characters ('NL', 9 digits, 'B', 2 digits), got {len(value)}"
        )
    number, letter, sequence = value[2:11], value[11], value[12:]
    if not _is_digits(number):
        raise InvalidIdentifier(kind, raw, f"must have 9 digits after 'NL', got {number!r}")
    if letter != "B":
        raise InvalidIdentifier(kind, raw, f"must have 'B' after the 9 digits, got {letter!r}")
    if not _is_digits(sequence):
        raise InvalidIdentifier(kind, raw, f"must end in 2 digits after 'B', got {sequence!r}")
    if number == "000000000":
        raise InvalidIdentifier(kind, raw, "the 9 digits must not all be zero")
    if sequence == "00":
        raise InvalidIdentifier(kind, raw, "the 2 digits after 'B' must not be 00")
    if not btw.is_valid(value):
        raise InvalidIdentifier(
            kind,
            raw,
            "fails both the 11-test (omzetbelastingnummer) "
            "and the mod-97 check (btw-identificatienummer)",
        )
    return value


@attrs.frozen(order=True)
class VATNumber(_Identifier):
    """Dutch VAT number (``NL123456782B01``), old or new style."""

    value: str = attrs.field(converter=_check_vat)

    def to_peppol(self) -> PeppolParticipantId:
        """Return the Peppol participant id under scheme 9944 (full ``NL…B..`` value)."""
        return PeppolParticipantId.for_vat(self)


def _check_gln(raw: str) -> str:
    value = _digits("GLN", raw, 13)
    expected = ean.calc_check_digit(value[:-1])
    if value[-1] != expected:
        raise InvalidIdentifier("GLN", raw, f"check digit is {value[-1]}, expected {expected}")
    return value


@attrs.frozen(order=True)
class GLN(_Identifier):
    """GS1 Global Location Number: 13 digits, the last a mod-10 check digit."""

    value: str = attrs.field(converter=_check_gln)

    def to_peppol(self) -> PeppolParticipantId:
        """Return the Peppol participant id under scheme 0088."""
        return PeppolParticipantId.for_gln(self)


# --- Peppol participant identifiers -------------------------------------------------


def _check_no_orgnr(raw: str) -> str:
    kind = "Norwegian organisation number"
    value = _digits(kind, raw, 9)
    if not no_orgnr.is_valid(value):
        raise InvalidIdentifier(kind, raw, "fails the mod-11 check")
    return value


def _check_se_orgnr(raw: str) -> str:
    kind = "Swedish organisation number"
    value = _digits(kind, raw, 10)
    if not se_orgnr.is_valid(value):
        raise InvalidIdentifier(kind, raw, "fails the Luhn check")
    return value


def _check_be_enterprise(raw: str) -> str:
    kind = "Belgian enterprise number"
    value = _digits(kind, raw, 10)
    if value[0] not in "01":
        raise InvalidIdentifier(kind, raw, f"must start with 0 or 1, got {value[0]}")
    if not be_vat.is_valid(value):
        raise InvalidIdentifier(kind, raw, "fails the mod-97 check")
    return value


def _check_iban(raw: str) -> str:
    kind = "IBAN"
    value = _compact(raw)
    if not value:
        raise InvalidIdentifier(kind, raw, "is empty")
    if not (value.isascii() and value.isalnum()):
        raise InvalidIdentifier(kind, raw, "must contain only letters and digits")
    if not (value[:2].isalpha() and _is_digits(value[2:4])):
        raise InvalidIdentifier(
            kind, raw, "must start with a 2-letter country code and 2 check digits"
        )
    try:
        iban.validate(value)
    except InvalidChecksum:
        # stdnum checks the digits before the country, so a truncated or
        # mistyped IBAN ends up here too.
        raise InvalidIdentifier(
            kind,
            raw,
            "fails the mod-97 check (wrong check digits, or a wrong or missing character)",
        ) from None
    except InvalidComponent:
        raise InvalidIdentifier(kind, raw, f"unknown country code {value[:2]!r}") from None
    except ValidationError:
        raise InvalidIdentifier(
            kind, raw, "does not match the account number layout of its country"
        ) from None
    return value


@attrs.frozen
class _PeppolScheme:
    name: str
    check: Callable[[str], str]  # returns the normalised value or raises InvalidIdentifier
    deprecated: bool = False


_PEPPOL_SCHEMES: dict[str, _PeppolScheme] = {
    "0007": _PeppolScheme("Swedish organisation number", _check_se_orgnr),
    "0088": _PeppolScheme("GLN", _check_gln),
    "0106": _PeppolScheme("KvK number", _check_kvk),
    "0190": _PeppolScheme("OIN", _check_oin),
    "0192": _PeppolScheme("Norwegian organisation number", _check_no_orgnr),
    "0208": _PeppolScheme("Belgian enterprise number", _check_be_enterprise),
    "9918": _PeppolScheme("IBAN", _check_iban),
    "9944": _PeppolScheme("Dutch VAT number", _check_vat),
    # Removed from the EAS list; still found in SI-UBL 1.2 documents.
    "9954": _PeppolScheme("OIN (legacy scheme)", _check_oin, deprecated=True),
}

# The Electronic Address Scheme (EAS) codes a Peppol participant may be
# registered under: the value set ``eaid`` that Peppol BIS Billing 3.0.19
# (May 2025, PEPPOL-EN16931-UBL.sch, rule PEPPOL-EN16931-CL008) checks every
# EndpointID/@schemeID against; Peppol BIS Ordering 3 (2025-Q2,
# structure/codelist/eas.xml) lists the same 92 codes. A document addressed
# under any other code fails those rules, so such an id is refused here rather
# than sent to fail at the receiving end. Update it with a new BIS release.
# Sorted, in rows of twelve, so it can be checked against the source by eye.
# fmt: off
_EAS_CODES = frozenset({
    "0002", "0007", "0009", "0037", "0060", "0088", "0096", "0097", "0106", "0130", "0135", "0142",
    "0147", "0151", "0154", "0158", "0170", "0177", "0183", "0184", "0188", "0190", "0191", "0192",
    "0193", "0194", "0195", "0196", "0198", "0199", "0200", "0201", "0202", "0203", "0204", "0205",
    "0208", "0209", "0210", "0211", "0212", "0213", "0215", "0216", "0217", "0218", "0221", "0225",
    "0230", "0235", "0240", "9910", "9913", "9914", "9915", "9918", "9919", "9920", "9922", "9923",
    "9924", "9925", "9926", "9927", "9928", "9929", "9930", "9931", "9932", "9933", "9934", "9935",
    "9936", "9937", "9938", "9939", "9940", "9941", "9942", "9943", "9944", "9945", "9946", "9947",
    "9948", "9949", "9950", "9951", "9952", "9953", "9957", "9959",
})
# fmt: on

_PEPPOL_ID_SCHEME_PREFIX = "iso6523-actorid-upis::"
_PEPPOL_KIND = "Peppol participant ID"


def _check_peppol(scheme: str, value: str) -> tuple[str, str]:
    given = f"{scheme}:{value}"
    scheme = scheme.strip()
    if not (len(scheme) == 4 and _is_digits(scheme)):
        raise InvalidIdentifier(
            _PEPPOL_KIND, given, f"scheme must be a 4-digit ICD/EAS code, got {scheme!r}"
        )
    known = _PEPPOL_SCHEMES.get(scheme)
    if known is None and scheme not in _EAS_CODES:
        raise InvalidIdentifier(
            _PEPPOL_KIND,
            given,
            f"scheme {scheme} is not on the Peppol EAS code list "
            "(in the Netherlands: 0190 OIN, 0106 KvK, 9944 VAT number, 0088 GLN)",
        )
    if known is not None:
        try:
            return scheme, known.check(value)
        except InvalidIdentifier as exc:
            raise InvalidIdentifier(
                _PEPPOL_KIND, given, f"not a valid {known.name} for scheme {scheme}: {exc.reason}"
            ) from None
    # A listed scheme whose values we know nothing about; all we can require
    # is a value that survives being put in a URL or an XML attribute.
    value = value.strip()
    if not value:
        raise InvalidIdentifier(_PEPPOL_KIND, given, "value is empty")
    if any(char.isspace() for char in value):
        raise InvalidIdentifier(_PEPPOL_KIND, given, "value must not contain whitespace")
    # Control characters cannot be written in XML at all, and invisible ones
    # (zero-width space, byte order mark) make two ids look equal that are not.
    hidden = next((char for char in value if not char.isprintable()), None)
    if hidden is not None:
        raise InvalidIdentifier(
            _PEPPOL_KIND,
            given,
            f"value must not contain control or invisible characters, found {hidden!r}",
        )
    return scheme, value


def _participant_key(value: str) -> str:
    # The Peppol Policy for use of Identifiers makes participant identifier values
    # case-insensitive, and an SMP lower-cases them before hashing for the lookup, so
    # lower() (not casefold(), which would also equate "ß" and "ss") is the key.
    return value.lower()


@attrs.frozen(order=True, init=False)
class PeppolParticipantId:
    """A Peppol participant identifier: a 4-digit ICD/EAS scheme and a value.

    The scheme must be on the EAS list (``_EAS_CODES``), or be the legacy OIN
    scheme 9954. Values under the known schemes (see ``_PEPPOL_SCHEMES``) are
    validated and normalised as their type; under any other listed scheme the
    value is only required to be non-empty and free of whitespace, and is kept
    as given.

    Two ids whose values differ only in case are one participant: they compare,
    hash and sort as equal, while ``value`` and ``str()`` keep the text as
    written, which is what goes on the wire.
    """

    scheme: str
    value: str = attrs.field(eq=_participant_key, order=_participant_key)

    def __init__(self, scheme: str, value: str) -> None:
        self.__attrs_init__(*_check_peppol(scheme, value))

    @classmethod
    def parse(cls, text: str) -> PeppolParticipantId:
        """Parse ``scheme:value``, optionally prefixed with ``iso6523-actorid-upis::``."""
        body = text.strip()
        if body.lower().startswith(_PEPPOL_ID_SCHEME_PREFIX):
            body = body[len(_PEPPOL_ID_SCHEME_PREFIX) :]
        scheme, colon, value = body.partition(":")
        if not colon:
            raise InvalidIdentifier(
                _PEPPOL_KIND, text, "must have the form 'scheme:value', e.g. '0190:<OIN>'"
            )
        try:
            return cls(scheme, value)
        except InvalidIdentifier as exc:
            # Report the text the caller gave, not our reassembly of it.
            raise InvalidIdentifier(_PEPPOL_KIND, text, exc.reason) from None

    @classmethod
    def for_oin(cls, oin: OIN) -> PeppolParticipantId:
        """Scheme 0190, the one Dutch government bodies are reached by."""
        return cls("0190", oin.value)

    @classmethod
    def for_kvk(cls, kvk: KvKNumber) -> PeppolParticipantId:
        """Scheme 0106."""
        return cls("0106", kvk.value)

    @classmethod
    def for_vat(cls, vat: VATNumber) -> PeppolParticipantId:
        """Scheme 9944, with the full ``NL…B..`` value."""
        return cls("9944", vat.value)

    @classmethod
    def for_gln(cls, gln: GLN) -> PeppolParticipantId:
        """Scheme 0088."""
        return cls("0088", gln.value)

    @property
    def deprecated(self) -> bool:
        """True for schemes that are accepted on input but should not be sent (9954)."""
        known = _PEPPOL_SCHEMES.get(self.scheme)
        return known is not None and known.deprecated

    def __str__(self) -> str:
        return f"{self.scheme}:{self.value}"


# --- Scheme names used in documents -------------------------------------------------

Identifier: TypeAlias = OIN | KvKNumber | Vestigingsnummer | RSIN | BSN | FiNummer | VATNumber | GLN

# Keys as written in OHNL schemeAgencyName and in Peppol schemeID attributes;
# matched case-insensitively. RSIN and the legacy Peppol code 9954 are our
# additions: both occur in documents and have a type here.
_SCHEME_TYPES: dict[str, Callable[[str], Identifier]] = {
    "OIN": OIN,
    "KvK": KvKNumber,
    "Vest": Vestigingsnummer,
    "BTW": VATNumber,
    "BSN": BSN,
    "Fi": FiNummer,
    "RSIN": RSIN,
    "0190": OIN,
    "0106": KvKNumber,
    "9944": VATNumber,
    "0088": GLN,
    "9954": OIN,
    "GLN": GLN,
}
_SCHEME_TYPES_BY_KEY = {name.upper(): make for name, make in _SCHEME_TYPES.items()}

# The EAS code each type is addressed by on Peppol (see the ``for_*`` factories).
_EAS_CODE_OF_TYPE: dict[Callable[[str], Identifier], str] = {
    OIN: "0190",
    KvKNumber: "0106",
    VATNumber: "9944",
    GLN: "0088",
}


def eas_code(scheme_name: str) -> str | None:
    """The Peppol EAS code for ``scheme_name`` as :func:`parse_identifier` reads it.

    ``OIN`` and the legacy ``9954`` give ``0190``, ``KvK`` ``0106``, ``BTW``
    ``9944``, ``GLN`` ``0088``; None for a scheme without one (``Vest``, ``BSN``,
    ``Fi``, ``RSIN``) or an unknown name.
    """
    make = _SCHEME_TYPES_BY_KEY.get(scheme_name.strip().upper())
    return None if make is None else _EAS_CODE_OF_TYPE.get(make)


def parse_identifier(scheme_name: str, value: str) -> Identifier:
    """Return the typed identifier that ``scheme_name`` says ``value`` is.

    ``scheme_name`` is an OHNL ``schemeAgencyName`` (``OIN``, ``KvK``, ``Vest``,
    ``BTW``, ``BSN``, ``Fi``, ``RSIN``), ``GLN``, or a Peppol ICD code
    (``0190``, ``0106``, ``9944``, ``0088``, ``9954``).
    """
    make = _SCHEME_TYPES_BY_KEY.get(scheme_name.strip().upper())
    if make is None:
        known = ", ".join(_SCHEME_TYPES)
        raise InvalidIdentifier(
            "identifier scheme", scheme_name, f"unknown scheme, known schemes are {known}"
        )
    return make(value)


def is_oin_scheme(scheme_name: str) -> bool:
    """True for the scheme names a value is an OIN under: ``OIN``, ``0190`` and ``9954``."""
    return _SCHEME_TYPES_BY_KEY.get(scheme_name.strip().upper()) is OIN
