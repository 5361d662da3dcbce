"""Line numbers for the XPath locations a Schematron report gives.

The ISO skeleton writes locations such as
``/*:Invoice[namespace-uri()='urn:…Invoice-2'][1]/*:InvoiceLine[namespace-uri()='…'][3]``:
XPath 2.0, which lxml cannot evaluate. The steps are simple enough to walk
by hand, which is also much cheaper than compiling one XPath per finding.
"""

from __future__ import annotations

import re

from lxml import etree

_STEP = re.compile(
    r"""/(?:
        \*:(?P<local>[^\[/]+)\[namespace-uri\(\)='(?P<ns>[^']*)'\]   # *:name[namespace-uri()='…']
      | (?P<plain>[A-Za-z_][\w.\-]*)                              # name (no namespace)
      | \*\[local-name\(\)='(?P<local2>[^']+)'(?:\s+and\s+namespace-uri\(\)='(?P<ns2>[^']*)')?\]
    )\[(?P<pos>\d+)\]""",
    re.VERBOSE,
)
# Steps below the last element (attributes, text nodes) share its line.
_TAIL = re.compile(r"(?:/@[^/]*|/text\(\)(?:\[\d+\])?|/node\(\)(?:\[\d+\])?|/comment\(\).*)$")


def line_of(root: etree._Element, location: str) -> int | None:
    """The source line of the node ``location`` points at, or None if it cannot be found."""
    position = 0
    node: etree._Element | None = None
    while position < len(location):
        match = _STEP.match(location, position)
        if match is None:
            break
        tag = _tag(match)
        index = int(match["pos"])
        if node is None:
            if index != 1 or not _is(root, tag):
                return None
            node = root
        else:
            node = _nth_child(node, tag, index)
            if node is None:
                return None
        position = match.end()
    if node is None:
        return None
    if position < len(location) and not _TAIL.fullmatch(location, position):
        return None
    line = node.sourceline
    return line if isinstance(line, int) else None


def _tag(match: re.Match[str]) -> str:
    if match["local"] is not None:
        return f"{{{match['ns']}}}{match['local']}" if match["ns"] else match["local"]
    if match["local2"] is not None:
        # Without a namespace test, local-name() matches the name in any namespace.
        namespace = "*" if match["ns2"] is None else match["ns2"]
        return f"{{{namespace}}}{match['local2']}" if namespace else match["local2"]
    return match["plain"]


def _is(element: etree._Element, tag: str) -> bool:
    if tag.startswith("{*}"):
        return bool(etree.QName(element).localname == tag[3:])
    return bool(element.tag == tag)


def _nth_child(parent: etree._Element, tag: str, index: int) -> etree._Element | None:
    for count, child in enumerate(parent.iterchildren(tag), start=1):
        if count == index:
            return child
    return None
