"""UBL namespaces and prefixed names."""

from __future__ import annotations

UBL_VERSIONS = ("2.0", "2.1")
"""The UBL versions these names serve; both use the same namespaces."""

_BASE = "urn:oasis:names:specification:ubl:schema:xsd"

CBC = f"{_BASE}:CommonBasicComponents-2"
CAC = f"{_BASE}:CommonAggregateComponents-2"
EXT = f"{_BASE}:CommonExtensionComponents-2"

PREFIXES: dict[str, str] = {"cbc": CBC, "cac": CAC, "ext": EXT}
"""Prefix to namespace, for paths and for ``find``/``xpath`` calls."""

NSMAP: dict[str | None, str] = {"cac": CAC, "cbc": CBC}
"""The namespace declarations written on a root element (add ``ext`` when used)."""

_NAMESPACE_PREFIX = {namespace: prefix for prefix, namespace in PREFIXES.items()}


def document_namespace(document: str) -> str:
    """The namespace of a UBL document type: ``document_namespace("Invoice")``."""
    return f"{_BASE}:{document}-2"


def qname(name: str) -> str:
    """``"cbc:ID"`` as Clark notation (``"{urn:...}ID"``); unprefixed names pass through."""
    prefix, colon, local = name.partition(":")
    if not colon:
        return name
    try:
        return f"{{{PREFIXES[prefix]}}}{local}"
    except KeyError:
        raise ValueError(f"unknown UBL prefix {prefix!r} in {name!r}") from None


def prefixed(tag: str) -> str:
    """Clark notation back to ``cbc:ID``; names outside the common namespaces lose theirs."""
    if not tag.startswith("{"):
        return tag
    namespace, _, local = tag[1:].partition("}")
    prefix = _NAMESPACE_PREFIX.get(namespace)
    return f"{prefix}:{local}" if prefix else local
