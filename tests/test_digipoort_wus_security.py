"""WS-Security: what we sign verifies, and every kind of tampering is refused by name."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns
from plugins.digipoort.wus.envelope import request_envelope
from plugins.digipoort.wus.pki import Pki, make_pki, supplier_serial_number
from plugins.digipoort.wus.security import (
    Algorithm,
    SecurityError,
    SigningIdentity,
    TimestampRule,
    Trust,
    sign,
    verify,
)


@pytest.fixture(autouse=True)
def _standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def identity(pki: Pki) -> SigningIdentity:
    return SigningIdentity.from_files(pki.supplier.cert, pki.supplier.key)


@pytest.fixture(scope="module")
def trust(pki: Pki) -> Trust:
    return Trust.from_pem_files(pki.ca)


def _envelope() -> etree._Element:
    body = kv.AanleverRequest(
        "FACTUUR-UBL",
        kv.Identiteit("30216247", "KvK"),
        "Bedrijf",
        kv.BerichtInhoud("text/xml", "f.xml", b"<Invoice/>"),
        aanleverkenmerk="Happyflow",
    ).to_element()
    return request_envelope(body, to="https://127.0.0.1/aanlever", action=ns.AANLEVEREN)


@pytest.mark.parametrize("algorithm", ["rsa-sha1", "rsa-sha256"])
def test_sign_then_verify(
    algorithm: Algorithm, identity: SigningIdentity, trust: Trust, pki: Pki
) -> None:
    data = sign(_envelope(), identity, algorithm)
    verified = verify(data, trust)
    assert verified.algorithm == algorithm
    assert verified.certificate == identity.certificate
    assert verified.envelope.body is not None
    assert kv.parse_body(verified.envelope.body).aanleverkenmerk == "Happyflow"
    root = etree.fromstring(data)
    uri = {"rsa-sha1": "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
           "rsa-sha256": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"}[algorithm]
    method = root.find(f".//{{{ns.DS}}}SignatureMethod")
    assert method is not None
    assert method.get("Algorithm") == uri


def test_security_header_layout(identity: SigningIdentity) -> None:
    root = etree.fromstring(sign(_envelope(), identity))
    security = root.find(f"{{{ns.SOAP}}}Header/{{{ns.WSSE}}}Security")
    assert security is not None
    names = [etree.QName(c).localname for c in security]
    assert names == ["BinarySecurityToken", "Timestamp", "Signature"]
    token = security[0]
    assert token.get("ValueType", "").endswith("#X509v3")
    assert token.get("EncodingType", "").endswith("#Base64Binary")
    c14n = {m.get("Algorithm") for m in root.iter(f"{{{ns.DS}}}CanonicalizationMethod")}
    assert c14n == {ns.EXC_C14N}
    signed = {r.get("URI") for r in root.iter(f"{{{ns.DS}}}Reference")}
    parts = [root.find(f"{{{ns.SOAP}}}Body"), security[1]]
    header = root.find(f"{{{ns.SOAP}}}Header")
    assert header is not None
    parts += [h for h in header if etree.QName(h).namespace == ns.WSA]
    assert len(parts) == 6  # Body, Timestamp, To, Action, MessageID, ReplyTo
    assert signed == {f"#{p.get(f'{{{ns.WSU}}}Id')}" for p in parts if p is not None}
    created = security[1].findtext(f"{{{ns.WSU}}}Created")
    expires = security[1].findtext(f"{{{ns.WSU}}}Expires")
    assert created is not None
    assert expires is not None
    assert datetime.fromisoformat(expires) - datetime.fromisoformat(created) == timedelta(
        minutes=5
    )


def _tamper(data: bytes, change: Callable[[etree._Element], None]) -> bytes:
    root = etree.fromstring(data)
    change(root)
    return bytes(etree.tostring(root))


def _set_text(path: str, text: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = root.find(path)
        assert element is not None, path
        element.text = text

    return change


def _remove(path: str) -> Callable[[etree._Element], None]:
    def change(root: etree._Element) -> None:
        element = root.find(path)
        assert element is not None, path
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)

    return change


def _add_unsigned_header(root: etree._Element) -> None:
    header = root.find(f"{{{ns.SOAP}}}Header")
    assert header is not None
    extra = etree.SubElement(header, f"{{{ns.WSA}}}FaultTo")
    etree.SubElement(extra, f"{{{ns.WSA}}}Address").text = "https://evil.example/"
    extra.set(f"{{{ns.WSU}}}Id", "unsigned")


KV_INHOUD = f"{{{ns.SOAP}}}Body/{{{ns.KV}}}aanleverRequest/{{{ns.KV}}}aanleverkenmerk"
SECURITY = f"{{{ns.SOAP}}}Header/{{{ns.WSSE}}}Security"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_set_text(KV_INHOUD, "Other"), "digest mismatch for soapenv:Body"),
        (
            _set_text(f"{{{ns.SOAP}}}Header/{{{ns.WSA}}}To", "https://elsewhere/"),
            "digest mismatch for wsa:To",
        ),
        (
            _set_text(f"{SECURITY}/{{{ns.WSU}}}Timestamp/{{{ns.WSU}}}Expires",
                      "2099-01-01T00:00:00Z"),
            "digest mismatch for wsu:Timestamp",
        ),
        (_remove(f"{SECURITY}/{{{ns.WSU}}}Timestamp"), "no wsu:Timestamp"),
        (_remove(f"{SECURITY}/{{{ns.DS}}}Signature"), "not signed"),
        (_remove(SECURITY), "no wsse:Security header"),
        (_remove(f"{SECURITY}/{{{ns.WSSE}}}BinarySecurityToken"), "no wsse:BinarySecurityToken"),
        (_add_unsigned_header, "wsa:FaultTo is not covered by the signature"),
        (
            _set_text(f"{SECURITY}/{{{ns.DS}}}Signature/{{{ns.DS}}}SignatureValue",
                      "AAAA" * 86 + "AA=="),
            "signature value does not verify",
        ),
    ],
    ids=["body", "header", "timestamp", "no-timestamp", "no-signature", "no-security",
         "no-token", "unsigned-header", "signature-value"],
)
def test_tampering_is_refused(
    change: Callable[[etree._Element], None],
    reason: str,
    identity: SigningIdentity,
    trust: Trust,
) -> None:
    data = _tamper(sign(_envelope(), identity), change)
    with pytest.raises(SecurityError, match=reason):
        verify(data, trust)


def test_expired_timestamp_is_refused(identity: SigningIdentity, trust: Trust) -> None:
    old = datetime.now(UTC) - timedelta(hours=1)
    data = sign(_envelope(), identity, now=old)
    with pytest.raises(SecurityError, match="timestamp expired"):
        verify(data, trust)
    # Within the clock skew it is still fine.
    assert verify(data, trust, timestamps=TimestampRule(max_clock_skew=timedelta(hours=2))
                  ).certificate


def test_future_timestamp_is_refused(identity: SigningIdentity, trust: Trust) -> None:
    data = sign(_envelope(), identity, now=datetime.now(UTC) + timedelta(hours=1))
    with pytest.raises(SecurityError, match="created in the future"):
        verify(data, trust)


def test_certificate_from_unknown_ca_is_refused(pki: Pki, trust: Trust) -> None:
    stranger = SigningIdentity.from_files(pki.unknown_supplier.cert, pki.unknown_supplier.key)
    data = sign(_envelope(), stranger)
    with pytest.raises(SecurityError, match="not issued by a trusted CA"):
        verify(data, trust)
    # Trusting that CA makes the same message acceptable.
    assert verify(data, Trust.from_pem_files(pki.unknown_ca)).certificate == stranger.certificate


def test_expired_certificate_is_refused(pki: Pki, trust: Trust) -> None:
    expired = SigningIdentity.from_files(pki.expired_supplier.cert, pki.expired_supplier.key)
    with pytest.raises(SecurityError, match="expired on"):
        verify(sign(_envelope(), expired), trust)


def test_algorithm_can_be_restricted(identity: SigningIdentity, trust: Trust) -> None:
    data = sign(_envelope(), identity, "rsa-sha1")
    with pytest.raises(SecurityError, match=r"rsa-sha1.*not accepted"):
        verify(data, trust, algorithms=("rsa-sha256",))


def test_supplier_certificate_carries_the_pkioverheid_serial(pki: Pki) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    cert = x509.load_pem_x509_certificate(pki.supplier.cert.read_bytes())
    serial = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert serial == "00000003302162470000" == supplier_serial_number("30216247")
    with pytest.raises(ValueError, match="8 digits"):
        supplier_serial_number("123")
    assert Pki.load(pki.folder) == pki


def test_identity_refuses_a_key_of_another_certificate(pki: Pki) -> None:
    with pytest.raises(SecurityError, match="is not the private key of"):
        SigningIdentity.from_files(pki.supplier.cert, pki.server.key)
    with pytest.raises(SecurityError, match="cannot read certificate"):
        SigningIdentity.from_files(pki.folder / "missing.pem", pki.server.key)


def test_large_inhoud_signs_and_verifies(identity: SigningIdentity, trust: Trust) -> None:
    # 8 MB of content is 10.7 MB of base64: past libxml2's default text-node limit.
    content = bytes(range(256)) * (8 * 1024 * 4)
    body = kv.AanleverRequest(
        "FACTUUR-UBL", kv.Identiteit("30216247", "KvK"), "Bedrijf",
        kv.BerichtInhoud("application/pdf", "groot.pdf", content),
    ).to_element()
    envelope = request_envelope(body, to="https://127.0.0.1/aanlever", action=ns.AANLEVEREN)
    verified = verify(sign(envelope, identity, "rsa-sha256"), trust)
    assert verified.envelope.body is not None
    assert kv.parse_body(verified.envelope.body).bericht_inhoud.inhoud == content
