"""What the four SETU-OHNL 2.0 formats share: detection, layers and the encode/decode frame.

Each message module supplies its :class:`~plugins.setu_ohnl.messages.Message`,
the canonical class it carries, a writer and a reader; everything else is the
same for all four and lives here once.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar

from gateway.formats import Decoded, Detection, EncodeContext, Format, ValidationLayer
from gateway.model.record import FieldProblem
from gateway.sniff import Sniffed
from plugins.setu_ohnl.errors import SetuDecodeError, SetuEncodeError
from plugins.setu_ohnl.messages import Message, check_root
from plugins.setu_ohnl.xmltools import Element, to_bytes
from plugins.ubl import UBLReadError


class SetuFormat(Format):
    message: ClassVar[Message]
    model: ClassVar[type]
    noun: ClassVar[str]
    """What the format encodes, plural, for the error on a wrong document type."""
    subject: ClassVar[str]
    """The document as decode errors name it ("the timecard")."""

    @property
    def berichtsoort(self) -> str:
        """The Digipoort envelope's berichtsoort for this message."""
        return self.message.berichtsoort

    def detect(self, doc: Sniffed) -> Detection:
        return self.message.detect(doc.root)

    def layers(self) -> Sequence[ValidationLayer]:
        return self.message.layers()

    @abc.abstractmethod
    def write(self, document: Any) -> Element:
        """The message's root element for a canonical document of :attr:`model`."""

    @abc.abstractmethod
    def read(self, root: Element) -> tuple[Any, list[str]]:
        """The canonical document in ``root`` and the warnings for what was not mapped."""

    def extra_warnings(self, document: Any) -> list[str]:
        """Warnings about a decoded document as a whole (e.g. its arithmetic)."""
        return []

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        if not isinstance(document, self.model):
            raise SetuEncodeError(f"{self.key} encodes {self.noun}, not {type(document).__name__}")
        return to_bytes(self.write(document))

    def decode(self, data: bytes) -> Decoded:
        root = check_root(self.key, self.message, data)
        try:
            document, warnings = self.read(root)
        except (FieldProblem, UBLReadError, ArithmeticError) as exc:
            raise SetuDecodeError(
                f"{self.key}: {self.subject} does not fit the model: {exc}"
            ) from None
        return Decoded(document, tuple(warnings + self.extra_warnings(document)))
