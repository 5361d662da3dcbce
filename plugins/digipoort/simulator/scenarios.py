"""The Aansluit Suite scenarios, chosen by the ``aanleverkenmerk`` of an aanlevering.

Logius' stub description ("wus-connection-test-stubs-final-1.0.pdf") was not
available to us, so what each scenario does below is OUR INTERPRETATION of its
name and of the published status and fault codes (domain.md 3.4 and 6). Any
other aanleverkenmerk is processed as ``Happyflow``. "Validation" below means
the payload is checked against the berichtsoort's format (XSD and Schematron):
an invalid payload ends in 311 with VAS500 in every scenario that reaches it.

- ``Happyflow``: 105, 100 (answered in the aanleverResponse), then one status per
  ``step_delay``: 110, 200, 301, 301, 405, 400, 500.
- ``AanleverFault``: aanleveren is answered with a SOAP fault ``ALS100``
  (final); no process is started.
- ``StatusInformatieFault``: aanleveren succeeds and the process walks the happy
  flow, but every StatusinformatieService call about its kenmerk is answered
  with the fault ``STS100``.
- ``Afleverfout``: 105, 100, 110, 200, 301, 301, 405, then 410 with ``AFS400``
  (final: delivery to the agency failed).
- ``Foutuitvragendepartij``: the happy flow up to 400 (delivered), then the
  agency rejects the message: 311 with ``VAS500`` and "afgewezen door de
  uitvragende partij" in statusdetails. Interpretation: 311/VAS500 is the code
  the issue suggests; a dedicated 5xx rejection code is not published.
- ``TechnischProbleemAfleveren``: ... 405, 420 (Digipoort keeps retrying), and
  after the 72 hours, compressed into ``redelivery_delay`` seconds, 420 with
  ``AFS600`` (final).
- ``MaximaalAantalAfleverpogingen``: ... then ``max_delivery_attempts`` times
  405 followed by 420, the last 420 carrying ``AFS600`` (final): the maximum
  number of delivery attempts was reached.
- ``ZwaarbelastAanleveren``: aanleveren answers only after ``slow_delay``
  seconds (heavily loaded, but successful), then the happy flow.
- ``OverbelastAanleveren``: the first ``overload_refusals`` aanleveringen with
  this aanleverkenmerk are refused with the retryable fault ``ALS400``
  ("overbelast"); the next one is accepted (so a client's retry succeeds) and
  the count starts again.
- ``ZwaarbelastStatusInformatie``: the happy flow; status calls about its
  kenmerk answer only after ``slow_delay`` seconds.
- ``OverbelastStatusInformatie``: the happy flow; the first ``overload_refusals``
  status calls about its kenmerk get HTTP 503 with Retry-After (overloaded,
  retryable), later calls are answered.
"""

from __future__ import annotations

from typing import Final

HAPPYFLOW: Final = "Happyflow"
AANLEVER_FAULT: Final = "AanleverFault"
STATUSINFORMATIE_FAULT: Final = "StatusInformatieFault"
AFLEVERFOUT: Final = "Afleverfout"
FOUT_UITVRAGENDE_PARTIJ: Final = "Foutuitvragendepartij"
TECHNISCH_PROBLEEM_AFLEVEREN: Final = "TechnischProbleemAfleveren"
MAXIMAAL_AANTAL_AFLEVERPOGINGEN: Final = "MaximaalAantalAfleverpogingen"
ZWAARBELAST_AANLEVEREN: Final = "ZwaarbelastAanleveren"
OVERBELAST_AANLEVEREN: Final = "OverbelastAanleveren"
ZWAARBELAST_STATUSINFORMATIE: Final = "ZwaarbelastStatusInformatie"
OVERBELAST_STATUSINFORMATIE: Final = "OverbelastStatusInformatie"

SCENARIOS: Final = (
    HAPPYFLOW,
    AANLEVER_FAULT,
    STATUSINFORMATIE_FAULT,
    AFLEVERFOUT,
    FOUT_UITVRAGENDE_PARTIJ,
    TECHNISCH_PROBLEEM_AFLEVEREN,
    MAXIMAAL_AANTAL_AFLEVERPOGINGEN,
    ZWAARBELAST_AANLEVEREN,
    OVERBELAST_AANLEVEREN,
    ZWAARBELAST_STATUSINFORMATIE,
    OVERBELAST_STATUSINFORMATIE,
)


def scenario_of(aanleverkenmerk: str | None) -> str:
    """The scenario an aanleverkenmerk selects (exact names); anything else is Happyflow."""
    return aanleverkenmerk if aanleverkenmerk in SCENARIOS else HAPPYFLOW
