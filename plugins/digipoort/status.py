"""What a Digipoort status code means for the message it belongs to.

Digipoort walks every aanlevering through numbered statuses (domain.md 3.4).
Each one becomes a ``status`` event on the message's timeline with
Digipoort's own code and words; this module decides what the core should read
into it. 400 (delivered to the agency) and 500 (the agency validated it) move
the business state; the error codes say the document never reached the agency
in a usable form, so the message goes to the dead letter with Digipoort's
reason, including its ``statusdetails`` (which validation rule failed, why the
agency refused). 420 is Digipoort still trying to deliver (for 72 hours): only
420 with AFS600, its last word, is a failure.

Two reports are our own, for a process Digipoort says nothing new about
within the channel's ``status_deadline``: ``no-status`` fails a message that
has not reached the agency, and ``polling-stopped`` notes on a message
delivered to the agency that nobody asks about it any more.
"""

from __future__ import annotations

from gateway.channels import StatusReport
from gateway.durations import spoken
from gateway.store import BusinessState

from .wus.koppelvlak import StatusResultaat

DELIVERED = "400"
ACKNOWLEDGED = "500"
# The process ends and the document did not arrive (or was refused) at the agency.
FAILED = frozenset({"210", "230", "311", "321", "410"})
# 420's last word after 72 hours of delivery attempts.
GIVEN_UP = "AFS600"
NO_STATUS = "no-status"
POLLING_STOPPED = "polling-stopped"
# How much of Digipoort's statusdetails a failure's text (the dead letter's reason) quotes;
# the status event keeps them whole.
DETAILS_IN_TEXT = 500


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
            code=code, text=_failure_text(code, text, foutcode, foutbeschrijving, details),
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
                  foutbeschrijving: str | None, details: str | None) -> str:
    parts = [f"Digipoort status {code}"]
    if text:
        parts.append(text)
    if foutcode:
        parts.append(f"{foutcode}: {foutbeschrijving}" if foutbeschrijving else foutcode)
    # For 311 and 410 the code and its text only say that validation failed or the
    # agency refused; statusdetails say which rule, or why. This text is what the
    # operator reads (last_error, the dead letter), so it quotes them: on one line,
    # and short enough for a reason (the status event's detail keeps them whole).
    quoted = _quoted(details)
    if quoted:
        parts.append(quoted)
    return " - ".join(parts)


def _quoted(details: str | None) -> str:
    """``details`` with its whitespace collapsed, at most DETAILS_IN_TEXT characters."""
    flat = " ".join((details or "").split())
    if len(flat) <= DETAILS_IN_TEXT:
        return flat
    return flat[: DETAILS_IN_TEXT - 1].rstrip() + "…"


def last_status(resultaat: StatusResultaat) -> str:
    """How an overdue report names the latest status Digipoort gave."""
    return (f"the last status was {resultaat.statuscode} {resultaat.statusomschrijving!r} "
            f"of {resultaat.tijdstempel_status.isoformat()}")


def overdue_report(kenmerk: str, delivered: bool, deadline: float, why: str) -> StatusReport:
    """The report for a process with no new status ``deadline`` seconds after the latest change.

    Not yet at the agency, the message fails (``no-status``): an operator can
    send it again. At the agency, only the agency's answer (500) is missing,
    which sending again cannot bring: the message keeps its state, and the
    report says why nothing more is asked.
    """
    silence = (f"no new status from Digipoort within {spoken(deadline)} of the send or the "
               f"latest status ({why})")
    if not delivered:
        return StatusReport(code=NO_STATUS, text=silence, transport_id=kenmerk, failed=True,
                            final=True, detail={"kenmerk": kenmerk})
    return StatusReport(
        code=POLLING_STOPPED, transport_id=kenmerk, final=True, detail={"kenmerk": kenmerk},
        text=f"{silence}; it reached the agency, so it stays delivered-to-agency, and "
             "Digipoort is not asked about it again")

