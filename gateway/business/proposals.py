"""Proposal invoices (voorstelfacturen): the agency drafts, the supplier decides.

An agency may draw up the invoice it expects (OHNL type code VD, or VC for a
credit note). It is a question to the supplier, never an invoice the supplier
sent: accepting it means issuing the supplier's own invoice under the
supplier's own number; rejecting it is a record for the ERP, since no
electronic reply message ever existed (ReactieVoorstelFactuur).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import attrs

from gateway.business.errors import BusinessError, ProposalNotSendable
from gateway.model import DocumentReference, Invoice, Record, VatExemption

PROPOSAL_REFERENCE = "Voorstelfactuur"
# The business state of a received proposal: a question for the supplier, not a bill.
AWAITING_DECISION = "awaiting-decision"


class ProposalOutcome(enum.StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


@attrs.frozen(kw_only=True)
class ProposalDecision(Record):
    """The supplier's decision on one proposal invoice, named by number and issue date.

    ``invoice_number`` is the supplier's own invoice for an accepted
    proposal, ``reason`` why a proposal was rejected.
    """

    proposal_number: str
    proposal_issue_date: dt.date
    outcome: ProposalOutcome
    invoice_number: str | None = None
    reason: str | None = None

    def _check(self) -> None:
        if self.outcome is ProposalOutcome.ACCEPTED and self.invoice_number is None:
            raise self._fail("invoice_number", "an accepted proposal becomes an invoice")
        if self.outcome is ProposalOutcome.REJECTED and self.reason is None:
            raise self._fail("reason", "a rejection needs a reason")


def received_state(document: object) -> str | None:
    """The business state a received document starts in: a proposal awaits a decision."""
    if isinstance(document, Invoice) and document.proposal:
        return AWAITING_DECISION
    return None


def ensure_not_proposal(invoice: Invoice) -> None:
    """Refuse to send a proposal invoice as if it were the supplier's own."""
    if invoice.proposal:
        raise ProposalNotSendable(
            f"invoice {invoice.number} is a proposal invoice (voorstelfactuur) drawn up by "
            "the agency; it cannot be sent. Accept it to issue your own invoice "
            "(gateway.business.proposals.accept_proposal) or reject it"
        )


def accept_proposal(proposal: Invoice, *, number: str, issue_date: dt.date) -> Invoice:
    """The supplier's own invoice or credit note for ``proposal``, with its lines and references.

    The totals are computed again from the copied lines, so a proposal whose
    stated amounts do not add up is refused rather than signed off.
    """
    _require_proposal(proposal)
    errors = proposal.arithmetic_errors()
    if errors:
        details = "; ".join(f"{e.rule}: {e.message}" for e in errors)
        raise BusinessError(
            f"proposal invoice {proposal.number} does not add up ({details}); reject it"
        )
    fields: dict[str, Any] = attrs.asdict(proposal, recurse=False)
    # Totals are recomputed; VD/VC and the date received describe the proposal, and
    # copied they would turn the supplier's invoice back into one.
    for taken in ("totals", "tax_breakdown", "received_date", "type_code"):
        del fields[taken]
    exemptions = {
        s.category: VatExemption(reason=s.exemption_reason, code=s.exemption_reason_code)
        for s in proposal.tax_breakdown
        if s.exemption_reason is not None or s.exemption_reason_code is not None
    }
    fields.update(
        number=number,
        issue_date=issue_date,
        proposal=False,
        prepaid=proposal.totals.prepaid,
        rounding=proposal.totals.rounding,
        vat_exemptions=exemptions,
        other_references=(
            *proposal.other_references,
            DocumentReference(
                id=proposal.number, issue_date=proposal.issue_date,
                description=PROPOSAL_REFERENCE,
            ),
        ),
    )
    return Invoice.build(**fields)


def record_acceptance(proposal: Invoice, invoice: Invoice) -> ProposalDecision:
    """The record that ``proposal`` was accepted by issuing ``invoice``."""
    _require_proposal(proposal)
    return ProposalDecision(
        proposal_number=proposal.number, proposal_issue_date=proposal.issue_date,
        outcome=ProposalOutcome.ACCEPTED, invoice_number=invoice.number,
    )


def reject_proposal(proposal: Invoice, reason: str) -> ProposalDecision:
    """The record that ``proposal`` is rejected, for the ERP to follow up."""
    _require_proposal(proposal)
    if not reason.strip():
        raise BusinessError("a rejection needs a reason the agency can act on")
    return ProposalDecision(
        proposal_number=proposal.number, proposal_issue_date=proposal.issue_date,
        outcome=ProposalOutcome.REJECTED, reason=reason,
    )


def _require_proposal(invoice: Invoice) -> None:
    if not invoice.proposal:
        raise BusinessError(
            f"invoice {invoice.number} is not a proposal invoice; there is nothing to decide"
        )
