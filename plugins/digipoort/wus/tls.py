"""TLS contexts for two-way TLS with Digipoort (TLS 1.2 or newer only).

``client_context``: presents our certificate and key, verifies the server
against a pinned CA bundle (not the system store) and its host name.
``server_context``: presents the server certificate and requires a client
certificate issued by one of the configured CAs (or itself listed there: a
list of pinned client certificates works too); a client without one, or with
one from another CA, is refused during the handshake.
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path


def _load_cas(context: ssl.SSLContext, cafiles: Sequence[str | Path]) -> None:
    if not cafiles:
        raise ValueError("at least one CA bundle is needed to verify the other side")
    for cafile in cafiles:
        path = Path(cafile)
        if not path.is_file():
            raise FileNotFoundError(f"CA bundle {path} does not exist")
        context.load_verify_locations(cafile=str(path))


def client_context(
    cert: str | Path,
    key: str | Path,
    server_ca: str | Path | Sequence[str | Path],
    passphrase: str | None = None,
    check_hostname: bool = True,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = check_hostname
    cafiles = [server_ca] if isinstance(server_ca, str | Path) else list(server_ca)
    _load_cas(context, cafiles)
    context.load_cert_chain(str(cert), str(key), password=passphrase)
    return context


def server_context(
    cert: str | Path,
    key: str | Path,
    client_cas: str | Path | Sequence[str | Path],
    passphrase: str | None = None,
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    cafiles = [client_cas] if isinstance(client_cas, str | Path) else list(client_cas)
    _load_cas(context, cafiles)
    # Lets a configured list of individual client certificates act as trust
    # anchors, not only CA certificates.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_cert_chain(str(cert), str(key), password=passphrase)
    return context
