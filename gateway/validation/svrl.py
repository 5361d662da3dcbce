"""Findings from an SVRL report, the output of every compiled Schematron XSLT.

Publishers fill SVRL differently. The EN 16931 and Peppol stylesheets give
each failed assert an ``@id`` and ``@flag="fatal"|"warning"``; SI-UBL gives
a flag but puts the rule id in brackets at the start of the text
(``[BR-NL-1] …``); the UBL-OHNL and SETU stylesheets give neither, so the
assertion's test stands in for the rule and its severity is an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gateway.validation.report import Finding, Severity

SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
_SAXON_TEXT = f"Q{{{SVRL_NS}}}text"
_BRACKETED_ID = re.compile(r"^\s*\[([A-Za-z][\w.\-]*)\]")

_FLAGS = {
    "fatal": Severity.FATAL,
    "error": Severity.ERROR,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "information": Severity.INFO,
    "info": Severity.INFO,
}


def severity_of(flag: str | None) -> Severity:
    """The severity an SVRL ``@flag`` or ``@role`` stands for; none given means error."""
    if not flag:
        return Severity.ERROR
    return _FLAGS.get(flag.strip().lower(), Severity.ERROR)


_XPATH_FOUND = "//(svrl:failed-assert | svrl:successful-report)"


def svrl_findings(
    processor: Any, report: Any, layer: str, locate: Callable[[str], int | None],
) -> list[Finding]:
    """The findings in an SVRL report Saxon holds as a tree, without serialising it.

    The report of a valid document is large (a ``fired-rule`` per node
    checked) and empty of findings; asking Saxon for just the failed asserts
    and successful reports costs a fraction of turning the report into text.
    """
    xpath = processor.new_xpath_processor()
    xpath.declare_namespace("svrl", SVRL_NS)
    xpath.set_context(xdm_item=report)
    found = xpath.evaluate(_XPATH_FOUND)
    if found is None:
        return []
    findings = []
    for index in range(found.size):
        node = found.item_at(index)
        text = "".join(child.string_value for child in node.children
                       if child.name == _SAXON_TEXT)
        findings.append(_finding(layer, locate, text, node.get_attribute_value))
    return findings



def _finding(
    layer: str, locate: Callable[[str], int | None], text: str,
    attribute: Callable[[str], str | None],
) -> Finding:
    text = " ".join(text.split())
    location = attribute("location") or ""
    return Finding(
        layer=layer,
        rule=_rule_of(attribute, text),
        severity=severity_of(attribute("flag") or attribute("role")),
        location=location,
        line=locate(location) if location else None,
        text=text,
    )


def _rule_of(attribute: Callable[[str], str | None], text: str) -> str:
    rule = attribute("id")
    if rule:
        return str(rule)
    bracketed = _BRACKETED_ID.match(text)
    if bracketed:
        return bracketed.group(1)
    return str(attribute("test") or "unnamed")
