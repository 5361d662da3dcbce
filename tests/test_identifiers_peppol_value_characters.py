"""A Peppol participant value holds no control or invisible characters: it goes into XML."""

from __future__ import annotations

import pytest
from test_config import BASE

from gateway.config import parse_config
from gateway.errors import ConfigError
from gateway.identifiers import InvalidIdentifier, PeppolParticipantId
from plugins.peppol.sbdh import wrap

PAYLOAD = (
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2" '
    b'xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">'
    b"<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>"
    b"<cbc:ProfileID>urn:fdc:peppol.eu:2017:poacc:billing:01:1.0</cbc:ProfileID></Invoice>"
)
RECEIVER = PeppolParticipantId("0190", "00000004003214345001")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x7f", "\u200b", "\ufeff"])
def test_control_and_invisible_characters_are_refused_by_name(char: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        PeppolParticipantId.parse(f"0060:ABC{char}123")
    assert repr(char) in caught.value.reason


def test_an_accepted_sender_can_be_put_in_an_sbdh() -> None:
    # Whatever the identifier accepts, the channel must be able to write.
    try:
        sender = PeppolParticipantId.parse("0060:ABC\x00123")
    except InvalidIdentifier:
        return
    wrap(PAYLOAD, sender=sender, receiver=RECEIVER)


def test_the_configuration_refuses_a_peppol_id_with_a_nul() -> None:
    text = BASE.replace('vestigingsnummer = "000012345678"\n',
                        'vestigingsnummer = "000012345678"\npeppol_id = "0060:ABC\\u0000123"\n', 1)
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "gateway.toml")
    assert "peppol_id" in str(caught.value)
