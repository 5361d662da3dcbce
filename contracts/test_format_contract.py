"""What every format plugin must satisfy."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts import KIT_DIR
from gateway.errors import GatewayError
from gateway.formats import (
    Decoded,
    Detection,
    EncodeContext,
    Format,
    FormatKey,
    FormatStatus,
    LayerKind,
)
from gateway.kinds import Direction, DocumentKind
from gateway.paths import standards_dir
from gateway.registry import Registry
from gateway.sniff import Sniffed
from gateway.validation.engine import validator_for


def _encode(fmt: Format, document: Any, context: EncodeContext) -> bytes:
    data = fmt.encode(document, context)
    assert isinstance(data, bytes), f"{fmt.key}: encode gave {type(data).__name__}, not bytes"
    return data


def _decode(fmt: Format, data: bytes) -> Decoded:
    decoded = fmt.decode(data)
    assert isinstance(decoded, Decoded), (
        f"{fmt.key}: decode gave {type(decoded).__name__}, not a gateway.formats.Decoded"
    )
    return decoded


def _sample_bytes(fmt: Format) -> list[tuple[str, bytes]]:
    found = []
    for sample in fmt.samples():
        if sample.data is not None:
            found.append((sample.name, sample.data))
        if sample.document is not None:
            found.append((sample.name, _encode(fmt, sample.document, sample.context)))
    return found


def _foreign_corpus(registry: Registry, fmt: Format) -> list[tuple[str, bytes]]:
    corpus = [(path.name, path.read_bytes()) for path in sorted((KIT_DIR / "foreign").iterdir())]
    for key, other in registry.formats.items():
        if key != fmt.key:
            corpus += [(f"{key}/{name}", data) for name, data in _sample_bytes(other)]
    return corpus


def test_key_and_metadata(fmt: Format, format_key: str) -> None:
    parsed = FormatKey.parse(fmt.key)
    assert str(parsed) == fmt.key == format_key
    assert isinstance(fmt.kind, DocumentKind)
    assert fmt.directions, "a format must declare at least one direction"
    assert all(isinstance(d, Direction) for d in fmt.directions)
    assert isinstance(fmt.status, FormatStatus)
    assert fmt.effective_from is None or isinstance(fmt.effective_from, date)
    assert "/" in fmt.media_type, f"media type {fmt.media_type!r} is not type/subtype"
    assert fmt.description.strip(), "describe the format in one line for `gateway formats`"


def test_layers_are_ordered_xsd_first(fmt: Format, registry: Registry) -> None:
    kinds = [layer.kind for layer in fmt.layers()]
    assert kinds == sorted(kinds, key=lambda k: k != LayerKind.XSD), kinds
    for layer in fmt.layers():
        assert layer.artifact, f"layer {layer.name} names no artifact"
        assert not layer.artifact.startswith("/"), (
            f"layer {layer.name}: artifact must be a path inside the standards tree"
        )
    manifest = registry.manifest  # Wissel's pinned files and those plugins add
    for layer in fmt.layers():
        # The gateway installs and finds only the pinned files: any other path fails at
        # the first document, in production, as "not listed in the standards manifest".
        assert manifest.owners(layer.artifact), (
            f"layer {layer.name}: artifact {layer.artifact} is not in the standards manifest "
            "(`gateway standards list`), so the gateway can neither install nor find it; a "
            "plugin pins its own official files with registry.add_standards(MANIFEST)"
        )


def test_samples_pass_their_own_layers(fmt: Format, registry: Registry) -> None:
    """What the format writes passes the official rules it names: the receiver runs them."""
    layers = fmt.layers()
    directory = standards_dir()
    missing = [layer.artifact for layer in layers if not (directory / layer.artifact).is_file()]
    if missing:
        pytest.skip(f"{missing[0]} is not installed in {directory}: install the standards "
                    "(`gateway standards install --from DIR`) to check the samples against them")
    validator = validator_for(directory, registry.manifest)
    for name, data in _sample_bytes(fmt):
        report = validator.validate(data, layers, format_key=fmt.key)
        assert report.valid, (
            f"sample {name} fails the format's own layers: "
            + "; ".join(str(finding) for finding in report.errors[:3])
        )


def test_declares_samples(fmt: Format) -> None:
    assert fmt.samples(), "declare at least one sample so the kit can round-trip the format"


def test_detects_its_own_samples(fmt: Format) -> None:
    for name, data in _sample_bytes(fmt):
        assert fmt.detect(Sniffed(data)) is Detection.MATCH, f"sample {name} not recognised"


def test_the_gateway_detects_its_samples_as_this_format(fmt: Format, registry: Registry) -> None:
    """No other installed format claims them too: run with --plugin, the kit checks only the
    selected formats' detection, yet the gateway asks every format about every document."""
    for name, data in _sample_bytes(fmt):
        try:
            found = registry.detect(data).format.key
        except GatewayError as exc:
            pytest.fail(f"sample {name}: {exc}")
        assert found == fmt.key, f"sample {name} is detected as {found}"


