"""The standards manifest: which official files Wissel needs, pinned by sha256.

``schemas/standards.toml`` holds one ``[[artifact]]`` table per logical set
(``ubl-2.1-xsd``, ``si-ubl-2.0-xslt``, ...) with its version, licence, source
and official download root, and one ``[[artifact.file]]`` per file with its
path inside the standards tree, sha256 and size. A file's download address is
``base_url`` + its path below ``root``, unless the file names its own ``url``;
``url = ""`` (or a set without ``base_url``) means there is no official
download and the file can only be installed from a folder.

The same module is the maintainer script that writes the manifest. The set
definitions below say which files of the shared standards tree belong to which
set; after an upstream update, adjust them and run::

    python -m gateway.standards.manifest --scan /work/shared/standards \\
        --write schemas/standards.toml
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import re
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import attrs
import tomlkit

from gateway.errors import StandardsError
from schemas import STANDARDS_MANIFEST

MANIFEST_VERSION = 1

# schemas/ is installed as a package so the manifest travels inside the wheel.
DEFAULT_MANIFEST_PATH = STANDARDS_MANIFEST

_ID_RE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@attrs.frozen
class ArtifactFile:
    """One file of an artifact set.

    ``url`` is ``None`` when the address follows from the set's ``base_url``,
    ``""`` when the file has no official download address.
    """

    path: str
    sha256: str
    size: int
    url: str | None = None


@attrs.frozen
class Artifact:
    """A logical set of official files, such as the UBL 2.1 schemas."""

    id: str
    version: str
    title: str
    licence: str
    source: str
    base_url: str
    root: str
    files: tuple[ArtifactFile, ...]
    note: str = ""
    requires: tuple[str, ...] = ()

    def url_for(self, file: ArtifactFile) -> str | None:
        """The official download address of ``file``, or ``None`` if there is none."""
        if file.url is not None:
            return file.url or None
        if not self.base_url:
            return None
        relative = file.path[len(self.root) + 1:] if self.root else file.path
        return self.base_url + quote(relative)


@attrs.frozen
class Manifest:
    """A loaded and validated manifest.

    ``added`` names the plugins' manifests :meth:`extended` took in beside
    ``source``; ``sha256`` then covers them all, so an install stamp made
    before a plugin came (or went) no longer counts as current.
    """

    artifacts: tuple[Artifact, ...]
    source: Path
    sha256: str
    added: tuple[Path, ...] = ()

    def extended(self, extra: Manifest) -> Manifest:
        """This manifest with ``extra``'s artifacts beside its own, checked as one.

        A plugin brings the official files of its own formats this way. An
        artifact id or a file path both claim, with different contents, is
        refused: one install would overwrite the other's file.
        """
        where = extra.source
        ours = {artifact.id for artifact in self.artifacts}
        for artifact in extra.artifacts:
            if artifact.id in ours:
                raise StandardsError(f"{where}: artifact {artifact.id!r} is defined already, "
                                     f"in {self.source}")
        artifacts = self.artifacts + extra.artifacts
        _check_across(artifacts, where)
        digest = hashlib.sha256(f"{self.sha256} {extra.sha256}".encode()).hexdigest()
        return Manifest(artifacts=artifacts, source=self.source, sha256=digest,
                        added=(*self.added, extra.source, *extra.added))

    def artifact(self, artifact_id: str) -> Artifact:
        for artifact in self.artifacts:
            if artifact.id == artifact_id:
                return artifact
        known = ", ".join(a.id for a in self.artifacts)
        raise StandardsError(f"unknown artifact {artifact_id!r}; known artifacts: {known}")

    def select(self, only: Iterable[str] | None = None) -> tuple[Artifact, ...]:
        """The artifacts named in ``only`` plus those they require; all when ``only`` is None."""
        if only is None:
            return self.artifacts
        wanted: set[str] = set()
        pending = list(only)
        while pending:
            artifact = self.artifact(pending.pop())
            if artifact.id not in wanted:
                wanted.add(artifact.id)
                pending.extend(artifact.requires)
        return tuple(a for a in self.artifacts if a.id in wanted)

    def entries(
        self, artifacts: Iterable[Artifact] | None = None,
    ) -> list[tuple[Artifact, ArtifactFile]]:
        """Each file once, with the first artifact that lists it, sorted by path.

        A file may belong to several sets (a shared licence text); it is
        installed and checked once.
        """
        seen: dict[str, tuple[Artifact, ArtifactFile]] = {}
        for artifact in self.artifacts if artifacts is None else artifacts:
            for file in artifact.files:
                seen.setdefault(file.path, (artifact, file))
        return [seen[path] for path in sorted(seen)]

    def owners(self, path: str) -> tuple[str, ...]:
        """Ids of the artifacts that list ``path``."""
        return tuple(a.id for a in self.artifacts if any(f.path == path for f in a.files))

    def file(self, path: str) -> ArtifactFile:
        for artifact in self.artifacts:
            for file in artifact.files:
                if file.path == path:
                    return file
        listed = ", ".join(str(source) for source in (self.source, *self.added))
        raise StandardsError(f"{path} is not listed in the standards manifest ({listed})")


def load_manifest(path: Path | None = None, *, beside: Manifest | None = None) -> Manifest:
    """Read and validate a manifest; errors name the file and the artifact id.

    ``beside`` is the manifest this one extends (a plugin's beside Wissel's):
    its artifacts may require those.
    """
    source = path or DEFAULT_MANIFEST_PATH
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise StandardsError(f"cannot read the standards manifest {source}: {exc}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StandardsError(f"{source}: not a valid TOML file: {exc}") from exc
    artifacts = _parse(data, source, () if beside is None else beside.artifacts)
    return Manifest(artifacts=artifacts, source=source, sha256=hashlib.sha256(raw).hexdigest())


@functools.cache
def default_manifest() -> Manifest:
    """The manifest shipped with Wissel, read once per process."""
    return load_manifest(DEFAULT_MANIFEST_PATH)


def _parse(
    data: Mapping[str, Any], source: Path, beside: Sequence[Artifact] = (),
) -> tuple[Artifact, ...]:
    version = data.get("manifest_version")
    if version != MANIFEST_VERSION:
        raise StandardsError(
            f"{source}: manifest_version is {version!r}, this Wissel reads {MANIFEST_VERSION}"
        )
    tables = data.get("artifact")
    if not isinstance(tables, list) or not tables:
        raise StandardsError(f"{source}: no [[artifact]] tables")
    artifacts: list[Artifact] = []
    for index, table in enumerate(tables, start=1):
        where = f"{source}: artifact #{index}"
        if not isinstance(table, dict):
            raise StandardsError(f"{where}: not a table")
        artifact_id = _string(table, "id", where)
        if not _ID_RE.match(artifact_id):
            raise StandardsError(f"{where}: id {artifact_id!r} must be lower-case letters, "
                                 "digits, '.' and '-'")
        artifacts.append(_parse_artifact(table, f"{source}: artifact {artifact_id!r}"))
    _check_across(artifacts, source, beside)
    return tuple(artifacts)


def _parse_artifact(table: Mapping[str, Any], where: str) -> Artifact:
    known = {"id", "version", "title", "licence", "source", "base_url", "root", "note",
             "requires", "file"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise StandardsError(f"{where}: unknown field(s) {', '.join(unknown)}")
    base_url = _string(table, "base_url", where, allow_empty=True)
    if base_url and not (base_url.startswith(("https://", "http://")) and base_url.endswith("/")):
        raise StandardsError(f"{where}: base_url must be an http(s) address ending in '/'")
    root = _string(table, "root", where, allow_empty=True)
    if root:
        _check_relative(root, f"{where}: root")
    requires = table.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise StandardsError(f"{where}: requires must be a list of artifact ids")
    files_raw = table.get("file")
    if not isinstance(files_raw, list) or not files_raw:
        raise StandardsError(f"{where}: no [[artifact.file]] entries")
    files = tuple(_parse_file(entry, where, base_url, root) for entry in files_raw)
    paths = [f.path for f in files]
    duplicates = sorted({p for p in paths if paths.count(p) > 1})
    if duplicates:
        raise StandardsError(f"{where}: file(s) listed twice: {', '.join(duplicates)}")
    artifact = Artifact(
        id=_string(table, "id", where),
        version=_string(table, "version", where),
        title=_string(table, "title", where),
        licence=_string(table, "licence", where),
        source=_string(table, "source", where),
        base_url=base_url,
        root=root,
        note=_string(table, "note", where, allow_empty=True, required=False),
        requires=tuple(requires),
        files=files,
    )
    if not artifact.note and any(artifact.url_for(f) is None for f in files):
        raise StandardsError(f"{where}: files without an official download address need a "
                             "note saying why")
    return artifact


def _parse_file(entry: Any, where: str, base_url: str, root: str) -> ArtifactFile:
    if not isinstance(entry, dict):
        raise StandardsError(f"{where}: an [[artifact.file]] entry is not a table")
    path = _string(entry, "path", f"{where}: file")
    where = f"{where}: file {path!r}"
    unknown = sorted(set(entry) - {"path", "sha256", "size", "url"})
    if unknown:
        raise StandardsError(f"{where}: unknown field(s) {', '.join(unknown)}")
    _check_relative(path, where)
    sha256 = _string(entry, "sha256", where)
    if not _SHA256_RE.match(sha256):
        raise StandardsError(f"{where}: sha256 must be 64 lower-case hex digits")
    size = entry.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise StandardsError(f"{where}: size must be a non-negative integer")
    url: str | None = None
    if "url" in entry:
        url = _string(entry, "url", where, allow_empty=True)
        if url and not url.startswith(("https://", "http://")):
            raise StandardsError(f"{where}: url must be an http(s) address or empty")
    elif base_url and root and not path.startswith(root + "/"):
        raise StandardsError(f"{where}: path is not below the artifact root {root!r}; "
                             "give the file its own url")
    return ArtifactFile(path=path, sha256=sha256, size=size, url=url)


def _check_across(
    artifacts: Sequence[Artifact], source: Path, beside: Sequence[Artifact] = (),
) -> None:
    ids = [a.id for a in artifacts]
    known = set(ids) | {a.id for a in beside}
    for artifact in artifacts:
        if ids.count(artifact.id) > 1:
            raise StandardsError(f"{source}: artifact {artifact.id!r} is defined twice")
        for required in artifact.requires:
            if required not in known:
                raise StandardsError(f"{source}: artifact {artifact.id!r} requires unknown "
                                     f"artifact {required!r}")
    # A shared file must be the same file in every set that lists it, or an
    # install of one set would silently replace the other's copy.
    first: dict[str, tuple[str, ArtifactFile]] = {}
    for artifact in (*beside, *artifacts):
        for file in artifact.files:
            earlier = first.setdefault(file.path, (artifact.id, file))
            if (earlier[1].sha256, earlier[1].size) != (file.sha256, file.size):
                raise StandardsError(
                    f"{source}: artifact {artifact.id!r}: file {file.path!r} differs from the "
                    f"same path in artifact {earlier[0]!r}"
                )


def _string(
    table: Mapping[str, Any], key: str, where: str, *, allow_empty: bool = False,
    required: bool = True,
) -> str:
    if key not in table:
        if required:
            raise StandardsError(f"{where}: missing field {key!r}")
        return ""
    value = table[key]
    if not isinstance(value, str):
        raise StandardsError(f"{where}: field {key!r} must be a string")
    if not value and not allow_empty:
        raise StandardsError(f"{where}: field {key!r} is empty")
    return value


def _check_relative(path: str, where: str) -> None:
    # Paths become file names under the target directory; anything that could
    # climb out of it, or means something else on Windows, is refused.
    pure = PurePosixPath(path)
    if (
        not path or "\\" in path or pure.is_absolute() or ".." in pure.parts
        or str(pure) != path or ":" in path
    ):
        raise StandardsError(f"{where}: {path!r} must be a plain relative path with '/'")


# --------------------------------------------------------------------------
# Maintainer script: the set definitions and the generator.


@attrs.frozen
class SetDefinition:
    """How to find one artifact set in the shared standards tree.

    ``patterns`` are globs relative to the tree. ``renamed`` maps a local path
    to its path below ``base_url`` for files stored under another name.
    """

    id: str
    version: str
    title: str
    licence: str
    source: str
    base_url: str
    root: str
    patterns: tuple[str, ...]
    note: str = ""
    requires: tuple[str, ...] = ()
    renamed: Mapping[str, str] = attrs.field(factory=dict)


def _github(repo: str, commit: str, path: str = "") -> str:
    """The raw-file address of ``path`` in ``repo`` at ``commit``, ending in '/'."""
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{quote(path)}"


_UBL_REPO = "kduvekot/ubl-release-package"
_UBL_21 = "69d9f20189fe7fa551dcc59f17d8480e70cda970"
_OASIS_LICENCE = (
    "Copyright OASIS Open 2001-2013, under the OASIS IPR Policy. You may copy and distribute "
    "the files without restriction if you keep the notice and do not modify them"
)
_EN16931_REPO = "ConnectingEurope/eInvoicing-EN16931"
_EN16931 = "b6c9e06a59812fb1a83585da40923b3678a649ad"
_BILLING_REPO = "OpenPEPPOL/peppol-bis-invoice-3"
_BILLING = "78d7f7dfa223f39f8ebd8d35c127f2690e646322"
_ORDERING_REPO = "OpenPEPPOL/poacc-upgrade-3"
_ORDERING = "0e7e5c790f786350fafb6384c46ca40d3db0b777"
_SIUBL_REPO = "peppolautoriteit-nl/validation"
_SIUBL = "7a75d1b64048a64cd9654b52c71535e0b4f408f0"
_SIUBL_LICENCE = (
    "MIT (Stichting Simplerinvoicing). The embedded CEN rules carry their own Apache-2.0 "
    "header (schematron/si-ubl-2.0/CenPC434/LICENSE.txt)"
)
_ELUINSTRA_REPO = "eluinstra/efactuur-pdf-nl"
_ELUINSTRA = "8fd5a88e413bea84b584353038c4311982388bbe"
_ELUINSTRA_DOMAIN = "src/main/resources/nl/clockwork/efactuur/nl/domain/"
_OHNL_LICENCE = (
    "The content is Logius UBL-OHNL, built on OASIS UBL 2.0 (OASIS notice applies). "
    "The source repository is Apache-2.0"
)
_DIGIPOORT_REPO = "OpenSBR/DigipoortWusConnection"
_DIGIPOORT = "2e2adf784061bac3169e594faac9a8b9d8eb20a7"
_DIGIPOORT_SERVICES = "Connected Services/"

SETS: tuple[SetDefinition, ...] = (
    SetDefinition(
        id="ubl-2.1-xsd",
        version="2.1",
        title="OASIS UBL 2.1 runtime schemas (xsdrt)",
        licence=_OASIS_LICENCE,
        source=f"https://github.com/{_UBL_REPO} @ {_UBL_21} (xsdrt/**)",
        base_url=_github(_UBL_REPO, _UBL_21),
        root="oasis-ubl/ubl-2.1",
        # Only the runtime copies: the formats load xsdrt/, and xsd/ holds the same
        # types with their documentation (4.9 MB more to fetch and keep). UBL 2.0
        # is not pinned: the UBL-OHNL sets carry their own UBL 2.0 schemas.
        patterns=("oasis-ubl/ubl-2.1/xsdrt/**/*.xsd",),
    ),
    SetDefinition(
        id="en16931-ubl-xslt",
        version="1.3.16",
        title="CEN EN 16931 validation rules for UBL, compiled upstream to XSLT 2.0",
        licence="EUPL-1.2 (CEN/TC 434 content)",
        source=f"https://github.com/{_EN16931_REPO} @ {_EN16931} (validation-1.3.16)",
        base_url=_github(_EN16931_REPO, _EN16931),
        root="en16931",
        patterns=("en16931/ubl/xslt/EN16931-UBL-validation.xslt", "en16931/LICENSE.txt"),
    ),
    SetDefinition(
        id="peppol-bis-billing-3-xslt",
        version="3.0.19",
        title="Peppol BIS Billing 3 rules (Peppol and national layer), compiled to XSLT 2.0",
        licence=(
            "Not stated: no LICENSE file. The Peppol .sch header says the CEN material is "
            "\"reproduced with permission from CEN\". The ISO Schematron skeleton used to "
            "compile it is MIT"
        ),
        source=(
            f"https://github.com/{_BILLING_REPO} @ {_BILLING} "
            "(rules/sch/PEPPOL-EN16931-UBL.sch, compiled locally)"
        ),
        base_url="",
        root="peppol-bis-billing-3",
        patterns=("peppol-bis-billing-3/xslt/*.xslt",),
        note=(
            "No official download: OpenPeppol publishes only the .sch. The XSLT was compiled "
            "from rules/sch/PEPPOL-EN16931-UBL.sch with the ISO Schematron skeleton on "
            "SaxonC-HE 13.1.1 (see xslt/README.md in the shared standards tree); install it "
            "from a folder with `gateway standards install --from DIR`."
        ),
    ),
    SetDefinition(
        id="peppol-bis-ordering-3-xslt",
        version="2025-05",
        title="Peppol BIS Ordering/post-award 3 rules (T01-T116), compiled to XSLT 2.0",
        licence=(
            "Not stated: no LICENSE file. The ISO Schematron skeleton used to compile it is MIT"
        ),
        source=(
            f"https://github.com/{_ORDERING_REPO} @ {_ORDERING} "
            "(rules/sch/** and structure/**, compiled locally)"
        ),
        base_url="",
        root="peppol-bis-ordering-3",
        patterns=("peppol-bis-ordering-3/xslt/*.xslt",),
        note=(
            "No official download: OpenPeppol publishes only the .sch, and its generated "
            "Txx-basic.sch part comes from a tool whose source is not public. The XSLTs were "
            "built from rules/sch and structure/ as xslt/README.md in the shared standards "
            "tree describes; install them from a folder with "
            "`gateway standards install --from DIR`."
        ),
    ),
    SetDefinition(
        id="si-ubl-2.0-xslt",
        version="2.0.3.12",
        title="SI-UBL 2.0 (NLCIUS) validation, compiled upstream to XSLT 2.0",
        licence=_SIUBL_LICENCE,
        source=f"https://github.com/{_SIUBL_REPO} @ {_SIUBL} (release 2025-11-27)",
        base_url=_github(_SIUBL_REPO, _SIUBL),
        root="si-ubl-validation",
        patterns=(
            "si-ubl-validation/xsl/si-ubl-2.0.xsl",
            "si-ubl-validation/LICENSE.txt",
            "si-ubl-validation/schematron/si-ubl-2.0/CenPC434/LICENSE.txt",
        ),
    ),
    SetDefinition(
        id="si-ubl-2.0-gaccount-xslt",
        version="1.0.2.12",
        title="SI-UBL 2.0 G-account extension validation, compiled upstream to XSLT 2.0",
        licence=_SIUBL_LICENCE,
        source=f"https://github.com/{_SIUBL_REPO} @ {_SIUBL} (release 2025-11-27)",
        base_url=_github(_SIUBL_REPO, _SIUBL),
        root="si-ubl-validation",
        patterns=(
            "si-ubl-validation/xsl/si-ubl-2.0-ext-gaccount.xsl",
            "si-ubl-validation/LICENSE.txt",
            "si-ubl-validation/schematron/si-ubl-2.0/CenPC434/LICENSE.txt",
        ),
    ),
    SetDefinition(
        id="ubl-ohnl-1.9",
        version="1.9",
        title="Logius UBL-OHNL 1.9: UBL 2.0 with NL extensions (xsd, xsdrt) and compiled "
              "Schematron XSLT",
        licence=_OHNL_LICENCE,
        source=f"https://github.com/{_ELUINSTRA_REPO} @ {_ELUINSTRA} ({_ELUINSTRA_DOMAIN}ubl/1.9)",
        base_url=_github(_ELUINSTRA_REPO, _ELUINSTRA, _ELUINSTRA_DOMAIN + "ubl/1.9/"),
        root="ubl-ohnl/1.9",
        patterns=(
            "ubl-ohnl/1.9/xsd/**/*.xsd", "ubl-ohnl/1.9/xsdrt/**/*.xsd", "ubl-ohnl/1.9/*.xsl",
        ),
    ),
    SetDefinition(
        id="ubl-ohnl-1.8",
        version="1.8",
        title="Logius UBL-OHNL 1.8 (adds RequestForQuotation, Quotation, DespatchAdvice): "
              "xsd, xsdrt and compiled Schematron XSLT",
        licence=_OHNL_LICENCE,
        source=f"https://github.com/{_ELUINSTRA_REPO} @ {_ELUINSTRA} ({_ELUINSTRA_DOMAIN}ubl/1.8)",
        base_url=_github(_ELUINSTRA_REPO, _ELUINSTRA, _ELUINSTRA_DOMAIN + "ubl/1.8/"),
        root="ubl-ohnl/1.8",
        patterns=(
            "ubl-ohnl/1.8/xsd/**/*.xsd", "ubl-ohnl/1.8/xsdrt/**/*.xsd", "ubl-ohnl/1.8/*.xsl",
        ),
    ),
    SetDefinition(
        id="setu-ohnl-2.0",
        version="2.0",
        title="SETU (HR-XML) OHNL 2.0: HR-XML 2.5 base and NL extension schemas, compiled "
              "Schematron XSLT (StaffingOrder, HumanResource, TimeCard, Invoice)",
        licence=(
            "HR-XML Consortium copyright (\"Terms of license can be found in license.txt\"; "
            "that file is in neither source repository). SETU/Logius additions. The source "
            "repository is Apache-2.0"
        ),
        source=f"https://github.com/{_ELUINSTRA_REPO} @ {_ELUINSTRA} ({_ELUINSTRA_DOMAIN}setu/2.0)",
        base_url=_github(_ELUINSTRA_REPO, _ELUINSTRA, _ELUINSTRA_DOMAIN + "setu/2.0/"),
        root="hr-xml-ohnl/ohnl-2.0",
        patterns=("hr-xml-ohnl/ohnl-2.0/**/*.xsd", "hr-xml-ohnl/ohnl-2.0/*.xsl"),
        requires=("w3c-xmldsig-xsd",),
    ),
    SetDefinition(
        id="w3c-xmldsig-xsd",
        version="REC-xmldsig-core-20020212",
        title="W3C XML Signature, XML Encryption and xml: namespace schemas, as bundled with "
              "SETU OHNL",
        licence=(
            "Not stated in SOURCES.md for these files (their source repository is Apache-2.0). "
            "The xmldsig-core-schema.xsd header says W3C Software License"
        ),
        source=f"https://github.com/{_ELUINSTRA_REPO} @ {_ELUINSTRA} ({_ELUINSTRA_DOMAIN}setu/W3C)",
        base_url=_github(_ELUINSTRA_REPO, _ELUINSTRA, _ELUINSTRA_DOMAIN + "setu/W3C/"),
        root="hr-xml-ohnl/W3C",
        patterns=("hr-xml-ohnl/W3C/*.xsd",),
    ),
    SetDefinition(
        id="digipoort-wus-1.2",
        version="1.2",
        title="Logius Digipoort WUS 1.2 WSDLs (aanleveren, statusinformatie, ophalen) and "
              "koppelvlak XSD",
        licence=(
            "The WSDL/XSD are Logius Digipoort artefacts with no licence stated. The source "
            "repository is MIT"
        ),
        source=f"https://github.com/{_DIGIPOORT_REPO} @ {_DIGIPOORT} (files renamed)",
        base_url=_github(_DIGIPOORT_REPO, _DIGIPOORT),
        root="digipoort-wus",
        patterns=("digipoort-wus/*.wsdl", "digipoort-wus/*.xsd",
                  "digipoort-wus/LICENSE-OpenSBR-repo.txt"),
        note=(
            "Stored under other names than upstream, so every file gives its own url. The "
            "WSDLs import the koppelvlak XSD as /cpl/digipoort-koppelvlak-1.2.xsd; the channel "
            "must map that location to the installed file."
        ),
        renamed={
            "digipoort-wus/AanleverService_V1_2.wsdl":
                _DIGIPOORT_SERVICES + "ServiceReferenceAanleveren/1.wsdl",
            "digipoort-wus/StatusinformatieService_V1_2.wsdl":
                _DIGIPOORT_SERVICES + "ServiceReferenceStatusInformatie/1.wsdl",
            "digipoort-wus/OphaalService_V1_2.wsdl":
                _DIGIPOORT_SERVICES + "ServiceReferenceOphalen/OphaalService_V1_2.wsdl",
            "digipoort-wus/digipoort-koppelvlak-1.2.xsd":
                _DIGIPOORT_SERVICES + "ServiceReferenceAanleveren/digipoort-koppelvlak-1.xsd",
            "digipoort-wus/LICENSE-OpenSBR-repo.txt": "LICENSE",
        },
    ),
)


def scan(tree: Path, definitions: Sequence[SetDefinition] = SETS) -> list[Artifact]:
    """Build the artifacts by matching the definitions against ``tree``."""
    artifacts = []
    for definition in definitions:
        matched: set[str] = set()
        for pattern in definition.patterns:
            hits = {p.relative_to(tree).as_posix() for p in tree.glob(pattern) if p.is_file()}
            if not hits:
                raise StandardsError(f"set {definition.id!r}: pattern {pattern!r} matches "
                                     f"nothing in {tree}")
            matched |= hits
        unknown = sorted(set(definition.renamed) - matched)
        if unknown:
            raise StandardsError(f"set {definition.id!r}: renamed file(s) not matched: "
                                 f"{', '.join(unknown)}")
        files = []
        for path in sorted(matched):
            data = (tree / path).read_bytes()
            upstream = definition.renamed.get(path)
            files.append(ArtifactFile(
                path=path,
                sha256=hashlib.sha256(data).hexdigest(),
                size=len(data),
                url=None if upstream is None else definition.base_url + quote(upstream),
            ))
        artifacts.append(Artifact(
            id=definition.id, version=definition.version, title=definition.title,
            licence=definition.licence, source=definition.source,
            base_url=definition.base_url, root=definition.root, note=definition.note,
            requires=definition.requires, files=tuple(files),
        ))
    return sorted(artifacts, key=lambda a: a.id)


def render(artifacts: Sequence[Artifact]) -> str:
    """The manifest text: deterministic, so a regeneration diff shows only real changes."""
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Official artifacts Wissel needs at run time, pinned by sha256."))
    doc.add(tomlkit.comment("Generated; do not edit. Change the set definitions in "
                            "gateway/standards/manifest.py, then run"))
    doc.add(tomlkit.comment("  python -m gateway.standards.manifest --scan DIR "
                            "--write schemas/standards.toml"))
    doc.add(tomlkit.comment("Install: gateway standards install [--from DIR|URL]"))
    doc.add("manifest_version", MANIFEST_VERSION)
    tables = tomlkit.aot()
    for artifact in sorted(artifacts, key=lambda a: a.id):
        table = tomlkit.table()
        for key in ("id", "version", "title", "licence", "source", "base_url", "root"):
            table.add(key, getattr(artifact, key))
        if artifact.note:
            table.add("note", artifact.note)
        if artifact.requires:
            table.add("requires", sorted(artifact.requires))
        files = tomlkit.aot()
        for file in sorted(artifact.files, key=lambda f: f.path):
            entry = tomlkit.table()
            entry.add("path", file.path)
            entry.add("sha256", file.sha256)
            entry.add("size", file.size)
            if file.url is not None:
                entry.add("url", file.url)
            files.append(entry)
        table.add("file", files)
        tables.append(table)
    doc.add("artifact", tables)
    return tomlkit.dumps(doc)


_REFERENCE_RE = re.compile(
    r"""(?:schemaLocation|location|href)\s*=\s*["']([^"']+)["']|document\(\s*["']([^"']+)["']"""
)


def dangling_references(tree: Path, artifacts: Sequence[Artifact]) -> list[str]:
    """Relative includes/imports that point at a file outside the set and what it requires.

    These would fail at run time after an ``--only`` install, or always when
    the target is not in the tree at all.
    """
    by_id = {a.id: a for a in artifacts}
    warnings = []
    for artifact in artifacts:
        available = {f.path for f in artifact.files}
        for required in artifact.requires:
            available |= {f.path for f in by_id[required].files}
        for file in artifact.files:
            if not file.path.endswith((".xsd", ".wsdl", ".xsl", ".xslt")):
                continue
            text = (tree / file.path).read_text(encoding="utf-8", errors="replace")
            for match in _REFERENCE_RE.finditer(text):
                reference = match.group(1) or match.group(2)
                if "://" in reference or reference.startswith(("#", "urn:")):
                    continue
                if reference.startswith("/"):
                    warnings.append(f"{artifact.id}: {file.path} refers to the absolute path "
                                    f"{reference}")
                    continue
                target = _normalise(PurePosixPath(file.path).parent / reference)
                if target not in available:
                    warnings.append(f"{artifact.id}: {file.path} refers to {reference}, which "
                                    "is not in the set or the sets it requires")
    return sorted(set(warnings))


def _normalise(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.standards.manifest",
        description="Regenerate the standards manifest from a standards tree.",
    )
    parser.add_argument("--scan", type=Path, required=True, metavar="DIR",
                        help="the standards tree, e.g. /work/shared/standards")
    parser.add_argument("--write", type=Path, metavar="FILE",
                        help="write the manifest here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        artifacts = scan(args.scan)
    except StandardsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in dangling_references(args.scan, artifacts):
        print(f"warning: {warning}", file=sys.stderr)
    text = render(artifacts)
    # Check our own output with the loader, so a bad definition never lands.
    try:
        _parse(tomllib.loads(text), args.write or Path("<generated>"))
    except StandardsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        unique = {f.path: f.size for a in artifacts for f in a.files}
        count, size = len(unique), sum(unique.values())
        print(f"wrote {args.write}: {len(artifacts)} artifacts, {count} files, {size} bytes",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
