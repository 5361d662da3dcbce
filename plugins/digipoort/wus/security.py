"""WS-Security 1.0 for Digipoort WUS: sign an envelope, verify a signed one.

The signature follows the published policy (AanleverService WSDL, domain.md
3.3): a ``wsse:Security`` header holding, in this order, the
``wsse:BinarySecurityToken`` (X509v3, Base64Binary), a ``wsu:Timestamp``
(Created, Expires = Created + ``ttl``) and a ``ds:Signature`` over the Body, the
Timestamp and every WS-Addressing header present, exclusive C14N, KeyInfo as a
``wsse:SecurityTokenReference`` to the token. The algorithm is "rsa-sha1"
(RSA-SHA1 / SHA1, the published policy) or "rsa-sha256" (RSA-SHA256 / SHA256,
for the 2026 platform). The XML-DSig work is done by signxml; this module only
decides what is signed and what must be.

``verify`` refuses, with a ``SecurityError`` saying why: no Security header, no
token, no timestamp or signature; a required part not covered by the signature;
a digest or signature mismatch (tampering); a certificate not issued by a
trusted CA, or outside its validity; a signer that ``Signers`` does not allow;
a timestamp outside ``TimestampRule``.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, Literal

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature as CryptoInvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import (
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
)
from signxml.exceptions import InvalidDigest, InvalidInput, InvalidSignature
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from .envelope import ADDRESSING_HEADERS, Envelope, EnvelopeError, read_envelope
from .ns import BASE64_BINARY, DS, EXC_C14N, SOAP, WSA, WSSE, WSU, X509V3

Algorithm = Literal["rsa-sha1", "rsa-sha256"]

ALGORITHMS: Final[dict[str, tuple[SignatureMethod, DigestAlgorithm]]] = {
    "rsa-sha1": (SignatureMethod.RSA_SHA1, DigestAlgorithm.SHA1),
    "rsa-sha256": (SignatureMethod.RSA_SHA256, DigestAlgorithm.SHA256),
}

DEFAULT_TTL: Final = timedelta(minutes=5)
DEFAULT_CLOCK_SKEW: Final = timedelta(minutes=5)
# A signed message is only as fresh as its Created: without a bound on its age, a
# sender-chosen Expires far ahead lets a recorded message be replayed that long.
# Our senders write Expires = Created + DEFAULT_TTL and send at once. The length of
# the window itself is not bounded: the age bound already ends a replay, and a peer
# that writes a long TTL (Digipoort's own is not documented) must still be heard.
DEFAULT_MAX_MESSAGE_AGE: Final = DEFAULT_TTL

_ID = f"{{{WSU}}}Id"


class SecurityError(Exception):
    """A message whose WS-Security does not hold; the message says what failed."""


@attrs.frozen
class SigningIdentity:
    """A certificate and its private key (the same PKIoverheid certificate as for TLS)."""

    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey

    @classmethod
    def from_files(
        cls, cert: str | Path, key: str | Path, passphrase: str | bytes | None = None
    ) -> SigningIdentity:
        password = passphrase.encode() if isinstance(passphrase, str) else passphrase
        try:
            certificate = x509.load_pem_x509_certificate(Path(cert).read_bytes())
        except (OSError, ValueError) as exc:
            raise SecurityError(f"cannot read certificate {cert}: {exc}") from exc
        try:
            private_key = serialization.load_pem_private_key(
                Path(key).read_bytes(), password=password
            )
        except (OSError, ValueError, TypeError) as exc:
            raise SecurityError(f"cannot read private key {key}: {exc}") from exc
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise SecurityError(f"{key}: only RSA keys are supported by the WUS policy")
        public = certificate.public_key()
        if (
            not isinstance(public, rsa.RSAPublicKey)
            or private_key.public_key().public_numbers() != public.public_numbers()
        ):
            raise SecurityError(f"{key} is not the private key of {cert}")
        return cls(certificate, private_key)


@attrs.frozen
class Trust:
    """The CA certificates whose (directly issued) certificates we accept."""

    cas: tuple[x509.Certificate, ...]

    @classmethod
    def from_pem_files(cls, *paths: str | Path) -> Trust:
        cas: list[x509.Certificate] = []
        for path in paths:
            try:
                cas.extend(x509.load_pem_x509_certificates(Path(path).read_bytes()))
            except (OSError, ValueError) as exc:
                raise SecurityError(f"cannot read CA certificates from {path}: {exc}") from exc
        if not cas:
            raise SecurityError("no trusted CA certificates given")
        return cls(tuple(cas))

    def check(self, certificate: x509.Certificate, now: datetime) -> None:
        subject = certificate.subject.rfc4514_string()
        if now < certificate.not_valid_before_utc:
            raise SecurityError(
                f"certificate {subject} is not valid before "
                f"{certificate.not_valid_before_utc.isoformat()}"
            )
        if now > certificate.not_valid_after_utc:
            raise SecurityError(
                f"certificate {subject} expired on {certificate.not_valid_after_utc.isoformat()}"
            )
        for ca in self.cas:
            if ca == certificate:
                return
            if ca.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(ca)
            except (ValueError, TypeError, CryptoInvalidSignature):
                continue
            return
        raise SecurityError(
            f"certificate {subject} is not issued by a trusted CA "
            f"(issuer {certificate.issuer.rfc4514_string()})"
        )


def subject_ids(certificate: x509.Certificate) -> tuple[str, ...]:
    """The subject serialNumbers of ``certificate`` (a PKIoverheid OIN or HRN)."""
    return tuple(str(attribute.value) for attribute in
                 certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER))


def subject_text(certificate: x509.Certificate) -> str:
    """The subject as RFC 4514 text, serialNumber by its name rather than its OID."""
    return certificate.subject.rfc4514_string({NameOID.SERIAL_NUMBER: "serialNumber"})


@attrs.frozen
class Signers:
    """Who may sign, of everyone holding a certificate from a trusted CA.

    A CA such as PKIoverheid's certifies thousands of organisations, and any of
    them can sign a message that ``Trust`` accepts. The signing certificate must
    carry one of ``ids`` as subject serialNumber (the OIN or HRN of a
    PKIoverheid certificate); without ``ids``, it must be ``certificate`` itself.
    ``source`` says where the rule comes from (a setting, a TLS peer), for the
    refusal.
    """

    ids: frozenset[str]
    certificate: x509.Certificate | None
    source: str

    @classmethod
    def named(cls, ids: Iterable[str], source: str) -> Signers:
        chosen = frozenset(ids)
        if not chosen or not all(each.strip() for each in chosen):
            raise ValueError(f"{source}: name at least one subject serialNumber, "
                             f"and no empty ones, not {sorted(chosen)!r}")
        return cls(chosen, None, source)

    @classmethod
    def like(cls, certificate: x509.Certificate, source: str) -> Signers:
        """The organisation of ``certificate``: its subject serialNumbers.

        A certificate that names none stands for itself alone: a subject name
        without a registered number proves no organisation.
        """
        ids = frozenset(subject_ids(certificate))
        return cls(ids, None if ids else certificate, source)

    def check(self, certificate: x509.Certificate) -> None:
        found = subject_ids(certificate)
        if self.ids and self.ids.intersection(found):
            return
        if self.certificate is not None and certificate == self.certificate:
            return
        subject = subject_text(certificate)
        numbers = ", ".join(found) or "none"
        if self.ids:
            raise SecurityError(
                f"signer not allowed: certificate {subject} has subject serialNumber "
                f"{numbers}; allowed ({self.source}): subject serialNumber "
                f"{', '.join(sorted(self.ids))}"
            )
        pinned = subject_text(self.certificate) if self.certificate else "none"
        raise SecurityError(
            f"signer not allowed: certificate {subject} (subject serialNumber {numbers}) "
            f"is not {pinned}; allowed ({self.source}): that certificate only, since it "
            "names no subject serialNumber"
        )


def _span(value: timedelta) -> str:
    seconds = round(abs(value.total_seconds()))
    parts = [
        f"{amount} {unit}"
        for amount, unit in (
            (seconds // 86400, "d"),
            (seconds % 86400 // 3600, "h"),
            (seconds % 3600 // 60, "min"),
            (seconds % 60, "s"),
        )
        if amount
    ]
    return " ".join(parts) or "0 s"


@attrs.frozen
class TimestampRule:
    """When a receiver accepts a wsu:Timestamp, measured on its own clock ``now``.

    - Created is required (WUS policy: "wsu:Created is verplicht").
    - Created may lie at most ``max_clock_skew`` ahead of now.
    - Expires, when present, may have passed at most ``max_clock_skew`` ago.
    - Expires, when present, lies after Created.
    - Created lies at most ``max_message_age`` + ``max_clock_skew`` before now,
      whatever Expires says: this bounds how long a recorded message can be replayed.
    """

    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW
    max_message_age: timedelta = DEFAULT_MAX_MESSAGE_AGE

    def __attrs_post_init__(self) -> None:
        for name in ("max_clock_skew", "max_message_age"):
            if getattr(self, name) < timedelta(0):
                raise ValueError(f"{name} must not be negative, not {getattr(self, name)}")

    def check(self, created: datetime | None, expires: datetime | None, now: datetime) -> None:
        """Raise ``SecurityError`` naming the broken rule and the times involved."""
        if created is None:
            raise SecurityError("wsu:Timestamp has no wsu:Created (the WUS policy requires it)")
        skew = self.max_clock_skew
        at = f"now ({_timestamp_text(now)})"
        if created > now + skew:
            raise SecurityError(
                f"timestamp created in the future: Created {_timestamp_text(created)} is "
                f"{_span(created - now)} after {at}; more than max_clock_skew {_span(skew)}"
            )
        if expires is not None and expires < now - skew:
            raise SecurityError(
                f"timestamp expired: Expires {_timestamp_text(expires)} is "
                f"{_span(now - expires)} before {at}; more than max_clock_skew {_span(skew)}"
            )
        if expires is not None and expires <= created:
            raise SecurityError(
                f"timestamp Expires {_timestamp_text(expires)} is not after Created "
                f"{_timestamp_text(created)}"
            )
        age = self.max_message_age
        if created < now - age - skew:
            raise SecurityError(
                f"timestamp too old: Created {_timestamp_text(created)} is "
                f"{_span(now - created)} before {at}; more than max_message_age {_span(age)} "
                f"+ max_clock_skew {_span(skew)}"
            )


DEFAULT_TIMESTAMPS: Final = TimestampRule()


@attrs.frozen
class Verified:
    certificate: x509.Certificate
    envelope: Envelope
    algorithm: Algorithm


def _timestamp_text(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{value.microsecond // 1000:03d}Z"
    )


def _huge_parser() -> etree.XMLParser:
    # inhoud may hold 20 MB base64: more than libxml2's default text-node limit.
    # Entities, DTDs and the network stay off; the size was bounded on receipt.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
    )


class _Signer(XMLSigner):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._parser = _huge_parser()

    def check_deprecated_methods(self) -> None:
        # RSA-SHA1 is what the published WUS policy prescribes; refusing it is
        # not ours to decide.
        return None




def _ensure_id(element: etree._Element) -> str:
    existing = element.get(_ID)
    if existing:
        return str(existing)
    value = f"id-{uuid.uuid4()}"
    element.set(_ID, value)
    return value


def sign(
    envelope: etree._Element,
    identity: SigningIdentity,
    algorithm: Algorithm = "rsa-sha1",
    *,
    ttl: timedelta = DEFAULT_TTL,
    now: datetime | None = None,
) -> bytes:
    """Add the WS-Security header to ``envelope`` (in place) and return its bytes."""
    if algorithm not in ALGORITHMS:
        raise SecurityError(f"unknown signature algorithm {algorithm!r}; use {sorted(ALGORITHMS)}")
    header = envelope.find(f"{{{SOAP}}}Header")
    body = envelope.find(f"{{{SOAP}}}Body")
    if body is None:
        raise SecurityError("cannot sign: the envelope has no soapenv:Body")
    if header is None:
        header = etree.Element(f"{{{SOAP}}}Header")
        envelope.insert(0, header)
    if header.find(f"{{{WSSE}}}Security") is not None:
        raise SecurityError("cannot sign: the envelope already has a wsse:Security header")

    security = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE, "wsu": WSU})
    security.set(f"{{{SOAP}}}mustUnderstand", "1")
    header.insert(0, security)

    token = etree.SubElement(security, f"{{{WSSE}}}BinarySecurityToken")
    token.set("ValueType", X509V3)
    token.set("EncodingType", BASE64_BINARY)
    token_id = _ensure_id(token)
    token.text = base64.b64encode(
        identity.certificate.public_bytes(serialization.Encoding.DER)
    ).decode("ascii")

    created = now or datetime.now(UTC)
    timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp")
    etree.SubElement(timestamp, f"{{{WSU}}}Created").text = _timestamp_text(created)
    etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = _timestamp_text(created + ttl)

    references = [_ensure_id(body), _ensure_id(timestamp)]
    references += [_ensure_id(h) for h in _addressing_headers(header)]

    key_info = etree.Element(f"{{{DS}}}KeyInfo", nsmap={"ds": DS})
    token_ref = etree.SubElement(
        key_info, f"{{{WSSE}}}SecurityTokenReference", nsmap={"wsse": WSSE}
    )
    reference = etree.SubElement(token_ref, f"{{{WSSE}}}Reference")
    reference.set("URI", f"#{token_id}")
    reference.set("ValueType", X509V3)

    method, digest = ALGORITHMS[algorithm]
    signer = _Signer(
        method=SignatureConstructionMethod.detached,
        signature_algorithm=method,
        digest_algorithm=digest,
        c14n_algorithm=EXC_C14N,
    )
    signature = signer.sign(
        envelope,
        key=identity.private_key,
        reference_uri=[f"#{r}" for r in references],
        key_info=key_info,
        id_attribute="Id",
    )
    security.append(signature)
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def _addressing_headers(header: etree._Element) -> list[etree._Element]:
    return [
        child
        for child in header
        if isinstance(child.tag, str)
        and etree.QName(child).namespace == WSA
        and etree.QName(child).localname in ADDRESSING_HEADERS
    ]


def verify(
    data: bytes | etree._Element,
    trust: Trust,
    now: datetime | None = None,
    algorithms: tuple[Algorithm, ...] = ("rsa-sha1", "rsa-sha256"),
    *,
    timestamps: TimestampRule = DEFAULT_TIMESTAMPS,
    signers: Signers | None = None,
) -> Verified:
    """Check the WS-Security of a signed envelope; raise ``SecurityError`` when it fails.

    ``signers`` narrows who may sign among the holders of a certificate from
    ``trust``; None accepts every one of them. Malformed envelopes raise
    ``EnvelopeError`` (from ``envelope``) instead.
    """
    from .envelope import parse_envelope

    parsed = parse_envelope(data) if isinstance(data, bytes) else read_envelope(data)
    root = parsed.root
    moment = now or datetime.now(UTC)
    header = root.find(f"{{{SOAP}}}Header")
    security = header.find(f"{{{WSSE}}}Security") if header is not None else None
    if header is None or security is None:
        raise SecurityError("the message has no wsse:Security header: it is not signed")

    token = security.find(f"{{{WSSE}}}BinarySecurityToken")
    if token is None:
        raise SecurityError("wsse:Security has no wsse:BinarySecurityToken")
    if token.get("ValueType") != X509V3:
        raise SecurityError(
            f"BinarySecurityToken ValueType {token.get('ValueType')!r} is not X509v3"
        )
    try:
        certificate = x509.load_der_x509_certificate(
            base64.b64decode("".join((token.text or "").split()), validate=True)
        )
    except (binascii.Error, ValueError) as exc:
        raise SecurityError(f"BinarySecurityToken is not an X.509 certificate: {exc}") from exc

    timestamp = _timestamp(security)

    signature = security.find(f"{{{DS}}}Signature")
    if signature is None:
        raise SecurityError("wsse:Security has no ds:Signature: the message is not signed")
    _check_key_info(signature, token)
    algorithm = _algorithm_of(signature, algorithms)

    trust.check(certificate, moment)
    if signers is not None:
        signers.check(certificate)

    body = root.find(f"{{{SOAP}}}Body")
    assert body is not None  # read_envelope checked it
    required = [("soapenv:Body", body), ("wsu:Timestamp", timestamp)]
    required += [(f"wsa:{etree.QName(h).localname}", h) for h in _addressing_headers(header)]

    method, digest = ALGORITHMS[algorithm]
    config = SignatureConfiguration(
        location=f"./{{{SOAP}}}Header/{{{WSSE}}}Security/",
        expect_references=True,
        signature_methods=frozenset({method}),
        digest_algorithms=frozenset({digest}),
        verification_time=moment,
    )
    try:
        XMLVerifier().verify(
            root,
            x509_cert=certificate,
            id_attribute="Id",
            expect_config=config,
            parser=_huge_parser(),
        )
    except InvalidDigest as exc:
        names = {str(e.get(_ID)): name for name, e in required if e.get(_ID)}
        found = re.search(r"\(#([^)]*)\)", str(exc))
        part = names.get(found.group(1), f"#{found.group(1)}") if found else "a signed part"
        raise SecurityError(f"digest mismatch for {part}: it was altered after signing") from exc
    except InvalidSignature as exc:
        raise SecurityError(f"signature value does not verify: {exc}") from exc
    except InvalidInput as exc:
        raise SecurityError(f"signature cannot be checked: {exc}") from exc

    signed = {
        (ref.get("URI") or "").removeprefix("#")
        for ref in signature.iterfind(f"{{{DS}}}SignedInfo/{{{DS}}}Reference")
    }
    for name, element in required:
        element_id = element.get(_ID)
        if not element_id or element_id not in signed:
            raise SecurityError(f"{name} is not covered by the signature")
    # Only now are the times known to be the sender's: an altered Timestamp is
    # reported as tampering above, not as a time out of bounds.
    timestamps.check(_instant(timestamp, "Created"), _instant(timestamp, "Expires"), moment)
    return Verified(certificate, parsed, algorithm)


def _timestamp(security: etree._Element) -> etree._Element:
    # One of each, so that the times checked are the times signed (WS-I BSP).
    found = security.findall(f"{{{WSU}}}Timestamp")
    if not found:
        raise SecurityError("wsse:Security has no wsu:Timestamp")
    if len(found) > 1:
        raise SecurityError(f"wsse:Security has {len(found)} wsu:Timestamp elements, not one")
    return found[0]


def _instant(timestamp: etree._Element, name: str) -> datetime | None:
    found = timestamp.findall(f"{{{WSU}}}{name}")
    if not found:
        return None
    if len(found) > 1:
        raise SecurityError(f"wsu:Timestamp has {len(found)} wsu:{name} elements, not one")
    raw = (found[0].text or "").strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise SecurityError(f"wsu:Timestamp/{name} is not a dateTime: {raw!r}") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _check_key_info(signature: etree._Element, token: etree._Element) -> None:
    reference = signature.find(
        f"{{{DS}}}KeyInfo/{{{WSSE}}}SecurityTokenReference/{{{WSSE}}}Reference"
    )
    if reference is None:
        raise SecurityError(
            "ds:KeyInfo does not reference the BinarySecurityToken (SecurityTokenReference)"
        )
    if reference.get("URI") != f"#{token.get(_ID)}":
        raise SecurityError(
            f"ds:KeyInfo references {reference.get('URI')!r}, not the BinarySecurityToken"
        )


def _algorithm_of(signature: etree._Element, allowed: tuple[Algorithm, ...]) -> Algorithm:
    method = signature.find(f"{{{DS}}}SignedInfo/{{{DS}}}SignatureMethod")
    uri = method.get("Algorithm") if method is not None else None
    for name in allowed:
        if ALGORITHMS[name][0].value == uri:
            return name
    raise SecurityError(
        f"signature algorithm {uri!r} is not accepted (accepted: {', '.join(allowed)})"
    )


__all__ = [
    "ALGORITHMS",
    "DEFAULT_TIMESTAMPS",
    "Algorithm",
    "EnvelopeError",
    "SecurityError",
    "Signers",
    "SigningIdentity",
    "TimestampRule",
    "Trust",
    "Verified",
    "sign",
    "subject_ids",
    "subject_text",
    "verify",
]
