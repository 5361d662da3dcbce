"""The patterns of a compiled Schematron XSLT, so that each can run on its own.

The ISO Schematron skeleton (which the EN 16931, Peppol, SI-UBL and OHNL
stylesheets come from) compiles every pattern into a template mode ``M<n>``
and a root template that applies each mode to the document in turn, with an
``<svrl:active-pattern>`` around an ``<xsl:apply-templates/>`` in the unnamed
mode before each. That unnamed-mode walk visits every node of the document
and writes nothing (its only template swallows text), yet costs a tenth of the
transform, and more in a stylesheet of many patterns (Peppol's thirteen walks
are a quarter of its check of a typical invoice). Applying the pattern modes
directly gives the same failed asserts and successful reports in the same
order without those walks, and lets one large document's patterns be spread
over several processes.

:func:`skeleton_patterns` returns the modes only when the stylesheet has
exactly that shape; for anything else it returns ``()``, and the caller runs
the stylesheet whole, as its publisher intends. :func:`pattern_runner` writes
the stylesheet that applies them in one transformation: it imports the
official one, untouched, and its root template, which takes precedence over
the imported one, applies each mode to the document in turn.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from pathlib import Path

from lxml import etree

from gateway.validation.svrl import SVRL_NS

XSL_NS = "http://www.w3.org/1999/XSL/Transform"
_XSL = f"{{{XSL_NS}}}"

# What the skeleton's root template may contain besides literal result elements.
_ROOT_INSTRUCTIONS = {f"{_XSL}{name}" for name in
                      ("apply-templates", "attribute", "comment", "text", "value-of")}
# Declarations that could add templates or change how modes behave.
_UNSUPPORTED = {f"{_XSL}{name}" for name in
                ("import", "include", "use-package", "mode", "apply-imports")}
_UNNAMED = {"#default", "#unnamed", "#all"}
# What the skeleton's root template writes itself: none of it is a finding, so a runner
# (and a pattern run alone) that leaves it out reports the same.
_ROOT_LITERALS = {f"{{{SVRL_NS}}}{name}" for name in
                  ("schematron-output", "ns-prefix-in-attribute-values", "active-pattern")}


def skeleton_patterns(path: Path) -> tuple[str, ...]:
    """The pattern modes of the XSLT at ``path`` in the order its root template runs them.

    ``()`` when the stylesheet is not shaped like the ISO skeleton's output
    (see the module docstring) or cannot be read: then it must run whole.
    """
    try:
        stamp = Path(path).stat().st_mtime_ns
    except OSError:
        return ()
    return _patterns(str(path), stamp)


@functools.lru_cache(maxsize=64)
def _patterns(path: str, stamp: int) -> tuple[str, ...]:
    # The file is an installed official artifact checked against its pinned sha256;
    # the parser still refuses entities and the network.
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        stylesheet = etree.parse(path, parser).getroot()
    except (etree.XMLSyntaxError, OSError):
        return ()
    return patterns_of(stylesheet)


def pattern_runner(path: Path, modes: Sequence[str]) -> str:
    """A stylesheet that runs the pattern ``modes`` of the stylesheet at ``path`` in one go.

    Its report holds the imported stylesheet's failed asserts and successful
    reports in the same order, under one ``svrl:schematron-output``; it has
    no ``active-pattern`` elements, which no finding is read from. The
    version is the imported stylesheet's, so a 1.0 stylesheet is not run
    under 2.0 rules.
    """
    version = "2.0"
    with contextlib.suppress(etree.XMLSyntaxError, OSError):
        for _, root in etree.iterparse(str(path), events=("start",), resolve_entities=False,
                                       no_network=True, huge_tree=True):
            version = root.get("version") or version
            break
    root = etree.Element(f"{_XSL}stylesheet", nsmap={"xsl": XSL_NS, "svrl": SVRL_NS},
                         version=version)
    etree.SubElement(root, f"{_XSL}import", href=Path(path).resolve().as_uri())
    template = etree.SubElement(root, f"{_XSL}template", match="/")
    output = etree.SubElement(template, f"{{{SVRL_NS}}}schematron-output")
    for mode in modes:
        etree.SubElement(output, f"{_XSL}apply-templates", select="/", mode=mode)
    return str(etree.tostring(root, encoding="unicode"))


def patterns_of(stylesheet: etree._Element) -> tuple[str, ...]:
    """The pattern modes of a parsed stylesheet, or ``()`` (see :func:`skeleton_patterns`)."""
    if stylesheet.tag not in (f"{_XSL}stylesheet", f"{_XSL}transform"):
        return ()
    if stylesheet.get("default-mode") is not None:
        return ()
    if any(element.tag in _UNSUPPORTED for element in stylesheet.iter()):
        return ()
    roots = []
    for template in stylesheet.iterchildren(f"{_XSL}template"):
        modes = set((template.get("mode") or "#default").split())
        if template.get("match", "").strip() == "/" and modes == {"#default"}:
            roots.append(template)
        elif modes & _UNNAMED and not _is_empty(template):
            return ()  # the unnamed-mode walk could write something
    if len(roots) != 1:
        return ()
    return _modes_applied(roots[0])


def _modes_applied(root: etree._Element) -> tuple[str, ...]:
    modes: list[str] = []
    for element in root.iterdescendants():
        if not isinstance(element.tag, str):
            continue  # comments
        if not element.tag.startswith(_XSL):
            if element.tag not in _ROOT_LITERALS:
                return ()  # it writes something of its own, a finding perhaps
            continue
        if element.tag not in _ROOT_INSTRUCTIONS:
            return ()
        if element.tag != f"{_XSL}apply-templates":
            continue
        if len(element):
            return ()  # parameters or a sort: not the skeleton's plain call
        mode, select = element.get("mode"), element.get("select")
        if mode is None and select is None:
            continue  # the unnamed-mode walk
        if mode is None or select is None or select.strip() != "/" or mode.startswith("#"):
            return ()
        modes.append(mode.strip())
    return tuple(modes)


def _is_empty(template: etree._Element) -> bool:
    if (template.text or "").strip():
        return False
    return all(isinstance(child, etree._Comment) and not (child.tail or "").strip()
               for child in template)
