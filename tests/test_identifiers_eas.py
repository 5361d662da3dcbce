"""A Peppol participant scheme must be on the EAS code list the Peppol BIS rules check."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_config import BASE

from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.identifiers import InvalidIdentifier, PeppolParticipantId

BIS_BILLING_SCH = Path(
    "/work/shared/standards/peppol-bis-billing-3/sch/PEPPOL-EN16931-UBL.sch")

# Valid values for the schemes whose values identifiers checks.
CHECKED_VALUES = {
    "0007": "1234567897",
    "0088": "8712345678906",
    "0106": "27348325",
    "0190": "00000004003214345001",
    "0192": "988077917",
    "0208": "0403019261",
    "9918": "NL91ABNA0417164300",
    "9944": "NL003227522B01",
}


def official_eas_codes() -> set[str]:
    """The value set Peppol BIS Billing 3 checks EndpointID/@schemeID against (CL008)."""
    if not BIS_BILLING_SCH.is_file():
        pytest.skip(f"{BIS_BILLING_SCH} is not present")
    found = re.search(r"name=\"eaid\" value=\"tokenize\('([^']*)'", BIS_BILLING_SCH.read_text())
    assert found is not None
    return set(found.group(1).split())


@pytest.mark.parametrize("scheme", ["0000", "9999", "1234", "0003", "9955"])
def test_a_scheme_off_the_eas_list_is_refused_by_name(scheme: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        PeppolParticipantId.parse(f"{scheme}:ABC123")
    assert scheme in caught.value.reason
    assert "EAS" in caught.value.reason


def test_every_code_on_the_official_list_is_accepted() -> None:
    for code in sorted(official_eas_codes()):
        value = CHECKED_VALUES.get(code, "ABC123")
        assert PeppolParticipantId(code, value).scheme == code


def test_no_other_four_digit_code_is_accepted_except_the_legacy_oin_scheme() -> None:
    listed = official_eas_codes() | {"9954"}
    accepted = []
    for number in range(10000):
        code = f"{number:04d}"
        if code in listed:
            continue
        try:
            PeppolParticipantId(code, "ABC123")
        except InvalidIdentifier:
            continue
        accepted.append(code)
    assert accepted == []


def test_the_legacy_oin_scheme_is_still_read_and_flagged() -> None:
    pid = PeppolParticipantId.parse("9954:00000004003214345001")
    assert pid.deprecated


def test_the_configuration_refuses_a_peppol_id_off_the_list() -> None:
    text = BASE.replace('vestigingsnummer = "000012345678"\n',
                        'vestigingsnummer = "000012345678"\npeppol_id = "9999:12345678"\n', 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "gateway.toml")
    assert "peppol_id" in str(caught.value)
    assert "9999" in str(caught.value)