def test_never_claims_a_foreign_document(fmt: Format, registry: Registry) -> None:
    for name, data in _foreign_corpus(registry, fmt):
        answer = fmt.detect(Sniffed(data))
        assert answer is not Detection.MATCH, f"{fmt.key} claims the foreign document {name}"


def test_round_trip(fmt: Format) -> None:
    for sample in fmt.samples():
        if sample.document is not None:
            encoded = _encode(fmt, sample.document, sample.context)
            decoded = _decode(fmt, encoded)
            assert decoded.document == sample.document, f"sample {sample.name} changed"
        if sample.data is not None:
            first = _decode(fmt, sample.data).document
            assert first is not None, f"sample {sample.name} decoded to nothing"
            again = _decode(fmt, _encode(fmt, first, sample.context)).document
            assert again == first, f"sample {sample.name} changed on re-encoding"


def _values(data: bytes) -> set[str]:
    """Every non-empty text and attribute value of an XML document, or leaf of a JSON one."""
    sniffed = Sniffed(data)
    found: set[str] = set()
    if sniffed.root is not None:
        for element in sniffed.root.iter():
            if isinstance(element.tag, str) and element.text and element.text.strip():
                found.add(element.text.strip())
            found.update(v.strip() for v in element.attrib.values() if v.strip())
        return found
    stack = [sniffed.json]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif value is not None and str(value).strip():
            found.add(str(value).strip())
    return found


def test_decoding_loses_nothing_silently(fmt: Format) -> None:
    """What a data sample says reaches the canonical document, or decode warns about it."""
    for sample in fmt.samples():
        if sample.data is None:
            continue
        decoded = _decode(fmt, sample.data)
        again = _encode(fmt, decoded.document, sample.context)
        lost = sorted(_values(sample.data) - _values(again))
        assert not lost or decoded.warnings, (
            f"sample {sample.name}: decoding dropped {lost[:5]} without a warning"
        )


def test_encoding_is_deterministic(fmt: Format) -> None:
    for sample in fmt.samples():
        document = sample.document
        if document is None and sample.data is not None:
            document = _decode(fmt, sample.data).document
        if document is None:
            continue
        first = _encode(fmt, document, sample.context)
        assert _encode(fmt, document, sample.context) == first, (
            f"sample {sample.name}: encoding the same document twice gave different bytes"
        )
        assert fmt.detect(Sniffed(first)) is Detection.MATCH, (
            f"sample {sample.name}: the format does not recognise its own encoding"
        )


@pytest.mark.parametrize("name", sorted(p.name for p in (KIT_DIR / "foreign").iterdir()))
def test_decoding_foreign_input_fails_cleanly(fmt: Format, name: str) -> None:
    data = (KIT_DIR / "foreign" / name).read_bytes()
    with pytest.raises(GatewayError) as caught:
        fmt.decode(data)
    assert str(caught.value).strip(), "the error must say what is wrong"
