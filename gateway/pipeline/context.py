"""The EncodeContext the pipeline hands a format: agency, supplier, and what the document answers.

A response repeats what it answers: a UBL-OHNL order response lists every
line of the order it confirms, with items and prices the ERP need not send
again. The gateway received that order itself, so it looks it up here by
its business key (the agency that sent it, its kind and number) instead of
asking the ERP for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.config.model import GatewayConfig
from gateway.formats import EncodeContext
from gateway.kinds import Direction, DocumentKind
from gateway.model import CanonicalDocument, HumanResource, OrderResponse, Quotation
from gateway.model.json import loads
from gateway.pipeline.keys import inbound_key
from gateway.store import Store


def answered(document: CanonicalDocument) -> tuple[DocumentKind, str] | None:
    """The kind and number of the inbound document ``document`` answers, if it answers one."""
    reference = answered_reference(document)
    return None if reference is None else (reference[0], reference[1])


def answered_reference(document: CanonicalDocument) -> tuple[DocumentKind, str, str] | None:
    """As :func:`answered`, with the canonical JSON path of the number, to name the field."""
    if isinstance(document, OrderResponse):
        return DocumentKind.ORDER, document.order_reference.id, "order_reference.id"
    if isinstance(document, HumanResource):
        return DocumentKind.STAFFING_ORDER, document.order_reference, "order_reference"
    if isinstance(document, Quotation):
        return (DocumentKind.REQUEST_FOR_QUOTATION, document.rfq_reference,
                "rfq_reference")
    return None


async def encode_context(
    store: Store, document: CanonicalDocument, *, agency_oin: str, agency_name: str | None,
    supplier: Any, supplier_number: str | None, source_json: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> EncodeContext:
    """The context for encoding ``document``; only a document that answers one reads the store.

    ``source_json`` is the text ``document`` was read from, for the canonical
    format to send as it is (see :class:`EncodeContext`); pass it only when
    ``document`` is exactly what that text reads into.
    """
    answers = None
    reference = answered(document)
    if reference is not None:
        kind, number = reference
        record = await store.find_by_business_key(
            Direction.INBOUND, inbound_key(agency_oin, kind, number))
        if record is not None and record.canonical_json is not None:
            answers = loads(record.canonical_json)
    return EncodeContext(agency_oin=agency_oin, agency_name=agency_name, supplier=supplier,
                         supplier_number=supplier_number, answers=answers,
                         source_json=source_json, settings=dict(settings or {}))


async def configured_context(
    store: Store, config: GatewayConfig | None, document: CanonicalDocument, *, agency_oin: str,
    kind: DocumentKind, agency_name: str | None = None, source_json: str | None = None,
) -> EncodeContext:
    """The context intake encodes ``document`` for ``agency_oin`` with, from the configuration.

    The agency's name, our supplier number there and its route's settings for
    ``kind`` (a G-account, say) come from ``config`` when it lists the
    agency; ``agency_name`` names one it does not list.
    """
    agency = config.agency(agency_oin) if config is not None else None
    route = agency.documents.get(kind) if agency is not None else None
    return await encode_context(
        store, document, agency_oin=agency_oin,
        agency_name=agency.name if agency is not None else agency_name,
        supplier=config.supplier if config is not None else None,
        supplier_number=agency.supplier_number if agency is not None else None,
        source_json=source_json, settings=route.settings if route is not None else None)
