"""What a format plugin provides: one standard, one document type, one version.

A format is keyed ``standard:document:version`` (``nlcius:invoice:1.0``,
``ubl-ohnl:order:1.9``). It knows how to recognise itself in an inbound
document, which validation layers apply, and how to turn a canonical document
into bytes and back. A new version of a standard is a new format; nothing in
the core moves.
"""

from __future__ import annotations

import abc
import enum
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from gateway.errors import GatewayError
from gateway.kinds import Direction, DocumentKind

if TYPE_CHECKING:
    from gateway.sniff import Sniffed

_KEY_PART = r"[a-z0-9][a-z0-9.\-]*"
FORMAT_KEY_RE = re.compile(rf"^({_KEY_PART}):({_KEY_PART}):([0-9][0-9a-z.\-]*)$")


@attrs.frozen
class FormatKey:
    """A parsed ``standard:document:version`` key."""

    standard: str
    document: str
    version: str

    @classmethod
    def parse(cls, text: str) -> FormatKey:
        match = FORMAT_KEY_RE.match(text)
        if not match:
            raise ValueError(
                f"format key {text!r} is not of the form standard:document:version "
                "(lower case, e.g. 'nlcius:invoice:1.0')"
            )
        return cls(*match.groups())

    def __str__(self) -> str:
        return f"{self.standard}:{self.document}:{self.version}"


class FormatStatus(enum.StrEnum):
    ACTIVE = "active"
    DEPRECATED = "deprecated"  # still works, new routes should not choose it
    SUSPENDED = "suspended"  # the publisher put it on hold ("opgeschort")


class Detection(enum.Enum):
    """A format's answer to "is this document yours?"."""

    NO = "no"
    MATCH = "match"
    OTHER_VERSION = "other-version"  # my standard and document type, not my version


class LayerKind(enum.StrEnum):
    XSD = "xsd"
    SCHEMATRON = "schematron"


@attrs.frozen
class ValidationLayer:
    """One validation step, run in the order the format lists them.

    ``artifact`` is a path inside the installed standards tree (see
    ``schemas/standards.toml``): the entry XSD for an XSD layer, the compiled
    XSLT for a Schematron layer.
    """

    kind: LayerKind
    name: str
    artifact: str


class AnsweredUnknown(GatewayError):
    """Raised by an encoder that needs ``EncodeContext.answers`` and got None.

    The gateway has not received the document this one answers (the order an
    order response confirms), or not yet: the pipeline refuses the document
    naming the reference, and the ERP may send it again once that has arrived.
    """


@attrs.frozen
class EncodeContext:
    """What an encoder may need beyond the document itself.

    ``agency_oin`` is the addressed agency as routed (the buyer on an invoice);
    ``supplier_number`` our account number in that agency's books, from the
    agency directory; ``answers`` the canonical document this one answers
    (the order an order response confirms, the staffing order a confirmation
    accepts, the request a quotation quotes), as the gateway received it, or
    None when the gateway never received it; ``settings`` carries per-route
    options.

    ``source_json`` is the canonical JSON text the document was read from,
    exactly as the ERP submitted it, when the caller has it and it reads into
    exactly this document. The canonical JSON format of the document's kind
    hands it on as its payload, so what is sent is byte for byte what the ERP
    sent; every other format ignores it.
    """

    agency_oin: str | None = None
    agency_name: str | None = None
    supplier: Any = None
    supplier_number: str | None = None
    answers: Any = None
    settings: Mapping[str, Any] = attrs.field(factory=dict)
    source_json: str | None = None


@attrs.frozen
class Decoded:
    """A decoded document plus everything the decoder could not map."""

    document: Any
    warnings: tuple[str, ...] = ()


@attrs.frozen
class Sample:
    """A document the plugin vouches for, used by the contract kit.

    Give ``document`` (a canonical document that must encode and decode back
    to an equal document) or ``data`` (wire bytes that must decode, encode and
    decode again to the same canonical document), or both.
    """

    name: str
    document: Any = None
    data: bytes | None = None
    context: EncodeContext = attrs.field(factory=EncodeContext)


class Format(abc.ABC):
    """Base class of every format plugin.

    Subclasses set the class attributes and implement the four methods.
    Formats must be stateless after construction: the core shares one
    instance between tasks and processes.
    """

    key: ClassVar[str]
    kind: ClassVar[DocumentKind]
    also_kinds: ClassVar[frozenset[DocumentKind]] = frozenset()
    """Other kinds this format writes in the same document: a UBL-OHNL or SETU
    invoice of the credit type is a credit note, as those standards have no
    document of their own for one."""
    directions: ClassVar[frozenset[Direction]]
    media_type: ClassVar[str] = "application/xml"
    status: ClassVar[FormatStatus] = FormatStatus.ACTIVE
    effective_from: ClassVar[date | None] = None
    description: ClassVar[str] = ""

    def serves(self, kind: DocumentKind) -> bool:
        """Whether a route for ``kind`` documents may name this format."""
        return kind is self.kind or kind in self.also_kinds

    @abc.abstractmethod
    def detect(self, doc: Sniffed) -> Detection:
        """Say whether ``doc`` is written in this format.

        Must never answer MATCH for a document of another standard, document
        type or version. Must not raise on foreign input.
        """

    def layers(self) -> Sequence[ValidationLayer]:
        """The validation layers, XSD first, then each Schematron set."""
        return ()

    @abc.abstractmethod
    def encode(self, document: Any, context: EncodeContext) -> bytes:
        """Write a canonical document as this format's bytes."""

    @abc.abstractmethod
    def decode(self, data: bytes) -> Decoded:
        """Read bytes of this format into a canonical document.

        Raises :class:`gateway.errors.GatewayError` subclasses for input that
        cannot be read; anything readable but not mappable becomes a warning.
        """

    def samples(self) -> Sequence[Sample]:
        """Documents the contract kit round-trips through this format."""
        return ()

    @property
    def parsed_key(self) -> FormatKey:
        return FormatKey.parse(self.key)
