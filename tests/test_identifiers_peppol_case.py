"""A Peppol participant id's value is case-insensitive: two spellings are one participant.

The Peppol Policy for use of Identifiers says so, and an SMP lower-cases the value before
hashing it for the lookup. The value is still kept as written: it is what goes on the wire.
"""

from __future__ import annotations

from test_config import BASE

from gateway.config import parse_config
from gateway.identifiers import OIN, PeppolParticipantId

# 9925 (Belgian VAT) is on the EAS list but not one whose values we check, so the value is
# kept exactly as given.
UPPER = "9925:BE0477472701"
LOWER = "9925:be0477472701"
MIXED = "iso6523-actorid-upis::9925:Be0477472701"


def test_ids_differing_only_in_case_are_equal_and_hash_alike() -> None:
    upper, lower, mixed = (PeppolParticipantId.parse(t) for t in (UPPER, LOWER, MIXED))
    assert upper == lower == mixed
    assert hash(upper) == hash(lower) == hash(mixed)
    assert len({upper, lower, mixed}) == 1
    assert {upper: "found"}.get(lower) == "found"
    assert not upper < lower, "one participant sorts as one"
    assert not lower < upper, "one participant sorts as one"


def test_the_value_is_kept_as_written() -> None:
    assert str(PeppolParticipantId.parse(LOWER)) == LOWER
    assert PeppolParticipantId.parse(UPPER).value == "BE0477472701"
    assert str(PeppolParticipantId.parse(MIXED)) == "9925:Be0477472701"


def test_the_scheme_and_other_values_still_tell_participants_apart() -> None:
    assert PeppolParticipantId.parse(UPPER) != PeppolParticipantId.parse("9925:BE0477472702")
    # 9957 is another scheme with the same value: another participant.
    assert PeppolParticipantId.parse(UPPER) != PeppolParticipantId.parse("9957:BE0477472701")


def test_two_agencies_whose_peppol_ids_differ_in_case_name_one_participant() -> None:
    second = "00000001001172773000"
    text = BASE.replace(
        'fallback_channel = "portal"\n',
        f'fallback_channel = "portal"\npeppol_id = "{UPPER}"\n', 1,
    ) + f'\n[agencies."{second}"]\nname = "Ministerie van Proef"\npeppol_id = "{LOWER}"\n'
    config = parse_config(text, "gateway.toml")
    first_id = config.agencies[OIN("00000001003214345000")].peppol_id
    second_id = config.agencies[OIN(second)].peppol_id
    assert first_id == second_id
    assert len({agency.peppol_id for agency in config.agencies.values()}) == 1
    # Each is still sent as its agency's entry writes it.
    assert (str(first_id), str(second_id)) == (UPPER, LOWER)
