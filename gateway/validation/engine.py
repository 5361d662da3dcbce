"""The validation engine: official XSD with lxml, official Schematron XSLT with Saxon.

Compiling is the expensive part (0.1-0.7 s per stylesheet), validating is
cheap (milliseconds), so a :class:`Validator` compiles every artifact once and
keeps it for the life of the process. The document is parsed once by the
hardened parser (:class:`ParsedDocument`); the XSD layer validates that tree
and the Schematron layers share one Saxon document built from the same text.
A Schematron stylesheet in the ISO skeleton's shape runs through a pattern
runner, a small stylesheet that imports the official one and applies its
pattern modes in turn (see :mod:`gateway.validation.patterns`): the same
findings, without the skeleton's idle walks over the document (a sixth of the
EN 16931 and Peppol checks of a typical invoice), and a large document's
patterns can be spread over processes (:mod:`gateway.validation.pool`).

Like the Peppol and phive validators, Schematron layers only run on a
document that passed the XSD layers: their rules assume the structure the
schema guarantees and report nonsense (or raise) otherwise. The report says
which layers were skipped and why.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
from lxml import etree

from gateway.errors import GatewayError, StandardsError, UnsafeXMLError
from gateway.formats import Format, LayerKind, ValidationLayer
from gateway.standards.installer import standards_path, verify
from gateway.standards.manifest import Manifest, default_manifest
from gateway.validation.locations import line_of
from gateway.validation.patterns import pattern_runner, skeleton_patterns
from gateway.validation.report import PARSE_LAYER, Finding, Severity, ValidationReport
from gateway.validation.svrl import svrl_findings
from gateway.xmlsafe import XMLParseError, parse_xml

SAXON_ERROR_RULE = "saxon-error"
SKIPPED_RULE = "skipped"


class LayerSelectionError(GatewayError):
    """``only`` names a layer that the format does not have."""


def select_layers(
    layers: Sequence[ValidationLayer], only: Collection[LayerKind | str] | None,
) -> tuple[ValidationLayer, ...]:
    """The layers that ``only`` (layer kinds or layer names) selects, in their order."""
    if only is None:
        return tuple(layers)
    wanted = {str(entry) for entry in only}
    kinds = {kind.value for kind in LayerKind}
    unknown = sorted(wanted - kinds - {layer.name for layer in layers})
    if unknown:
        known = ", ".join([*sorted(kinds), *(layer.name for layer in layers)])
        raise LayerSelectionError(
            f"no layer kind or layer named {', '.join(map(repr, unknown))}; choose from {known}"
        )
    return tuple(
        layer for layer in layers if layer.kind.value in wanted or layer.name in wanted
    )


_processor: Any = None
_processor_lock = threading.Lock()


def saxon_processor() -> Any:
    """The one Saxon processor of this process.

    Saxon's native runtime is set up once per process and is not safe to
    carry across ``fork``: worker pools must use ``spawn`` or ``forkserver``.
    """
    global _processor
    with _processor_lock:
        if _processor is None:
            import saxonche  # imported late: it starts a native runtime

            _processor = saxonche.PySaxonProcessor(license=False)
        return _processor


def saxon_error_type() -> type[Exception]:
    import saxonche

    error: type[Exception] = saxonche.PySaxonApiError
    return error


@attrs.define
class _Compiled:
    """A compiled artifact and the lock that serialises its use.

    Saxon executables and lxml schemas keep per-call state (lxml's error log,
    Saxon's parameters); running one from two threads at once is not safe,
    and measured no faster than taking turns. Processes scale, threads don't.
    """

    artifact: str
    value: Any
    """The lxml schema; the Saxon stylesheet, or its pattern runner when ``patterns``."""
    patterns: tuple[str, ...] = ()
    """A Schematron stylesheet's pattern modes in order; ``()``: it runs whole."""
    lock: threading.Lock = attrs.field(factory=threading.Lock)


class Validator:
    """Validates documents against layers of official artifacts, compiled once.

    One instance per standards directory and process is enough; see
    :func:`validator_for`. Safe to call from several threads.

    Schematron layers run their patterns through a pattern runner where the
    stylesheet allows it; with ``as_published``, every stylesheet runs whole,
    as its publisher runs it: the reference the pattern runs are tested and
    timed against.
    """

    def __init__(self, standards_dir: Path, *, manifest: Manifest | None = None,
                 as_published: bool = False) -> None:
        self.standards_dir = Path(standards_dir)
        self._manifest = manifest
        self.as_published = as_published
        self._compiled: dict[tuple[LayerKind, str], _Compiled] = {}
        self._intact: set[str] = set()
        self._lock = threading.Lock()

    # -- artifacts -----------------------------------------------------------

    def artifact_path(self, artifact: str) -> Path:
        """The installed file of ``artifact`` (a manifest path), or StandardsError."""
        manifest = self._manifest or default_manifest()
        return standards_path(self.standards_dir, artifact, manifest=manifest)

    def check_intact(self, artifact: str) -> None:
        """Raise StandardsError unless every file of the sets holding ``artifact`` is as pinned.

        A layer names one file, but its XSD includes and its stylesheet imports
        others: one of them altered, missing or left over from another release
        changes the verdict without a word. Each set (with the sets it
        requires) is checked by sha256 once per validator, before its first
        compile; a change on disk after that reaches no compiled layer.
        """
        manifest = self._manifest or default_manifest()
        owners = [owner for owner in manifest.owners(artifact) if owner not in self._intact]
        if not owners:
            return
        report = verify(manifest, self.standards_dir, only=owners)
        if not report.ok:
            listed = "; ".join(str(problem) for problem in report.problems[:3])
            more = (f"; and {len(report.problems) - 3} more" if len(report.problems) > 3
                    else "")
            raise StandardsError(
                f"the standards in {self.standards_dir} are not the pinned files: {listed}{more}; "
                "validation is refused until `gateway standards install --from DIR` repairs "
                "them (`gateway standards verify` lists every problem)"
            )
        self._intact.update(a.id for a in manifest.select(owners))

    def patterns(self, layer: ValidationLayer) -> tuple[str, ...]:
        """The patterns of a Schematron layer that can run one by one; ``()`` if it runs whole.

        Reads the installed stylesheet without compiling it, so a process
        that only hands work to others need not start Saxon.
        """
        if layer.kind is not LayerKind.SCHEMATRON or self.as_published:
            return ()
        return skeleton_patterns(self.artifact_path(layer.artifact))

    def prepare(self, layers: Iterable[ValidationLayer]) -> None:
        """Compile every layer's artifact now rather than on first use."""
        for layer in layers:
            self._compiled_for(layer)

    def _compiled_for(self, layer: ValidationLayer) -> _Compiled:
        key = (layer.kind, layer.artifact)
        found = self._compiled.get(key)
        if found is not None:
            return found
        with self._lock:  # one compile per artifact, even when threads race
            found = self._compiled.get(key)
            if found is None:
                path = self.artifact_path(layer.artifact)
                self.check_intact(layer.artifact)
                if layer.kind is LayerKind.XSD:
                    found = _Compiled(layer.artifact, _compile_schema(path, layer.artifact))
                else:
                    patterns = self.patterns(layer)
                    found = _Compiled(layer.artifact,
                                      _compile_stylesheet(path, layer.artifact, patterns),
                                      patterns)
                self._compiled[key] = found
            return found

    # -- validation ------------------------------------------------------------

    def validate(
        self, data: bytes, layers: Sequence[ValidationLayer], *, format_key: str | None = None,
        only: Collection[LayerKind | str] | None = None,
    ) -> ValidationReport:
        """Run ``layers`` (or those ``only`` selects) on ``data``; never raises on bad input.

        With no layer to run, nothing is checked (not even that ``data`` is
        XML) and the report is valid with an empty ``layers``.

        Raises StandardsError when an artifact is not installed and
        LayerSelectionError when ``only`` names an unknown layer: those are
        set-up problems, not properties of the document.
        """
        selected = select_layers(layers, only)
        if not selected:
            return ValidationReport.of([], [], format_key)
        self.prepare(selected)
        return self.check(ParsedDocument.parse(data), selected, format_key=format_key)

    def check(
        self, document: ParsedDocument, layers: Sequence[ValidationLayer], *,
        format_key: str | None = None, patterns: Mapping[str, Collection[str]] | None = None,
    ) -> ValidationReport:
        """Run every one of ``layers`` on a parsed document.

        ``patterns`` maps a Schematron layer's name to the only patterns of it
        to run (the rest are left to another call, as the pool does for a
        large document); a layer it does not name runs whole. The XSD
        verdict is kept on ``document``, so checking it again in parts does
        not validate against the schema again.
        """
        if document.problem is not None:
            return ValidationReport.of([document.problem], [], format_key)
        findings: list[Finding] = []
        ran: list[str] = []
        schema_failed = False
        for layer in layers:
            if layer.kind is LayerKind.XSD:
                found = self._run_xsd(layer, document)
                schema_failed = schema_failed or any(f.severity.rejects for f in found)
            elif schema_failed:
                findings.append(Finding(
                    layer.name, SKIPPED_RULE, Severity.INFO, "", None,
                    f"not run: the document does not conform to the XSD, and the "
                    f"{layer.name} rules assume it does",
                ))
                continue
            else:
                wanted = None if patterns is None else patterns.get(layer.name)
                found = self._run_schematron(layer, document, wanted)
            ran.append(layer.name)
            findings.extend(found)
        return ValidationReport.of(findings, ran, format_key)

    def _run_xsd(self, layer: ValidationLayer, document: ParsedDocument) -> list[Finding]:
        known = document.schema_findings.get(layer)
        if known is not None:
            return list(known)
        compiled = self._compiled_for(layer)
        schema: etree.XMLSchema = compiled.value
        with compiled.lock:
            entries = [] if schema.validate(document.tree) else list(schema.error_log)
        found = [
            Finding(
                layer=layer.name,
                rule=entry.type_name,
                severity=_XSD_LEVELS.get(entry.level_name, Severity.ERROR),
                location=entry.path or "",
                line=entry.line or None,
                text=entry.message,
            )
            for entry in entries
        ]
        document.schema_findings[layer] = found
        return list(found)

    def _run_schematron(
        self, layer: ValidationLayer, document: ParsedDocument,
        wanted: Collection[str] | None = None,
    ) -> list[Finding]:
        compiled = self._compiled_for(layer)
        patterns = () if wanted is None else _chosen_patterns(layer, compiled.patterns, wanted)
        root = document.tree.getroot()

        def locate(location: str) -> int | None:
            return line_of(root, location)

        try:
            node = document.node()
            if patterns:
                try:
                    return self._run_patterns(compiled, patterns, node, layer.name, locate)
                except saxon_error_type():
                    # Saxon words a dynamic error differently when a mode is applied
                    # directly; the whole run's message keeps the report the same.
                    pass
            with compiled.lock:
                result = compiled.value.transform_to_value(xdm_node=node)
            report = result.head if result is not None else None
            if report is None:
                return [Finding(layer.name, SAXON_ERROR_RULE, Severity.FATAL, "", None,
                                f"the {layer.name} stylesheet produced no report")]
            return svrl_findings(saxon_processor(), report, layer.name, locate)
        except saxon_error_type() as exc:
            return [Finding(layer.name, SAXON_ERROR_RULE, Severity.FATAL, "", None,
                            f"the {layer.name} rules could not be applied: "
                            f"{_saxon_message(exc)}")]

    @staticmethod
    def _run_patterns(
        compiled: _Compiled, patterns: Sequence[str], node: Any, layer: str,
        locate: Callable[[str], int | None],
    ) -> list[Finding]:
        findings: list[Finding] = []
        with compiled.lock:
            # A clone holds the document only for this call, not for the life of
            # the compiled stylesheet.
            executable = compiled.value.clone()
            executable.set_global_context_item(xdm_item=node)
            for mode in patterns:
                executable.set_initial_mode(mode)
                result = executable.apply_templates_returning_value(xdm_value=node)
                report = result.head if result is not None else None
                if report is not None:  # a pattern none of whose rules fired writes nothing
                    findings += svrl_findings(saxon_processor(), report, layer, locate)
        return findings


def _chosen_patterns(
    layer: ValidationLayer, patterns: tuple[str, ...], wanted: Collection[str],
) -> tuple[str, ...]:
    if not wanted:
        raise LayerSelectionError(f"no pattern of the {layer.name} stylesheet was chosen")
    unknown = sorted(set(wanted) - set(patterns))
    if unknown:
        raise LayerSelectionError(
            f"the {layer.name} stylesheet has no pattern {', '.join(map(repr, unknown))} to run "
            f"on its own; it has {', '.join(patterns) or 'none'}")
    return tuple(pattern for pattern in patterns if pattern in wanted)


class ParsedDocument:
    """A document parsed once for every layer that checks it.

    ``problem`` is the finding that refuses it when the hardened parser does
    (then it has no tree). The Saxon document is built on first use and
    shared by every Schematron layer; XSD verdicts are kept by layer.
    """

    def __init__(self, data: bytes, tree: etree._ElementTree | None,
                 problem: Finding | None = None) -> None:
        self.data = data
        self._tree = tree
        self.problem = problem
        self.schema_findings: dict[ValidationLayer, list[Finding]] = {}
        self._node: Any = None

    @classmethod
    def parse(cls, data: bytes) -> ParsedDocument:
        try:
            return cls(data, parse_xml(data))
        except (UnsafeXMLError, XMLParseError) as exc:
            return cls(data, None, _parse_finding(exc))

    @property
    def tree(self) -> etree._ElementTree:
        if self._tree is None:
            raise ValueError(f"the document was not parsed: {self.problem}")
        return self._tree

    def node(self) -> Any:
        if self._node is None:
            # Saxon gets text, never a file name: names with spaces break it.
            self._node = saxon_processor().parse_xml(xml_text=_document_text(self.data,
                                                                             self.tree))
        return self._node


_XML_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")


def _document_text(data: bytes, tree: etree._ElementTree) -> str:
    """The document as a string, without re-serialising it where the bytes decode as declared."""
    encoding = tree.docinfo.encoding or "utf-8"
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        text = bytes(data).decode(codec)
    except (LookupError, UnicodeDecodeError):
        return str(etree.tostring(tree, encoding="unicode"))
    # The declaration names the byte encoding, which no longer applies to a string.
    return _XML_DECLARATION.sub("", text, count=1)


_XSD_LEVELS = {"FATAL": Severity.FATAL, "ERROR": Severity.ERROR, "WARNING": Severity.WARNING}


def _parse_finding(exc: UnsafeXMLError | XMLParseError) -> Finding:
    if isinstance(exc, XMLParseError):
        return Finding(PARSE_LAYER, "not-well-formed", Severity.FATAL, "", exc.line, str(exc))
    return Finding(PARSE_LAYER, "unsafe-xml", Severity.FATAL, "", None, str(exc))


def _saxon_message(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _compile_schema(path: Path, artifact: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    try:
        return etree.XMLSchema(etree.parse(str(path), parser))
    except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as exc:
        raise StandardsError(f"cannot compile the XSD {artifact} ({path}): {exc}") from exc


def _compile_stylesheet(path: Path, artifact: str, patterns: Sequence[str] = ()) -> Any:
    """The stylesheet at ``path``; with ``patterns``, the pattern runner that imports it."""
    compiler = saxon_processor().new_xslt30_processor()
    try:
        if patterns:
            executable = compiler.compile_stylesheet(
                stylesheet_text=pattern_runner(path, patterns))
        else:
            executable = compiler.compile_stylesheet(stylesheet_file=str(path))
    except saxon_error_type() as exc:
        raise StandardsError(
            f"cannot compile the Schematron XSLT {artifact} ({path}): {_saxon_message(exc)}"
        ) from exc
    if executable is None:
        raise StandardsError(f"cannot compile the Schematron XSLT {artifact} ({path})")
    return executable


_validators: dict[tuple[Path, str | None], Validator] = {}
_validators_lock = threading.Lock()


def validator_for(standards_dir: Path, manifest: Manifest | None = None) -> Validator:
    """The process-wide validator of ``standards_dir``: callers share its compiled artifacts.

    ``manifest`` is Wissel's with what plugins added (``Registry.manifest``);
    None is Wissel's own.
    """
    path = Path(standards_dir).resolve()
    key = (path, None if manifest is None else manifest.sha256)
    with _validators_lock:
        found = _validators.get(key)
        if found is None:
            found = _validators[key] = Validator(path, manifest=manifest)
        return found


def validate_with_format(
    data: bytes, fmt: Format, standards_dir: Path,
    only: Collection[LayerKind | str] | None = None, manifest: Manifest | None = None,
) -> ValidationReport:
    """Validate ``data`` against every layer ``fmt`` declares (or those ``only`` selects)."""
    return validator_for(standards_dir, manifest).validate(data, fmt.layers(),
                                                           format_key=fmt.key, only=only)
