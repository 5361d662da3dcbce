"""Invoices and credit notes, their lines and totals, and the EN 16931 total rules.

One class holds both: an :class:`Invoice` with ``type`` :attr:`InvoiceType.CREDIT`
is a credit note. Amounts on a credit note are written as the credit note
shows them (positive for money going back to the buyer), as in UBL CreditNote,
OHNL type C and SETU ``Type`` Credit; the sign lives in ``type``.

Totals and the VAT breakdown are stored, so an invoice decoded from outside is
held exactly as received. :meth:`Invoice.build` computes them for an invoice
the gateway makes; :meth:`Invoice.arithmetic_errors` reports where stored
totals disagree with the rules.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal, DecimalException
from typing import Any, NamedTuple

import attrs

from gateway.model.common import (
    Attachment,
    DocumentReference,
    OrderReference,
    Party,
    Period,
    Quantity,
)
from gateway.model.delivery import Delivery
from gateway.model.item import Item
from gateway.model.payment import PaymentMeans, PaymentTerms
from gateway.model.pricing import AllowanceCharge, Price
from gateway.model.record import FieldValueError, Record
from gateway.model.shape import AT_LEAST_ONE, CURRENCY_CODE, NON_NEGATIVE
from gateway.model.tax import (
    ZERO,
    TaxableAmount,
    TaxSubtotal,
    VatCategory,
    VatExemption,
    line_net_amount,
    round_amount,
    vat_amount,
    vat_breakdown,
    vat_key,
)


class InvoiceType(enum.StrEnum):
    """Debit (an ordinary invoice) or credit (a credit note)."""

    DEBIT = "debit"
    CREDIT = "credit"


class RuleViolation(NamedTuple):
    """A broken business rule: its id (e.g. ``BR-CO-10``) and what is wrong.

    ``path`` is where in the canonical JSON the stated value is
    (``totals.tax_inclusive``, ``lines[0].net_amount``), so that an ERP can
    point its user at the field to correct.
    """

    rule: str
    message: str
    path: str | None = None


def _computed_net_amount(line: InvoiceLine) -> Decimal:
    # attrs calls this inside __init__, before the field checks run; leave
    # wrong types to those checks, which name the field at fault.
    if not (
        isinstance(line.quantity, Quantity)
        and isinstance(line.price, Price)
        and isinstance(line.allowance_charges, tuple)
        and all(isinstance(a, AllowanceCharge) for a in line.allowance_charges)
    ):
        return ZERO
    return expected_line_net_amount(line)


@attrs.frozen(kw_only=True)
class InvoiceLine(Record):
    """One invoice line (EN 16931 BG-25).

    ``net_amount`` (BT-131) is computed from quantity, price and the line's
    allowances and charges when not given; a decoder passes the amount it
    read. Being stored, it does not follow later changes: ``attrs.evolve``
    keeps the old amount, :meth:`recomputed` computes it again.
    ``vat_amount`` is the line VAT some standards state (OHNL, SETU);
    EN 16931 has none. ``order_line_reference`` is the buyer's order line
    (BT-132; SETU PurchaseOrderLineItem), ``timecard_reference`` the SETU
    timecard the hours come from.
    """

    id: str
    quantity: Quantity
    price: Price
    allowance_charges: tuple[AllowanceCharge, ...] = ()
    net_amount: Decimal = attrs.field(
        default=attrs.Factory(_computed_net_amount, takes_self=True)
    )
    item: Item
    vat_category: VatCategory
    vat_rate: Decimal | None = attrs.field(default=None, metadata=NON_NEGATIVE)
    vat_amount: Decimal | None = None
    order_line_reference: str | None = None
    timecard_reference: str | None = None
    period: Period | None = None
    notes: tuple[str, ...] = ()
    accounting_cost: str | None = None

    def recomputed(self) -> InvoiceLine:
        """This line with its net amount computed from quantity, price and allowances."""
        return attrs.evolve(self, net_amount=expected_line_net_amount(self))


@attrs.frozen(kw_only=True)
class InvoiceTotals(Record):
    """The document totals (EN 16931 BG-22).

    ``allowance_total``, ``charge_total``, ``prepaid`` and ``rounding`` are
    None when the document does not state them; the rules count them as 0.
    """

    line_extension: Decimal
    allowance_total: Decimal | None = None
    charge_total: Decimal | None = None
    tax_exclusive: Decimal
    tax_total: Decimal
    tax_inclusive: Decimal
    prepaid: Decimal | None = None
    rounding: Decimal | None = None
    payable: Decimal


@attrs.frozen(kw_only=True)
class Invoice(Record):
    """An invoice or credit note, as any supported standard carries it.

    - ``type`` debit or credit; ``proposal`` marks a Dutch voorstelfactuur
      (OHNL type code VD/VC); ``type_code`` keeps the source's own code when it
      says more (EN 16931 380, 381, 384, 389, ...).
    - ``currency`` (BT-5) is the unit of every amount in the document;
      ``tax_currency`` (BT-6) and ``tax_total_in_tax_currency`` (BT-111) only
      when VAT is also accounted in another currency.
    - ``billing_references``: the invoices this one corrects; an OHNL credit
      note names the debit note here.
    - ``timecard_references``: the SETU timecards invoiced;
      ``despatch_references`` despatch advices (BT-16); ``receipt_reference``
      the receiving advice (BT-15); ``other_references`` supporting documents
      (BG-24), which may embed files.
    - ``attachments``: files that travel with the invoice without being a
      referenced document (OHNL envelope attachments, a PDF rendering).
    - ``payee`` (BG-10) when someone other than the seller is paid;
      ``tax_representative`` (BG-11).
    - ``last_invoice_on_order`` and ``received_date`` are OHNL extensions.
    """

    number: str
    issue_date: dt.date
    type: InvoiceType
    proposal: bool = False
    type_code: str | None = None
    currency: str = attrs.field(metadata=CURRENCY_CODE)
    tax_currency: str | None = attrs.field(default=None, metadata=CURRENCY_CODE)
    tax_point_date: dt.date | None = None
    due_date: dt.date | None = None
    buyer_reference: str | None = None
    order_reference: OrderReference | None = None
    billing_references: tuple[DocumentReference, ...] = ()
    contract_reference: str | None = None
    project_reference: str | None = None
    tender_reference: str | None = None
    receipt_reference: str | None = None
    timecard_references: tuple[str, ...] = ()
    despatch_references: tuple[str, ...] = ()
    other_references: tuple[DocumentReference, ...] = ()
    seller: Party
    buyer: Party
    payee: Party | None = None
    tax_representative: Party | None = None
    delivery: Delivery | None = None
    invoice_period: Period | None = None
    payment_means: tuple[PaymentMeans, ...] = ()
    payment_terms: PaymentTerms | None = None
    notes: tuple[str, ...] = ()
    accounting_cost: str | None = None
    attachments: tuple[Attachment, ...] = ()
    lines: tuple[InvoiceLine, ...] = attrs.field(metadata=AT_LEAST_ONE)
    allowance_charges: tuple[AllowanceCharge, ...] = ()
    tax_breakdown: tuple[TaxSubtotal, ...]
    totals: InvoiceTotals
    tax_total_in_tax_currency: Decimal | None = None
    last_invoice_on_order: bool | None = None
    received_date: dt.date | None = None

    @classmethod
    def build(
        cls,
        *,
        lines: tuple[InvoiceLine, ...],
        allowance_charges: tuple[AllowanceCharge, ...] = (),
        prepaid: Decimal | None = None,
        rounding: Decimal | None = None,
        vat_exemptions: Mapping[VatCategory, VatExemption] | None = None,
        **fields: Any,
    ) -> Invoice:
        """An invoice whose VAT breakdown and totals are computed by the EN 16931 rules.

        ``fields`` are the other :class:`Invoice` fields, except ``totals``
        and ``tax_breakdown``. Line net amounts are computed by
        :class:`InvoiceLine` when a line does not state one. ``prepaid`` and
        ``rounding`` go into the totals as given; ``vat_exemptions`` supplies
        the exemption reason per category (the lines do not carry one).
        Document-level allowances and charges need a VAT category.
        """
        for name in ("totals", "tax_breakdown"):
            if name in fields:
                raise TypeError(f"Invoice.build computes {name}; do not pass it")
        for i, ac in enumerate(allowance_charges):
            if ac.vat_category is None:
                rule = "BR-37" if ac.is_charge else "BR-32"
                raise FieldValueError(
                    "Invoice", f"allowance_charges[{i}].vat_category",
                    f"a document-level allowance or charge needs a VAT category ({rule})",
                )
        breakdown = vat_breakdown(_taxable_amounts(lines, allowance_charges), vat_exemptions)
        totals = compute_totals(
            lines, allowance_charges, breakdown, prepaid=prepaid, rounding=rounding
        )
        return cls(
            lines=lines,
            allowance_charges=allowance_charges,
            tax_breakdown=breakdown,
            totals=totals,
            **fields,
        )

    @property
    def is_credit(self) -> bool:
        """True for a credit note."""
        return self.type is InvoiceType.CREDIT

    def arithmetic_errors(self, *, slack: Decimal = ZERO) -> list[RuleViolation]:
        """Where the stored amounts disagree with the EN 16931 calculation rules.

        Checked: each line net amount (PEPPOL-EN16931-R120), BR-CO-10 to
        BR-CO-17, one breakdown per (category, rate) with the right taxable
        amount (BR-S-08, BR-Z-08, ...), document-level allowances and charges
        carrying a VAT category (BR-32, BR-37) and a non-empty breakdown
        (BR-CO-18).

        Comparisons are exact by default. The official validators allow some
        slack on R120 (0.02) and on BR-CO-17 and BR-x-08 (1.00); pass ``slack``
        to allow that much difference on those rules.
        """
        try:
            return _arithmetic_errors(self, slack)
        except DecimalException:
            # An amount beyond the default 28-digit context (hostile input, or a typo
            # in the ERP) makes quantize() raise InvalidOperation; say so instead of
            # letting a bare decimal error escape from every decoder and the intake.
            return [RuleViolation(
                "amount-range",
                "an amount, quantity or rate is too large to check the totals "
                "(more than 26 digits before the decimal point)",
            )]


def expected_line_net_amount(line: InvoiceLine) -> Decimal:
    """The net amount ``line`` should state: quantity x price / base + charges - allowances."""
    base = line.price.base_quantity
    return line_net_amount(
        line.quantity.value,
        line.price.amount,
        base_quantity=base.value if base is not None else None,
        allowances=[ac.amount for ac in line.allowance_charges if not ac.is_charge],
        charges=[ac.amount for ac in line.allowance_charges if ac.is_charge],
    )


def compute_totals(
    lines: Iterable[InvoiceLine],
    allowance_charges: Iterable[AllowanceCharge],
    breakdown: Iterable[TaxSubtotal],
    *,
    prepaid: Decimal | None = None,
    rounding: Decimal | None = None,
) -> InvoiceTotals:
    """The document totals of BR-CO-10 to BR-CO-16.

    The allowance and charge totals are left out (None) when the document has
    no allowances or charges, as UBL documents do.
    """
    allowance_charges = tuple(allowance_charges)
    allowances = [ac.amount for ac in allowance_charges if not ac.is_charge]
    charges = [ac.amount for ac in allowance_charges if ac.is_charge]
    line_extension = round_amount(sum((line.net_amount for line in lines), ZERO))
    allowance_total = round_amount(sum(allowances, ZERO)) if allowances else None
    charge_total = round_amount(sum(charges, ZERO)) if charges else None
    tax_exclusive = line_extension - (allowance_total or ZERO) + (charge_total or ZERO)
    tax_total = round_amount(sum((s.tax_amount for s in breakdown), ZERO))
    tax_inclusive = tax_exclusive + tax_total
    payable = tax_inclusive - (prepaid or ZERO) + (rounding or ZERO)
    return InvoiceTotals(
        line_extension=line_extension,
        allowance_total=allowance_total,
        charge_total=charge_total,
        tax_exclusive=tax_exclusive,
        tax_total=tax_total,
        tax_inclusive=tax_inclusive,
        prepaid=prepaid,
        rounding=rounding,
        payable=payable,
    )


def _taxable_amounts(
    lines: Iterable[InvoiceLine], allowance_charges: Iterable[AllowanceCharge]
) -> list[TaxableAmount]:
    amounts = [
        TaxableAmount(category=line.vat_category, rate=line.vat_rate, amount=line.net_amount)
        for line in lines
    ]
    for ac in allowance_charges:
        if ac.vat_category is not None:
            amount = ac.amount if ac.is_charge else -ac.amount
            amounts.append(
                TaxableAmount(category=ac.vat_category, rate=ac.vat_rate, amount=amount)
            )
    return amounts


def _arithmetic_errors(invoice: Invoice, slack: Decimal) -> list[RuleViolation]:
    errors: list[RuleViolation] = []

    def check(
        rule: str, stated: Decimal, expected: Decimal, what: str, path: str,
        tol: Decimal = ZERO,
    ) -> None:
        if abs(stated - expected) > tol:
            errors.append(
                RuleViolation(rule, f"{what} is {stated}, expected {expected}", path))

    for i, line in enumerate(invoice.lines):
        check(
            "PEPPOL-EN16931-R120", line.net_amount, expected_line_net_amount(line),
            f"net amount of line {line.id}", f"lines[{i}].net_amount", slack,
        )

    totals = invoice.totals
    allowances = [ac for ac in invoice.allowance_charges if not ac.is_charge]
    charges = [ac for ac in invoice.allowance_charges if ac.is_charge]
    allowance_total = totals.allowance_total or ZERO
    charge_total = totals.charge_total or ZERO
    check(
        "BR-CO-10", totals.line_extension,
        round_amount(sum((line.net_amount for line in invoice.lines), ZERO)),
        "sum of line net amounts (BT-106)", "totals.line_extension",
    )
    check(
        "BR-CO-11", allowance_total, round_amount(sum((a.amount for a in allowances), ZERO)),
        "sum of document allowances (BT-107)", "totals.allowance_total",
    )
    check(
        "BR-CO-12", charge_total, round_amount(sum((c.amount for c in charges), ZERO)),
        "sum of document charges (BT-108)", "totals.charge_total",
    )
    check(
        "BR-CO-13", totals.tax_exclusive,
        totals.line_extension - allowance_total + charge_total,
        "total without VAT (BT-109)", "totals.tax_exclusive",
    )
    check(
        "BR-CO-14", totals.tax_total,
        round_amount(sum((s.tax_amount for s in invoice.tax_breakdown), ZERO)),
        "total VAT (BT-110)", "totals.tax_total",
    )
    check(
        "BR-CO-15", totals.tax_inclusive, totals.tax_exclusive + totals.tax_total,
        "total with VAT (BT-112)", "totals.tax_inclusive",
    )
    check(
        "BR-CO-16", totals.payable,
        totals.tax_inclusive - (totals.prepaid or ZERO) + (totals.rounding or ZERO),
        "amount due (BT-115)", "totals.payable",
    )

    if not invoice.tax_breakdown:
        errors.append(
            RuleViolation("BR-CO-18", "the invoice has no VAT breakdown", "tax_breakdown"))
    for i, subtotal in enumerate(invoice.tax_breakdown):
        check(
            "BR-CO-17", subtotal.tax_amount, vat_amount(subtotal.taxable_amount, subtotal.rate),
            f"VAT of {_group_name(subtotal.category, subtotal.rate)}",
            f"tax_breakdown[{i}].tax_amount", slack,
        )

    for i, ac in enumerate(invoice.allowance_charges):
        if ac.vat_category is None:
            rule, kind = ("BR-37", "charge") if ac.is_charge else ("BR-32", "allowance")
            errors.append(RuleViolation(
                rule, f"document-level {kind} #{i + 1} has no VAT category",
                f"allowance_charges[{i}].vat_category",
            ))

    expected_groups: dict[tuple[VatCategory, Decimal], Decimal] = {}
    for amount in _taxable_amounts(invoice.lines, invoice.allowance_charges):
        key = vat_key(amount.category, amount.rate)
        expected_groups[key] = expected_groups.get(key, ZERO) + amount.amount
    stated_groups: dict[tuple[VatCategory, Decimal], Decimal] = {}
    # Where each group's (last) breakdown stands, to name the field at fault.
    stated_at: dict[tuple[VatCategory, Decimal], int] = {}
    for i, subtotal in enumerate(invoice.tax_breakdown):
        if subtotal.key in stated_groups:
            errors.append(RuleViolation(
                f"{subtotal.category.rule_prefix}-08",
                f"more than one VAT breakdown for {_group_name(*subtotal.key)}",
                f"tax_breakdown[{i}]",
            ))
        stated_groups[subtotal.key] = subtotal.taxable_amount
        stated_at[subtotal.key] = i
    for key, expected in expected_groups.items():
        rule = f"{key[0].rule_prefix}-08"
        if key not in stated_groups:
            errors.append(RuleViolation(
                rule, f"no VAT breakdown for {_group_name(*key)}, which lines or "
                "allowances/charges use", "tax_breakdown",
            ))
        else:
            check(
                rule, stated_groups[key], round_amount(expected),
                f"taxable amount of {_group_name(*key)}",
                f"tax_breakdown[{stated_at[key]}].taxable_amount", slack,
            )
    for key in stated_groups.keys() - expected_groups.keys():
        errors.append(RuleViolation(
            f"{key[0].rule_prefix}-08",
            f"VAT breakdown for {_group_name(*key)}, which no line or allowance/charge uses",
            f"tax_breakdown[{stated_at[key]}]",
        ))
    return errors


def _group_name(category: VatCategory, rate: Decimal | None) -> str:
    return f"category {category.value} at {rate if rate is not None else 0}%"
