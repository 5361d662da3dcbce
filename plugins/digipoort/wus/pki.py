"""A throw-away PKI for tests and the simulator, made with ``cryptography``.

``make_pki(folder)`` writes PEM files: a CA (``ca.pem``), a server certificate
for localhost/127.0.0.1/::1 (``server.pem``/``server.key``) of the Digipoort
simulator's organisation (subject serialNumber ``00000003`` + ``DIGIPOORT_KVK``
+ ``0000``, like its client certificate), a supplier
certificate per KvK number whose subject serialNumber is PKIoverheid style
``00000003`` + KvK + ``0000`` (``supplier-<kvk>.pem``/``.key``), a certificate
for the simulator's own client side (``digipoort-client.pem``/``.key``), plus
for negative tests an "unknown CA" with a supplier certificate of its own
(``unknown-ca.pem``, ``unknown-supplier.pem``/``.key``) and an expired supplier
certificate from the real CA (``expired-supplier.pem``/``.key``). Keys are
unencrypted RSA 2048: this is test material, never for production.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_KVK: Final = "30216247"
DIGIPOORT_KVK: Final = "27372345"
"""The number in the subject serialNumber of the simulator's server and client certificates."""


@attrs.frozen
class CertFiles:
    cert: Path
    key: Path


@attrs.frozen
class Pki:
    folder: Path
    ca: Path
    server: CertFiles
    suppliers: dict[str, CertFiles]
    digipoort_client: CertFiles
    unknown_ca: Path
    unknown_supplier: CertFiles
    expired_supplier: CertFiles

    @property
    def supplier(self) -> CertFiles:
        """The first supplier certificate."""
        return next(iter(self.suppliers.values()))

    @classmethod
    def load(cls, folder: Path) -> Pki:
        """A PKI written earlier by ``make_pki`` into ``folder``."""

        def pair(name: str) -> CertFiles:
            return CertFiles(folder / f"{name}.pem", folder / f"{name}.key")

        suppliers = {
            p.stem.removeprefix("supplier-"): pair(p.stem)
            for p in sorted(folder.glob("supplier-*.pem"))
        }
        pki = cls(
            folder=folder,
            ca=folder / "ca.pem",
            server=pair("server"),
            suppliers=suppliers,
            digipoort_client=pair("digipoort-client"),
            unknown_ca=folder / "unknown-ca.pem",
            unknown_supplier=pair("unknown-supplier"),
            expired_supplier=pair("expired-supplier"),
        )
        missing = [str(p) for p in pki.files() if not p.is_file()]
        if missing or not suppliers:
            raise FileNotFoundError(f"incomplete PKI in {folder}: missing {missing or 'suppliers'}")
        return pki

    def files(self) -> list[Path]:
        pairs = [self.server, self.digipoort_client, self.unknown_supplier, self.expired_supplier]
        pairs += list(self.suppliers.values())
        return [self.ca, self.unknown_ca] + [p for c in pairs for p in (c.cert, c.key)]


def supplier_serial_number(kvk: str) -> str:
    """The PKIoverheid-style subject serialNumber of a company: 00000003 + KvK + 0000."""
    if len(kvk) != 8 or not kvk.isdigit():
        raise ValueError(f"KvK number must be 8 digits, got {kvk!r}")
    return f"00000003{kvk}0000"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _write(folder: Path, name: str, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> CertFiles:
    files = CertFiles(folder / f"{name}.pem", folder / f"{name}.key")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    files.key.chmod(0o600)
    return files


def _ca(name: str, now: datetime) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _key()
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Wissel test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, name),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    subject: x509.Name,
    ca: tuple[x509.Certificate, rsa.RSAPrivateKey],
    *,
    server_names: list[str] | None = None,
    not_before: datetime,
    not_after: datetime,
) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = _key()
    ca_cert, ca_key = ca
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server_names:
        alt: list[x509.GeneralName] = []
        for name in server_names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


def _company(kvk: str, name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, supplier_serial_number(kvk)),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{name} WUS"),
        ]
    )


def make_pki(
    folder: Path,
    kvk_numbers: tuple[str, ...] = (DEFAULT_KVK,),
    server_names: tuple[str, ...] = ("localhost", "127.0.0.1", "::1"),
    server_serial_number: str | None = supplier_serial_number(DIGIPOORT_KVK),
) -> Pki:
    """Generate the test PKI into ``folder`` (created if needed) and return its paths.

    ``server_serial_number`` is the subject serialNumber of the server
    certificate; None for one that names only its host.
    """
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    start, end = now - timedelta(days=1), now + timedelta(days=825)
    ca = _ca("Wissel Test CA", now)
    ca_path = folder / "ca.pem"
    ca_path.write_bytes(ca[0].public_bytes(serialization.Encoding.PEM))

    # Digipoort's answers are checked against the organisation of its TLS server
    # certificate: the simulator's names one, as a PKIoverheid certificate does.
    server_subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Digipoort simulator"),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, server_serial_number),
            x509.NameAttribute(NameOID.COMMON_NAME, server_names[0]),
        ]
        if server_serial_number is not None
        else [x509.NameAttribute(NameOID.COMMON_NAME, server_names[0])]
    )
    server = _write(
        folder,
        "server",
        *_leaf(
            server_subject, ca, server_names=list(server_names), not_before=start, not_after=end
        ),
    )
    suppliers = {
        kvk: _write(
            folder,
            f"supplier-{kvk}",
            *_leaf(_company(kvk, f"Leverancier {kvk}"), ca, not_before=start, not_after=end),
        )
        for kvk in kvk_numbers
    }
    digipoort = _write(
        folder,
        "digipoort-client",
        *_leaf(_company(DIGIPOORT_KVK, "Digipoort simulator"), ca, not_before=start, not_after=end),
    )
    expired = _write(
        folder,
        "expired-supplier",
        *_leaf(
            _company(kvk_numbers[0], "Verlopen leverancier"),
            ca,
            not_before=now - timedelta(days=400),
            not_after=now - timedelta(days=1),
        ),
    )
    unknown = _ca("Unknown Test CA", now)
    unknown_path = folder / "unknown-ca.pem"
    unknown_path.write_bytes(unknown[0].public_bytes(serialization.Encoding.PEM))
    stranger = _write(
        folder,
        "unknown-supplier",
        *_leaf(
            _company(kvk_numbers[0], "Onbekende leverancier"),
            unknown,
            not_before=start,
            not_after=end,
        ),
    )
    return Pki(
        folder=folder,
        ca=ca_path,
        server=server,
        suppliers=suppliers,
        digipoort_client=digipoort,
        unknown_ca=unknown_path,
        unknown_supplier=stranger,
        expired_supplier=expired,
    )
