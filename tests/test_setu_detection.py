"""SETU-OHNL detection: root, namespace and VersionId 2.0; nothing else is claimed.

Every SETU-OHNL format is asked about every published example (it claims its
own message only), about its own documents with the VersionId changed
(OTHER_VERSION, and decode refuses them), and about the hostile corpus of the
contract kit plus UBL documents (NO, and decode raises a GatewayError).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from setu_corpus import EXAMPLES, FORMATS

from gateway.errors import GatewayError
from gateway.formats import Detection, Format
from gateway.model.samples import example_invoice
from gateway.sniff import Sniffed
from plugins.setu_ohnl.messages import TIMECARD
from plugins.ubl_ohnl.invoice import OhnlInvoice19

FOREIGN = Path(__file__).resolve().parents[1] / "contracts" / "foreign"


def _foreign() -> list[Path]:
    return sorted(FOREIGN.iterdir()) if FOREIGN.is_dir() else []


@pytest.mark.parametrize(
    ("part", "path"), EXAMPLES, ids=[f"{p.parent.parent.name}/{p.name}" for _, p in EXAMPLES]
)
def test_each_example_is_claimed_by_its_format_only(part: str, path: Path) -> None:
    doc = Sniffed(path.read_bytes())
    for name, fmt in FORMATS.items():
        expected = Detection.MATCH if name == part else Detection.NO
        assert fmt.detect(doc) is expected, (fmt.key, path.name)


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=lambda f: f.key)
def test_another_version_id_is_other_version(fmt: Format) -> None:
    data = fmt.encode(fmt.samples()[0].document, fmt.samples()[0].context)
    marker = b'requirementTitle="VersionId">2.0<'
    assert marker in data
    other = data.replace(marker, b'requirementTitle="VersionId">1.8<')
    assert fmt.detect(Sniffed(other)) is Detection.OTHER_VERSION
    with pytest.raises(GatewayError, match=r"VersionId 1\.8"):
        fmt.decode(other)
    unversioned = data.replace(marker, b'requirementTitle="InclusiveRate">2.0<')
    assert fmt.detect(Sniffed(unversioned)) is Detection.NO
    with pytest.raises(GatewayError):
        fmt.decode(unversioned)


@pytest.mark.parametrize("path", _foreign(), ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=lambda f: f.key)
def test_foreign_input_is_refused(fmt: Format, path: Path) -> None:
    data = path.read_bytes()
    assert fmt.detect(Sniffed(data)) is Detection.NO
    with pytest.raises(GatewayError):
        fmt.decode(data)


@pytest.mark.parametrize("fmt", list(FORMATS.values()), ids=lambda f: f.key)
def test_ubl_documents_are_not_claimed(fmt: Format) -> None:
    ubl = OhnlInvoice19().encode(example_invoice(), OhnlInvoice19().samples()[0].context)
    assert fmt.detect(Sniffed(ubl)) is Detection.NO
    with pytest.raises(GatewayError, match="not a SETU-OHNL"):
        fmt.decode(ubl)


def test_version_outside_its_place_does_not_count() -> None:
    """References at any other level are ignored by the EPV; so is a VersionId."""
    fmt = FORMATS["TimeCard"]
    data = fmt.encode(fmt.samples()[0].document, fmt.samples()[0].context)
    moved = data.replace(
        b'<AdditionalRequirement requirementTitle="VersionId">2.0</AdditionalRequirement>', b""
    ).replace(
        b"<Comment>", b'<AdditionalRequirement requirementTitle="VersionId">2.0'
        b"</AdditionalRequirement><Comment>", 1,
    )
    assert TIMECARD.detect(Sniffed(moved).root) is Detection.NO
