"""Proposal invoices (voorstelfacturen): accepted as the supplier's own invoice, or rejected."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from gateway.business import (
    AWAITING_DECISION,
    BusinessError,
    ProposalDecision,
    ProposalNotSendable,
    ProposalOutcome,
    accept_proposal,
    ensure_not_proposal,
    received_state,
    record_acceptance,
    reject_proposal,
)
from gateway.model import (
    DocumentReference,
    FieldValueError,
    Invoice,
    InvoiceType,
    VatCategory,
    VatExemption,
)
from gateway.model.samples import example_credit_note, example_invoice

D = Decimal
DAY = dt.date(2024, 3, 5)


def proposal(invoice: Invoice | None = None, code: str = "VD") -> Invoice:
    return attrs.evolve(invoice or example_invoice(), proposal=True, type_code=code,
                        received_date=dt.date(2024, 3, 2))


def test_accepting_issues_the_suppliers_own_invoice_with_the_same_content() -> None:
    offered = proposal()
    invoice = accept_proposal(offered, number="F2024-0100", issue_date=DAY)
    assert (invoice.number, invoice.issue_date, invoice.proposal) == ("F2024-0100", DAY, False)
    assert (invoice.type, invoice.type_code, invoice.received_date) == (
        InvoiceType.DEBIT, None, None)
    assert invoice.lines == offered.lines
    assert invoice.tax_breakdown == offered.tax_breakdown
    assert invoice.totals == offered.totals
    assert invoice.arithmetic_errors() == []
    for name in ("order_reference", "buyer_reference", "seller", "buyer", "delivery",
                 "invoice_period", "payment_means", "due_date", "allowance_charges",
                 "attachments", "last_invoice_on_order"):
        assert getattr(invoice, name) == getattr(offered, name), name
    assert invoice.other_references == (
        DocumentReference(id="F2024-0001", issue_date=dt.date(2024, 3, 1),
                          description="Voorstelfactuur"),
    )
    ensure_not_proposal(invoice)


def test_a_credit_proposal_becomes_a_credit_note() -> None:
    offered = proposal(example_credit_note(), "VC")
    credit = accept_proposal(offered, number="C2024-0001", issue_date=DAY)
    assert credit.is_credit
    assert credit.billing_references == offered.billing_references
    assert credit.totals.payable == offered.totals.payable


def test_exemption_reasons_survive_the_recomputation() -> None:
    line = attrs.evolve(example_invoice().lines[0], vat_category=VatCategory.EXEMPT,
                        vat_rate=D("0"))
    exempt = Invoice.build(
        **{name: getattr(example_invoice(), name)
           for name in ("number", "issue_date", "type", "currency", "seller", "buyer")},
        lines=(line,),
        vat_exemptions={
            VatCategory.EXEMPT: VatExemption(reason="Vrijgesteld", code="VATEX-EU-132")},
    )
    invoice = accept_proposal(proposal(exempt), number="F-2", issue_date=DAY)
    [subtotal] = invoice.tax_breakdown
    assert (subtotal.exemption_reason, subtotal.exemption_reason_code) == (
        "Vrijgesteld", "VATEX-EU-132")


def test_a_proposal_that_does_not_add_up_is_not_signed_off() -> None:
    offered = proposal()
    broken = attrs.evolve(offered, totals=attrs.evolve(offered.totals,
                                                       payable=offered.totals.payable + 1))
    with pytest.raises(BusinessError, match=r"does not add up.*BR-CO-16"):
        accept_proposal(broken, number="F-3", issue_date=DAY)


def test_only_a_proposal_can_be_decided_on() -> None:
    with pytest.raises(BusinessError, match="not a proposal invoice"):
        accept_proposal(example_invoice(), number="F-4", issue_date=DAY)
    with pytest.raises(BusinessError, match="not a proposal invoice"):
        reject_proposal(example_invoice(), "te hoog")


def test_rejecting_gives_the_erp_a_record() -> None:
    decision = reject_proposal(proposal(), "uren kloppen niet")
    assert decision == ProposalDecision(
        proposal_number="F2024-0001", proposal_issue_date=dt.date(2024, 3, 1),
        outcome=ProposalOutcome.REJECTED, reason="uren kloppen niet",
    )
    with pytest.raises(BusinessError, match="reason"):
        reject_proposal(proposal(), " ")


def test_accepting_gives_the_erp_a_record_naming_the_invoice() -> None:
    offered = proposal()
    invoice = accept_proposal(offered, number="F2024-0100", issue_date=DAY)
    assert record_acceptance(offered, invoice) == ProposalDecision(
        proposal_number="F2024-0001", proposal_issue_date=dt.date(2024, 3, 1),
        outcome=ProposalOutcome.ACCEPTED, invoice_number="F2024-0100",
    )


def test_a_decision_is_complete() -> None:
    with pytest.raises(FieldValueError, match="invoice_number"):
        ProposalDecision(proposal_number="P", proposal_issue_date=DAY,
                         outcome=ProposalOutcome.ACCEPTED)
    with pytest.raises(FieldValueError, match="reason"):
        ProposalDecision(proposal_number="P", proposal_issue_date=DAY,
                         outcome=ProposalOutcome.REJECTED)


def test_a_proposal_is_never_sent() -> None:
    ensure_not_proposal(example_invoice())
    with pytest.raises(ProposalNotSendable, match="F2024-0001 is a proposal invoice"):
        ensure_not_proposal(proposal())


def test_a_received_proposal_awaits_a_decision() -> None:
    assert received_state(proposal()) == AWAITING_DECISION == "awaiting-decision"
    assert received_state(example_invoice()) is None
    assert received_state(example_credit_note()) is None
