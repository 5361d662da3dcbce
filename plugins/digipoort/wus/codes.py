"""Digipoort status codes and fault codes (domain.md 3.4).

Texts of ALS110..ALS170 are not published in a source we could read; the
descriptions below for those codes are our reading of the Logius list and are
marked as such. What matters to a caller is ``retryable``: the ALS1xx codes
say the request itself is wrong, so sending it again cannot help; ALS400 and
the overload cases are technical and a later retry can succeed.
"""

from __future__ import annotations

from typing import Final

import attrs


@attrs.frozen
class Status:
    code: str
    meaning: str
    terminal: bool
    success: bool = False


@attrs.frozen
class FaultCode:
    code: str
    text: str
    retryable: bool


STATUSES: Final = {
    s.code: s
    for s in (
        Status("105", "Aanleverproces gestart", False),
        Status("100", "Aanleveren gelukt", False),
        Status("110", "Aanleverproces wordt aangeboden", False),
        Status("200", "Authenticatie gelukt", False),
        Status("210", "Authenticatie niet gelukt", True),
        Status("230", "Technisch probleem bij de AuSP", True),
        Status("301", "Validatie gelukt", False),
        Status("311", "Validatie niet gelukt", True),
        Status("321", "Technisch probleem bij validatie", True),
        Status("405", "Afleveren naar uitvragende partij bezig", False),
        Status("400", "Afleveren uitvragende partij gelukt", False),
        Status("410", "Afleveren uitvragende partij niet gelukt", True),
        # 420 is terminal only when it carries AFS600 (after 72 h of retries).
        Status("420", "Technisch probleem afleverservice uitvragende partij", False),
        Status("500", "Validatie bij de uitvragende partij gelukt", True, success=True),
    )
}

HAPPY_FLOW: Final = ("105", "100", "110", "200", "301", "301", "405", "400", "500")

FAULTS: Final = {
    f.code: f
    for f in (
        FaultCode("ALS100", "Het verzoek voldoet niet aan de koppelvlakspecificaties", False),
        # ALS110..ALS170: meanings unconfirmed in public sources; our reading.
        FaultCode("ALS110", "De berichtsoort is onbekend", False),
        FaultCode("ALS120", "De identiteit van de belanghebbende is ongeldig", False),
        FaultCode("ALS130", "De rol van de belanghebbende is ongeldig", False),
        FaultCode("ALS140", "Het bericht is te groot", False),
        FaultCode("ALS150", "Het autorisatieadres is ongeldig", False),
        FaultCode("ALS160", "De aanleverende partij is niet geautoriseerd", False),
        FaultCode("ALS170", "Het aanleverkenmerk is al eerder gebruikt", False),
        FaultCode("ALS400", "Er is een technische fout opgetreden", True),
        FaultCode("STS100", "De statusinformatie kan niet worden opgevraagd", True),
        FaultCode("AFS400", "Afleveren naar de uitvragende partij is niet gelukt", False),
        FaultCode("AFO100", "De ontvanger heeft het bericht niet geaccepteerd", False),
        FaultCode(
            "AFS600", "Afleveren na 72 uur herhaalde pogingen definitief niet gelukt", False
        ),
        FaultCode("VAS400", "Technisch probleem bij validatie", True),
        FaultCode("VAS500", "Het bericht voldoet niet aan de validatieregels", False),
    )
}


def is_terminal(code: str, foutcode: str | None = None) -> bool:
    """Whether a status ends the process (420 only with AFS600)."""
    if code == "420":
        return foutcode == "AFS600"
    status = STATUSES.get(code)
    return status.terminal if status is not None else False


def meaning(code: str) -> str:
    status = STATUSES.get(code)
    return status.meaning if status is not None else f"onbekende status {code}"


def fault_text(code: str) -> str:
    fault = FAULTS.get(code)
    return fault.text if fault is not None else f"onbekende foutcode {code}"


def retryable(foutcode: str) -> bool:
    """Whether sending again may help; unknown codes are treated as final."""
    fault = FAULTS.get(foutcode)
    return fault.retryable if fault is not None else False
