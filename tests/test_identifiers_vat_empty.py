"""An empty VAT number is reported as empty."""

from __future__ import annotations

import pytest

from gateway.identifiers import InvalidIdentifier, PeppolParticipantId, VATNumber


@pytest.mark.parametrize("text", ["", "   ", " - . "])
def test_an_empty_vat_number_is_called_empty(text: str) -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        VATNumber(text)
    assert caught.value.reason.startswith("is empty")


def test_an_empty_9944_value_is_called_empty() -> None:
    with pytest.raises(InvalidIdentifier) as caught:
        PeppolParticipantId.parse("9944: ")
    assert "is empty" in caught.value.reason
