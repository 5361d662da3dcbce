"""The manifest pins what the formats' validation layers read, and nothing they never read."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.standards.installer import install_from_dir
from gateway.standards.manifest import default_manifest
from plugins.digipoort.wus.koppelvlak import XSD_RELATIVE

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "standards"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")

_REFERENCE = re.compile(
    r"""<(?:xsd?|xs|xsl):(?:include|import|redefine)\b[^>]*?\b(?:schemaLocation|href)\s*=\s*"""
    r"""["']([^"']+)["']""")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _loaded_from(tree: Path, entry: str) -> set[str]:
    seen: set[str] = set()
    pending = [entry]
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        text = _COMMENT.sub("", (tree / path).read_text(encoding="utf-8", errors="replace"))
        for reference in _REFERENCE.findall(text):
            if "://" in reference:
                continue
            parts: list[str] = []
            for part in (PurePosixPath(path).parent / reference).parts:
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            pending.append("/".join(parts))
    return seen


@pytest.fixture(scope="module")
def used(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    tree = tmp_path_factory.mktemp("standards")
    install_from_dir(default_manifest(), SHARED, tree)
    registry = build_registry(make_plugin_manager())
    found = {XSD_RELATIVE.as_posix()}
    for fmt in registry.formats.values():
        for layer in fmt.layers():
            found |= _loaded_from(tree, layer.artifact)
    return found


def test_no_pinned_schema_tree_goes_unread(used: set[str]) -> None:
    # Per folder of a release (ubl-2.1/xsdrt, ubl-2.1/xsd, ...): pinning all of a tree a
    # format reads is fine (a new format needs no new manifest); a tree nobody reads is
    # only download size, install time and licence text to carry.
    manifest = default_manifest()
    trees: dict[str, list[str]] = {}
    for _, file in manifest.entries():
        if file.path.startswith("oasis-ubl/"):
            trees.setdefault("/".join(file.path.split("/")[:3]), []).append(file.path)
    unread = {tree: paths for tree, paths in trees.items() if not used & set(paths)}
    size = sum(manifest.file(path).size for paths in unread.values() for path in paths)
    count = sum(len(paths) for paths in unread.values())
    assert not unread, (
        f"{', '.join(sorted(unread))}: {count} pinned file(s), {size} bytes, installed and "
        f"downloaded but never read by a format")
