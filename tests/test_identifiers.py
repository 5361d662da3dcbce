"""Tests for gateway.identifiers."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.identifiers import (
    BSN,
    GLN,
    OIN,
    RSIN,
    FiNummer,
    InvalidIdentifier,
    KvKNumber,
    PeppolParticipantId,
    VATNumber,
    Vestigingsnummer,
    eas_code,
    is_oin_scheme,
    parse_identifier,
)

# Published examples (docs/domain.md section 4).
LOGIUS_OIN = "00000004003214345001"
RSIN_OIN = "00000001003227522000"
FI_OIN = "00000002003182447001"
TEST_OIN = "00000099003214345001"
KVK_OIN = "00000003273483250000"

OLD_VAT = "NL003227522B01"  # 9 digits pass the 11-test
NEW_VAT = "NL000099998B57"  # passes mod 97-10 only
VALID_GLN = "8712345678906"

ELEVEN_TEST_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)


def eleven_test_sum(digits: str) -> int:
    return sum(w * int(d) for w, d in zip(ELEVEN_TEST_WEIGHTS, digits, strict=True))


def gln_check_digit(first12: str) -> str:
    # GS1: weights 3 and 1 alternating from the rightmost data digit.
    total = sum((3 if i % 2 == 0 else 1) * int(d) for i, d in enumerate(reversed(first12)))
    return str((10 - total % 10) % 10)


def mod97_value(text: str) -> int:
    # ISO 7064 letter conversion: A=10 ... Z=35.
    return int("".join(str(int(c, 36)) for c in text))


def error_of(make: object, *args: str) -> InvalidIdentifier:
    assert callable(make)
    with pytest.raises(InvalidIdentifier) as info:
        make(*args)
    return info.value


# --- the error type ------------------------------------------------------------------


def test_invalid_identifier_is_a_value_error_and_a_gateway_error() -> None:
    exc = error_of(OIN, "0000000300001234")
    assert isinstance(exc, ValueError)
    assert isinstance(exc, GatewayError)
    assert (exc.kind, exc.value, exc.reason) == ("OIN", "0000000300001234", exc.reason)


def test_message_names_type_value_and_reason() -> None:
    assert str(error_of(OIN, "0000000300001234")) == (
        "OIN '0000000300001234': must be 20 digits, got 16"
    )
    assert str(error_of(BSN, "123456789")) == "BSN '123456789': fails the 11-test"


def test_message_shows_the_text_as_given_not_normalised() -> None:
    assert "'1234 5678 9'" in str(error_of(BSN, "1234 5678 9"))


# --- OIN -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [LOGIUS_OIN, RSIN_OIN, FI_OIN, TEST_OIN, KVK_OIN])
def test_published_oins_are_valid(text: str) -> None:
    oin = OIN(text)
    assert oin.value == text
    assert str(oin) == text


@pytest.mark.parametrize(
    ("text", "prefix", "register", "hoofdnummer", "suffix"),
    [
        (LOGIUS_OIN, "00000004", "SubOIN", "003214345", "001"),
        (RSIN_OIN, "00000001", "RSIN", "003227522", "000"),
        (FI_OIN, "00000002", "Fi-nummer", "003182447", "001"),
        (KVK_OIN, "00000003", "KvK-nummer", "27348325", "0000"),
        (TEST_OIN, "00000099", "test OIN", None, None),
    ],
)
def test_oin_parts(
    text: str, prefix: str, register: str, hoofdnummer: str | None, suffix: str | None
) -> None:
    oin = OIN(text)
    assert oin.prefix == prefix
    assert oin.register == register
    assert oin.hoofdnummer == hoofdnummer
    assert oin.suffix == suffix


def test_oin_is_test() -> None:
    assert OIN(TEST_OIN).is_test
    assert not OIN(LOGIUS_OIN).is_test


def test_kvk_based_oin_exposes_kvk_number() -> None:
    assert OIN(KVK_OIN).kvk == KvKNumber("27348325")
    assert OIN(KVK_OIN).rsin is None


def test_rsin_based_oin_exposes_rsin() -> None:
    assert OIN(RSIN_OIN).rsin == RSIN("003227522")
    assert OIN(RSIN_OIN).kvk is None


@pytest.mark.parametrize("text", [LOGIUS_OIN, FI_OIN, TEST_OIN])
def test_other_oins_have_no_kvk_or_rsin(text: str) -> None:
    assert OIN(text).kvk is None
    assert OIN(text).rsin is None


@pytest.mark.parametrize(
    "text", ["0000 0004 0032 1434 5001", "00000004.003214345.001", " 00000004-003214345-001\n"]
)
def test_oin_normalises_separators(text: str) -> None:
    assert OIN(text) == OIN(LOGIUS_OIN)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0000000300001234", "must be 20 digits, got 16"),
        ("000000040032143450011", "must be 20 digits, got 21"),
        ("0000000400321434500A", "must be 20 digits, found 'A'"),
        ("0000000400321434500²", "must be 20 digits, found '²'"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("00000005003214345001", "prefix 00000005 is not assigned to any register"),
        ("00000011003214345001", "unknown prefix 00000011"),
        ("12345678003214345001", "unknown prefix 12345678"),
        ("00000000003214345001", "unknown prefix 00000000"),
    ],
)
def test_invalid_oins(text: str, reason: str) -> None:
    exc = error_of(OIN, text)
    assert exc.kind == "OIN"
    assert exc.value == text
    assert reason in exc.reason
    assert repr(text) in str(exc)


def test_unknown_prefix_message_lists_known_prefixes() -> None:
    reason = error_of(OIN, "00000011003214345001").reason
    assert "00000001" in reason
    assert "00000099" in reason
    assert "00000005" not in reason


def test_rsin_based_oin_must_pass_the_11_test() -> None:
    exc = error_of(OIN, "00000001003227523000")
    assert exc.reason == "digits 9-17 (003227523) must be an RSIN: fails the 11-test"


def test_rsin_based_oin_with_an_8_digit_hoofdnummer_is_rejected() -> None:
    # An RSIN written as 8 digits and padded with a KvK-style 4-digit suffix
    # shifts the number one place and breaks the 11-test.
    exc = error_of(OIN, "00000001" + "03227522" + "0000")
    assert "digits 9-17" in exc.reason


def test_rsin_based_oin_with_zero_rsin_is_rejected() -> None:
    assert "must not be all zeros" in error_of(OIN, "00000001000000000000").reason


def test_fi_and_suboin_hoofdnummers_are_not_eleven_tested() -> None:
    # No source says they always pass; see the module docstring.
    assert OIN("00000002123456789000").prefix == "00000002"
    assert OIN("00000004123456789000").prefix == "00000004"


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_test_oins_accept_any_12_digits(tail: str) -> None:
    assert OIN("00000099" + tail).is_test


@given(
    st.text(alphabet="0123456789", min_size=8, max_size=8),
    st.text(alphabet="0123456789", min_size=4, max_size=4),
)
def test_kvk_oins_accept_any_kvk_number_and_suffix(kvk: str, suffix: str) -> None:
    oin = OIN("00000003" + kvk + suffix)
    assert oin.kvk == KvKNumber(kvk)
    assert oin.suffix == suffix


# --- KvK and vestigingsnummer --------------------------------------------------------


def test_kvk_number_valid_and_normalised() -> None:
    assert str(KvKNumber("27348325")) == "27348325"
    assert KvKNumber(" 2734 8325 ") == KvKNumber("27348325")
    assert KvKNumber("2734.83.25") == KvKNumber("27348325")


def test_kvk_number_is_not_eleven_tested() -> None:
    assert eleven_test_sum("0" + "12345678") % 11 != 0
    assert KvKNumber("12345678").value == "12345678"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2734832", "must be 8 digits, got 7"),
        ("273483250", "must be 8 digits, got 9"),
        ("2734832X", "must be 8 digits, found 'X'"),
        ("", "is empty"),
    ],
)
def test_invalid_kvk_numbers(text: str, reason: str) -> None:
    exc = error_of(KvKNumber, text)
    assert exc.kind == "KvK number"
    assert reason in exc.reason


def test_vestigingsnummer() -> None:
    assert str(Vestigingsnummer("0000 1234 5678")) == "000012345678"
    assert "must be 12 digits, got 8" in error_of(Vestigingsnummer, "12345678").reason
    assert "found 'A'" in error_of(Vestigingsnummer, "00001234567A").reason


# --- RSIN, BSN, Fi-nummer ------------------------------------------------------------

ELEVEN_TEST_TYPES = [RSIN, BSN, FiNummer]


@pytest.mark.parametrize("make", ELEVEN_TEST_TYPES)
def test_eleven_test_numbers_valid(make: type[RSIN | BSN | FiNummer]) -> None:
    assert str(make("003227522")) == "003227522"
    assert str(make("123456782")) == "123456782"


@pytest.mark.parametrize("make", ELEVEN_TEST_TYPES)
def test_eight_digits_get_a_leading_zero(make: type[RSIN | BSN | FiNummer]) -> None:
    assert make("03227522") == make("003227522")


def test_bsn_normalises_separators() -> None:
    assert BSN("1234.56.782") == BSN("123456782")


@pytest.mark.parametrize("make", ELEVEN_TEST_TYPES)
@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("123456789", "fails the 11-test"),
        ("000000000", "must not be all zeros"),
        ("00000000", "must not be all zeros"),
        ("1234567", "must be 9 digits, got 7"),
        ("1234567890", "must be 9 digits, got 10"),
        ("12345678A", "must be 9 digits, found 'A'"),
    ],
)
def test_invalid_eleven_test_numbers(
    make: type[RSIN | BSN | FiNummer], text: str, reason: str
) -> None:
    exc = error_of(make, text)
    assert exc.reason == reason
    assert exc.value == text


def test_kind_names_in_messages() -> None:
    assert error_of(RSIN, "123456789").kind == "RSIN"
    assert error_of(BSN, "123456789").kind == "BSN"
    assert error_of(FiNummer, "123456789").kind == "Fi-nummer"


def test_same_digits_of_different_types_are_not_equal() -> None:
    rsin: object = RSIN("003227522")
    assert rsin != BSN("003227522")
    assert rsin != FiNummer("003227522")


# --- VAT -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", [OLD_VAT, NEW_VAT, "NL004495445B01"])
def test_vat_numbers_valid(text: str) -> None:
    assert VATNumber(text).value == text


@pytest.mark.parametrize(
    "text", ["nl003227522b01", "NL 0032.27.522 B01", "NL-003227522-B01", " nl003227522B01 "]
)
def test_vat_normalisation(text: str) -> None:
    assert VATNumber(text) == VATNumber(OLD_VAT)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("003227522B01", "must start with 'NL'"),
        ("BE0403019261", "must start with 'NL'"),
        ("", "is empty, must be 'NL', 9 digits, 'B' and 2 digits"),
        (" - ", "is empty"),
        ("NL03227522B01", "must be 14 characters"),
        ("NL003227522B012", "must be 14 characters"),
        ("NL00322752XB01", "must have 9 digits after 'NL'"),
        ("NL003227522C01", "must have 'B' after the 9 digits"),
        ("NL003227522B0X", "must end in 2 digits after 'B'"),
        ("NL000000000B01", "must not all be zero"),
        ("NL003227522B00", "must not be 00"),
        ("NL003227523B01", "fails both the 11-test"),
        ("NL000099998B58", "and the mod-97 check"),
    ],
)
def test_invalid_vat_numbers(text: str, reason: str) -> None:
    exc = error_of(VATNumber, text)
    assert exc.kind == "VAT number"
    assert exc.value == text
    assert reason in exc.reason


# --- GLN -----------------------------------------------------------------------------


def test_gln_valid() -> None:
    assert str(GLN("871 234 567 890 6")) == VALID_GLN


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("8712345678905", "check digit is 5, expected 6"),
        ("871234567890", "must be 13 digits, got 12"),
        ("87123456789O6", "found 'O'"),
    ],
)
def test_invalid_glns(text: str, reason: str) -> None:
    exc = error_of(GLN, text)
    assert exc.kind == "GLN"
    assert reason in exc.reason


# --- Peppol participant identifiers --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "scheme", "value"),
    [
        ("0190:" + LOGIUS_OIN, "0190", LOGIUS_OIN),
        ("0106:27348325", "0106", "27348325"),
        ("9944:nl000099998b57", "9944", NEW_VAT),
        ("0088:" + VALID_GLN, "0088", VALID_GLN),
        ("0192:988 077 917", "0192", "988077917"),
        ("0007:123456-7897", "0007", "1234567897"),
        ("0208:0403.019.261", "0208", "0403019261"),
        ("9918:nl91 abna 0417 1643 00", "9918", "NL91ABNA0417164300"),
        ("9954:" + LOGIUS_OIN, "9954", LOGIUS_OIN),
        ("0060:Some-Value_x", "0060", "Some-Value_x"),
    ],
)
def test_peppol_known_and_unknown_schemes_valid(text: str, scheme: str, value: str) -> None:
    pid = PeppolParticipantId.parse(text)
    assert (pid.scheme, pid.value) == (scheme, value)
    assert str(pid) == f"{scheme}:{value}"
    assert PeppolParticipantId(scheme, value) == pid


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0190:0000000400321434500", "not a valid OIN for scheme 0190: must be 20 digits, got 19"),
        ("0190:00000005003214345001", "not assigned"),
        ("9954:123", "not a valid OIN (legacy scheme) for scheme 9954"),
        ("0106:1234567", "not a valid KvK number for scheme 0106: must be 8 digits, got 7"),
        ("9944:003227522B01", "must start with 'NL'"),
        ("9944:NL003227523B01", "fails both the 11-test"),
        ("0088:8712345678905", "check digit is 5, expected 6"),
        ("0192:988077918", "fails the mod-11 check"),
        ("0192:98807791", "must be 9 digits, got 8"),
        ("0007:1234567898", "fails the Luhn check"),
        ("0007:123456789", "must be 10 digits, got 9"),
        ("0208:0403019262", "fails the mod-97 check"),
        ("0208:2403019261", "must start with 0 or 1"),
        ("9918:NL91ABNA0417164301", "not a valid IBAN for scheme 9918: fails the mod-97 check"),
        ("9918:NL91!ABNA0417164300", "must contain only letters and digits"),
        ("9918:9191ABNA0417164300", "must start with a 2-letter country code"),
        ("9918: ", "not a valid IBAN for scheme 9918: is empty"),
    ],
)
def test_peppol_known_scheme_invalid_values(text: str, reason: str) -> None:
    exc = error_of(PeppolParticipantId.parse, text)
    assert exc.kind == "Peppol participant ID"
    assert exc.value == text
    assert reason in exc.reason


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("019:" + LOGIUS_OIN, "scheme must be a 4-digit ICD/EAS code, got '019'"),
        ("01900:" + LOGIUS_OIN, "scheme must be a 4-digit ICD/EAS code, got '01900'"),
        ("OIN:" + LOGIUS_OIN, "scheme must be a 4-digit ICD/EAS code, got 'OIN'"),
        (":" + LOGIUS_OIN, "got ''"),
        (LOGIUS_OIN, "must have the form 'scheme:value'"),
        ("", "must have the form 'scheme:value'"),
        ("0060:", "value is empty"),
        ("0060:  ", "value is empty"),
        ("0060:a b", "must not contain whitespace"),
        ("0060:a\x00b", "must not contain control or invisible characters, found '\\x00'"),
        ("0060:a\u200bb", "must not contain control or invisible characters, found '\\u200b'"),
        ("1234:x", "scheme 1234 is not on the Peppol EAS code list"),
        ("0000:x", "scheme 0000 is not on the Peppol EAS code list"),
    ],
)
def test_peppol_malformed(text: str, reason: str) -> None:
    exc = error_of(PeppolParticipantId.parse, text)
    assert exc.value == text
    assert reason in exc.reason


def test_peppol_accepts_the_identifier_scheme_prefix() -> None:
    for text in [
        "iso6523-actorid-upis::0190:" + LOGIUS_OIN,
        "ISO6523-ACTORID-UPIS::0190:" + LOGIUS_OIN,
        "  0190:" + LOGIUS_OIN + " ",
    ]:
        assert PeppolParticipantId.parse(text) == PeppolParticipantId("0190", LOGIUS_OIN)


def test_peppol_constructor_validates() -> None:
    exc = error_of(PeppolParticipantId, "0190", "123")
    assert exc.value == "0190:123"
    assert "must be 20 digits" in exc.reason


def test_peppol_legacy_oin_scheme_is_flagged_deprecated() -> None:
    assert PeppolParticipantId.parse("9954:" + LOGIUS_OIN).deprecated
    assert not PeppolParticipantId.parse("0190:" + LOGIUS_OIN).deprecated
    assert not PeppolParticipantId.parse("0060:x").deprecated


def test_peppol_factories() -> None:
    assert str(PeppolParticipantId.for_oin(OIN(LOGIUS_OIN))) == "0190:" + LOGIUS_OIN
    assert str(PeppolParticipantId.for_kvk(KvKNumber("27348325"))) == "0106:27348325"
    assert str(PeppolParticipantId.for_vat(VATNumber(OLD_VAT))) == "9944:" + OLD_VAT
    assert str(PeppolParticipantId.for_gln(GLN(VALID_GLN))) == "0088:" + VALID_GLN


def test_peppol_ids_are_hashable_and_ordered() -> None:
    a = PeppolParticipantId("0106", "27348325")
    b = PeppolParticipantId.parse("0190:" + LOGIUS_OIN)
    assert {a, PeppolParticipantId.parse("0106:27348325")} == {a}
    assert sorted([b, a]) == [a, b]


# --- conversions ---------------------------------------------------------------------


def test_kvk_to_oin_to_peppol() -> None:
    kvk = KvKNumber("27348325")
    oin = kvk.to_oin()
    assert oin == OIN(KVK_OIN)
    assert oin.kvk == kvk
    assert str(oin.to_peppol()) == "0190:" + KVK_OIN
    assert str(kvk.to_peppol()) == "0106:27348325"


def test_kvk_to_oin_with_suffix() -> None:
    assert str(KvKNumber("27348325").to_oin("0001")) == "00000003273483250001"


@pytest.mark.parametrize("suffix", ["000", "00000", "00a0", ""])
def test_kvk_to_oin_rejects_bad_suffix(suffix: str) -> None:
    exc = error_of(KvKNumber("27348325").to_oin, suffix)
    assert exc.reason == f"OIN suffix must be 4 digits, got {suffix!r}"


def test_vat_and_gln_to_peppol() -> None:
    assert str(VATNumber("nl 003227522 b01").to_peppol()) == "9944:NL003227522B01"
    assert str(GLN(VALID_GLN).to_peppol()) == "0088:" + VALID_GLN


# --- parse_identifier ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "value", "expected"),
    [
        ("OIN", LOGIUS_OIN, OIN(LOGIUS_OIN)),
        ("KvK", "27348325", KvKNumber("27348325")),
        ("KVK", "27348325", KvKNumber("27348325")),
        ("Vest", "000012345678", Vestigingsnummer("000012345678")),
        ("BTW", OLD_VAT, VATNumber(OLD_VAT)),
        ("BSN", "123456782", BSN("123456782")),
        ("Fi", "003182447", FiNummer("003182447")),
        ("RSIN", "003227522", RSIN("003227522")),
        ("0190", LOGIUS_OIN, OIN(LOGIUS_OIN)),
        ("0106", "27348325", KvKNumber("27348325")),
        ("9944", OLD_VAT, VATNumber(OLD_VAT)),
        ("0088", VALID_GLN, GLN(VALID_GLN)),
        ("9954", LOGIUS_OIN, OIN(LOGIUS_OIN)),
        (" oin ", LOGIUS_OIN, OIN(LOGIUS_OIN)),
        ("GLN", VALID_GLN, GLN(VALID_GLN)),
    ],
)
def test_parse_identifier(scheme: str, value: str, expected: object) -> None:
    result = parse_identifier(scheme, value)
    assert result == expected
    assert type(result) is type(expected)


def test_parse_identifier_validates_the_value() -> None:
    assert error_of(parse_identifier, "Fi", "123456789").reason == "fails the 11-test"


def test_parse_identifier_unknown_scheme_lists_known_ones() -> None:
    exc = error_of(parse_identifier, "DUNS", "123")
    assert exc.value == "DUNS"
    assert "unknown scheme" in exc.reason
    for name in ["OIN", "KvK", "Vest", "BTW", "BSN", "Fi", "0190", "0106", "9944", "0088"]:
        assert name in exc.reason


# --- value-object behaviour ----------------------------------------------------------


def test_identifiers_are_frozen_hashable_and_ordered() -> None:
    oin = OIN(LOGIUS_OIN)
    with pytest.raises(AttributeError):
        oin.value = RSIN_OIN  # type: ignore[misc]
    assert {oin, OIN(" " + LOGIUS_OIN)} == {oin}
    assert sorted([OIN(LOGIUS_OIN), OIN(RSIN_OIN)]) == [OIN(RSIN_OIN), OIN(LOGIUS_OIN)]


# --- property tests ------------------------------------------------------------------


def test_single_substitutions_change_the_check_sums() -> None:
    # The mutation tests below rely on this: changing one digit by delta
    # (-9..9, not 0) moves the weighted sum by weight * delta, so the check
    # catches every such change exactly when that product is never a multiple
    # of the modulus.
    deltas = [d for d in range(-9, 10) if d]
    assert all((w * d) % 11 for w in ELEVEN_TEST_WEIGHTS for d in deltas)
    assert all((w * d) % 10 for w in (1, 3) for d in deltas)


@st.composite
def eleven_test_numbers(draw: st.DrawFn) -> str:
    first8 = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    check = eleven_test_sum(first8 + "0") % 11
    assume(check != 10)  # no digit completes this prefix
    number = first8 + str(check)
    assume(number != "000000000")
    assert eleven_test_sum(number) % 11 == 0
    return number


@st.composite
def glns(draw: st.DrawFn) -> str:
    first12 = draw(st.text(alphabet="0123456789", min_size=12, max_size=12))
    return first12 + gln_check_digit(first12)


@st.composite
def one_digit_changed(draw: st.DrawFn, number: str) -> str:
    position = draw(st.integers(min_value=0, max_value=len(number) - 1))
    new = draw(st.sampled_from([d for d in "0123456789" if d != number[position]]))
    return number[:position] + new + number[position + 1 :]


@given(eleven_test_numbers())
def test_eleven_test_numbers_are_accepted(number: str) -> None:
    assert RSIN(number).value == number
    assert BSN(number).value == number
    assert FiNummer(number).value == number
    assert OIN("00000001" + number + "000").rsin == RSIN(number)


@given(st.data(), eleven_test_numbers())
def test_eleven_test_detects_single_digit_errors(data: st.DataObject, number: str) -> None:
    mutated = data.draw(one_digit_changed(number))
    for make in (RSIN, BSN, FiNummer):
        with pytest.raises(InvalidIdentifier):
            make(mutated)
    with pytest.raises(InvalidIdentifier):
        OIN("00000001" + mutated + "000")


@given(glns())
def test_glns_are_accepted(gln: str) -> None:
    assert GLN(gln).value == gln
    assert PeppolParticipantId("0088", gln).value == gln


@given(st.data(), glns())
def test_gln_detects_single_digit_errors(data: st.DataObject, gln: str) -> None:
    mutated = data.draw(one_digit_changed(gln))
    with pytest.raises(InvalidIdentifier, match="check digit"):
        GLN(mutated)


@given(eleven_test_numbers(), st.integers(min_value=1, max_value=99))
def test_old_style_vat_numbers_are_accepted(number: str, sequence: int) -> None:
    vat = f"NL{number}B{sequence:02d}"
    assert VATNumber(vat).value == vat


@given(st.text(alphabet="0123456789", min_size=9, max_size=9).filter(lambda s: s != "0" * 9))
def test_new_style_vat_numbers_are_accepted(number: str) -> None:
    # Choose the two digits after B so the whole number is 1 mod 97. No
    # rejection test: a changed digit can still leave a valid 11-test number.
    base = mod97_value(f"NL{number}B00")
    sequence = (1 - base) % 97 or 97
    vat = f"NL{number}B{sequence:02d}"
    assert mod97_value(vat) % 97 == 1
    assert VATNumber(vat).value == vat


_SEPARATORS = st.sampled_from([" ", ".", "-", "  ", "\t"])


@st.composite
def with_separators(draw: st.DrawFn, text: str) -> str:
    return "".join(char + draw(st.one_of(st.just(""), _SEPARATORS)) for char in text)


@given(st.data(), eleven_test_numbers())
def test_separators_do_not_change_the_value(data: st.DataObject, number: str) -> None:
    assert BSN(data.draw(with_separators(number))) == BSN(number)
    oin = "00000001" + number + "000"
    assert OIN(data.draw(with_separators(oin))) == OIN(oin)
    vat = f"NL{number}B01"
    assert VATNumber(data.draw(with_separators(vat.lower()))) == VATNumber(vat)


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_any_kvk_number_converts_to_oin_and_peppol(kvk: str) -> None:
    oin = KvKNumber(kvk).to_oin()
    assert oin.kvk == KvKNumber(kvk)
    assert PeppolParticipantId.parse(str(oin.to_peppol())) == oin.to_peppol()


def test_every_checked_scheme_but_the_legacy_one_is_on_the_eas_list() -> None:
    from gateway.identifiers import _EAS_CODES, _PEPPOL_SCHEMES

    assert len(_EAS_CODES) == 92
    assert {code for code, scheme in _PEPPOL_SCHEMES.items() if not scheme.deprecated} <= _EAS_CODES
    assert "9954" not in _EAS_CODES


@pytest.mark.parametrize(
    ("text", "same"),
    [
        (LOGIUS_OIN, True),
        ("0000 0004 0032 1434 5001", True),
        ("00000004.003214345.001", True),
        (RSIN_OIN, False),
        ("not an OIN", False),
        ("", False),
    ],
)
def test_oin_same_as(text: str, same: bool) -> None:
    assert OIN(LOGIUS_OIN).same_as(text) is same


@pytest.mark.parametrize(
    ("scheme", "expected"),
    [
        ("0190", True),
        ("9954", True),
        ("OIN", True),
        (" oin ", True),
        ("0106", False),
        ("KvK", False),
        ("XXX", False),
        ("", False),
    ],
)
def test_is_oin_scheme(scheme: str, expected: bool) -> None:
    assert is_oin_scheme(scheme) is expected


@pytest.mark.parametrize(
    ("scheme", "code"),
    [
        ("OIN", "0190"),
        ("9954", "0190"),
        ("0190", "0190"),
        ("KvK", "0106"),
        ("btw", "9944"),
        ("GLN", "0088"),
        ("Vest", None),
        ("BSN", None),
        ("XXX", None),
    ],
)
def test_eas_code(scheme: str, code: str | None) -> None:
    assert eas_code(scheme) == code
