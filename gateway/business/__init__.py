"""Business logic over the canonical model: answers, quotations and invoices built from
what the agency sent.

Pure functions: they read canonical documents and return new ones, so every
format and channel shares one set of rules and the formats only translate.
"""

from gateway.business.errors import (
    BusinessError,
    MissingLineData,
    ProposalNotSendable,
    UnknownLines,
)
from gateway.business.invoicing import invoice_from_order, invoice_from_timecards
from gateway.business.proposals import (
    AWAITING_DECISION,
    ProposalDecision,
    ProposalOutcome,
    accept_proposal,
    ensure_not_proposal,
    received_state,
    record_acceptance,
    reject_proposal,
)
from gateway.business.quotes import quotation_from_rfq
from gateway.business.responses import LineChange, accept_all, accept_with_changes, reject

__all__ = [
    "AWAITING_DECISION",
    "BusinessError",
    "LineChange",
    "MissingLineData",
    "ProposalDecision",
    "ProposalNotSendable",
    "ProposalOutcome",
    "UnknownLines",
    "accept_all",
    "accept_proposal",
    "accept_with_changes",
    "ensure_not_proposal",
    "invoice_from_order",
    "invoice_from_timecards",
    "quotation_from_rfq",
    "received_state",
    "record_acceptance",
    "reject",
    "reject_proposal",
]
