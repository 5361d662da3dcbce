"""The ``canonical`` formats: the gateway's own JSON, one format per document kind.

This is the language the ERP speaks (``canonical:invoice:1``,
``canonical:order:1``, ...): the folder channel can hand an ERP canonical
JSON, and an operator can key in a document the portal showed as canonical
JSON. It is a plugin like any other format so that the core treats every
format alike.
"""

from __future__ import annotations

from gateway.hookspecs import hookimpl
from gateway.model import DOCUMENT_CLASSES
from gateway.registry import Registry

from .format import CanonicalJSONFormat

__version__ = "1.0.0"


@hookimpl
def register_formats(registry: Registry) -> None:
    for kind in DOCUMENT_CLASSES:
        registry.add_format(CanonicalJSONFormat(kind))
