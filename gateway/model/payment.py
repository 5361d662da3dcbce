"""How and when an invoice is to be paid."""

from __future__ import annotations

import attrs

from gateway.model.record import Record


@attrs.frozen(kw_only=True)
class PaymentMeans(Record):
    """One way to pay (EN 16931 BG-16).

    ``code`` is UNCL 4461 (30 credit transfer, 58 SEPA credit transfer, 49
    direct debit, ...; NLCIUS allows 30, 48, 49, 57, 58, 59). ``account_id``
    is the payee's account, an IBAN in practice (BT-84), ``bic`` its bank
    (BT-86), ``payment_id`` the remittance reference the payer must quote
    (BT-83). For direct debit: ``mandate_reference`` (BT-89) and
    ``debited_account`` (BT-91).
    """

    code: str
    text: str | None = None
    account_id: str | None = None
    account_name: str | None = None
    bic: str | None = None
    payment_id: str | None = None
    mandate_reference: str | None = None
    debited_account: str | None = None


@attrs.frozen(kw_only=True)
class PaymentTerms(Record):
    """Payment terms in words (EN 16931 BT-20, OHNL TransactionConditions)."""

    note: str
