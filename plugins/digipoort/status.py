"""What a Digipoort status code means for the message it belongs to.

Digipoort walks every aanlevering through numbered statuses (domain.md 3.4).
Each one becomes a ``status`` event on the message's timeline with
Digipoort's own code and words; this module decides what the core should read
into it. 400 (delivered to the agency) and 500 (the agency validated it) move
the business state; the error codes say the document never reached the agency
in a usable form, so the message goes to the dead letter with Digipoort's
reason. 420 is Digipoort still trying to deliver (for 72 hours): only 420 with
AFS600, its last word, is a failure.
"""

from __future__ import annotations

from gateway.channels import StatusReport
from gateway.store import BusinessState

from .wus.koppelvlak import StatusResultaat

DELIVERED = "400"
ACKNOWLEDGED = "500"
# The process ends and the document did not arrive (or was refused) at the agency.
FAILED = frozenset({"210", "230", "311", "321", "410"})
# 420's last word after 72 hours of delivery attempts.
GIVEN_UP = "AFS600"


def report_for(resultaat: StatusResultaat) -> StatusReport:
    """The report for one StatusResultaat of a Digipoort process."""
    kenmerk, code = resultaat.kenmerk, resultaat.statuscode
    at, text = resultaat.tijdstempel_status, resultaat.statusomschrijving
    fout = resultaat.status_foutcode
    foutcode = None if fout is None else fout.foutcode
    foutbeschrijving = None if fout is None else fout.foutbeschrijving
    details = resultaat.statusdetails
    detail: dict[str, str] = {"kenmerk": kenmerk}
    if foutcode:
        detail["foutcode"] = foutcode
    if foutbeschrijving:
        detail["foutbeschrijving"] = foutbeschrijving
    if details:
        detail["statusdetails"] = details
    failed = code in FAILED or (code == "420" and foutcode == GIVEN_UP)
    if failed:
        return StatusReport(
            code=code, text=_failure_text(code, text, foutcode, foutbeschrijving),
            transport_id=kenmerk, failed=True, final=True, at=at, detail=detail)
    if code == DELIVERED:
        return StatusReport(code=code, text=text, transport_id=kenmerk, at=at, detail=detail,
                            business_state=BusinessState.DELIVERED_TO_AGENCY.value)
    if code == ACKNOWLEDGED:
        return StatusReport(code=code, text=text, transport_id=kenmerk, at=at, detail=detail,
                            business_state=BusinessState.ACKNOWLEDGED.value, final=True)
    # Steps on the way (105, 100, 110, 200, 301, 405, 420 without AFS600) and codes no
    # source documents: an event on the timeline; the poller asks again.
    return StatusReport(code=code, text=text, transport_id=kenmerk, at=at, detail=detail)


def _failure_text(code: str, text: str, foutcode: str | None,
                  foutbeschrijving: str | None) -> str:
    parts = [f"Digipoort status {code}"]
    if text:
        parts.append(text)
    if foutcode:
        parts.append(f"{foutcode}: {foutbeschrijving}" if foutbeschrijving else foutcode)
    return " - ".join(parts)

