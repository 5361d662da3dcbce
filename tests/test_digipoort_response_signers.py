"""Digipoort's answers count when Digipoort signed them, not any holder of a certificate of its CA.

signature_ca (PKIoverheid in production) also certifies every other supplier
and government body. Any of them could sign an aanleverResponse with a kenmerk
of its choosing, or statuses, and the CA alone would take it as Digipoort's.
The signer must carry one of the subject serialNumbers in signature_ids or,
without that setting, be of the organisation of the TLS server certificate
presented on the connection the answer came on.

Each test runs the channel against the Digipoort simulator with a real test
PKI; the simulator signs with whatever certificate ``sign_with`` names.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from cryptography import x509
from digipoort_channel_support import AGENCY_OIN, SUPPLIER_KVK, client_settings, invoice_19
from lxml import etree

from gateway.channels import Accepted, ChannelContext, OutboundMessage, RetryableError
from gateway.config import load_config
from gateway.kinds import DocumentKind
from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.settings import SettingsError, parse_settings
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus import ns
from plugins.digipoort.wus.client import WusTransportError
from plugins.digipoort.wus.envelope import response_envelope
from plugins.digipoort.wus.pki import (
    DIGIPOORT_KVK,
    CertFiles,
    Pki,
    make_pki,
    supplier_serial_number,
)
from plugins.digipoort.wus.security import (
    SecurityError,
    Signers,
    SigningIdentity,
    Trust,
    sign,
    subject_ids,
    verify,
)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"
STRANGER_KVK = "12345678"  # another supplier, certified by the same CA
DIGIPOORT_ID = supplier_serial_number(DIGIPOORT_KVK)
STRANGER_ID = supplier_serial_number(STRANGER_KVK)

MESSAGE = OutboundMessage(
    message_id="01KB5Z3E8W9G6Q2M4T7X1C0V5N", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
    format_key="ubl-ohnl:invoice:1.9", payload=b"", filename="F2024-0001.xml")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), kvk_numbers=(SUPPLIER_KVK, STRANGER_KVK))


@pytest.fixture(autouse=True)
def standards(installed_standards: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(installed_standards))


@pytest.fixture
def message() -> OutboundMessage:
    return attrs.evolve(MESSAGE, payload=invoice_19())


async def simulated(pki: Pki, sign_with: CertFiles | None) -> DigipoortSimulator:
    simulator = DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder, sign_with=sign_with))
    await simulator.start()
    return simulator


async def send(pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage,
               **extra: Any) -> Any:
    channel = DigipoortChannel("digipoort", client_settings(
        pki, aanlever_url=simulator.aanlever_url, status_url=simulator.status_url,
        request_timeout=5, **extra))
    await channel.start(ChannelContext("digipoort"))
    try:
        return await channel.send(message)
    finally:
        await channel.stop()


@pytest.fixture
async def forging(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    """A Digipoort whose answers another supplier of the same CA signs."""
    simulator = await simulated(pki, pki.suppliers[STRANGER_KVK])
    try:
        yield simulator
    finally:
        await simulator.stop()


# --- the library --------------------------------------------------------------


def _signed_answer(files: CertFiles) -> bytes:
    body = etree.Element(f"{{{ns.KV}}}aanleverResponse")
    envelope = response_envelope(body, action="urn:test:answer", relates_to="urn:uuid:1")
    return sign(envelope, SigningIdentity.from_files(files.cert, files.key))


def test_verify_refuses_a_certificate_of_the_ca_with_another_serial_number(pki: Pki) -> None:
    data = _signed_answer(pki.suppliers[STRANGER_KVK])
    trust = Trust.from_pem_files(pki.ca)
    with pytest.raises(SecurityError) as refused:
        verify(data, trust, signers=Signers.named([DIGIPOORT_ID], "signature_ids"))
    reason = str(refused.value)
    assert f"subject serialNumber {STRANGER_ID}" in reason, reason
    assert f"allowed (signature_ids): subject serialNumber {DIGIPOORT_ID}" in reason, reason
    allowed = Signers.named([DIGIPOORT_ID, STRANGER_ID], "signature_ids")
    assert subject_ids(verify(data, trust, signers=allowed).certificate) == (STRANGER_ID,)


def test_a_certificate_naming_no_serial_number_stands_for_itself_alone(pki: Pki) -> None:
    # The test CA's own certificate is one whose subject names no serialNumber.
    nameless = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    only = Signers.like(nameless, "the TLS server certificate")
    only.check(nameless)
    stranger = x509.load_pem_x509_certificate(pki.suppliers[STRANGER_KVK].cert.read_bytes())
    with pytest.raises(SecurityError, match=f"subject serialNumber {STRANGER_ID}.*that "
                                            "certificate only, since it names no subject "
                                            "serialNumber"):
        only.check(stranger)


# --- the channel, default: the TLS server's organisation ----------------------


async def test_an_answer_signed_by_another_organisation_of_the_ca_is_refused_and_retried(
        pki: Pki, forging: DigipoortSimulator, message: OutboundMessage) -> None:
    outcome = await send(pki, forging, message)
    assert isinstance(outcome, RetryableError), outcome
    assert "refused" in outcome.reason
    assert f"subject serialNumber {STRANGER_ID}" in outcome.reason, outcome.reason
    assert f"subject serialNumber {DIGIPOORT_ID}" in outcome.reason, outcome.reason
    assert "TLS server certificate" in outcome.reason, outcome.reason


async def test_statuses_signed_by_another_organisation_of_the_ca_are_refused(
        pki: Pki, forging: DigipoortSimulator, message: OutboundMessage) -> None:
    await send(pki, forging, message)  # refused, but the simulator runs the process
    [process] = forging.processes()
    channel = DigipoortChannel("digipoort", client_settings(
        pki, aanlever_url=forging.aanlever_url, status_url=forging.status_url,
        request_timeout=5))
    await channel.start(ChannelContext("digipoort"))
    try:
        with pytest.raises(WusTransportError) as refused:
            await channel.statuses(process.kenmerk, new_only=False)
    finally:
        await channel.stop()
    assert (refused.value.kind, refused.value.retryable) == ("security", True)
    assert f"subject serialNumber {STRANGER_ID}" in refused.value.reason


@pytest.mark.parametrize("signer", ["server", "digipoort_client"])
async def test_an_answer_signed_by_the_tls_servers_organisation_is_accepted(
        pki: Pki, message: OutboundMessage, signer: str) -> None:
    # The server certificate itself, or another certificate with its serialNumber.
    simulator = await simulated(pki, getattr(pki, signer))
    try:
        outcome = await send(pki, simulator, message)
    finally:
        await simulator.stop()
    assert isinstance(outcome, Accepted), outcome


async def test_a_tls_server_certificate_naming_no_serial_number_may_sign_alone(
        tmp_path: Path, message: OutboundMessage) -> None:
    pki = make_pki(tmp_path / "pki", kvk_numbers=(SUPPLIER_KVK, STRANGER_KVK),
                   server_serial_number=None)
    simulator = await simulated(pki, None)
    try:
        assert isinstance(await send(pki, simulator, message), Accepted)
    finally:
        await simulator.stop()
    simulator = await simulated(pki, pki.digipoort_client)
    try:
        outcome = await send(pki, simulator, message)
    finally:
        await simulator.stop()
    assert isinstance(outcome, RetryableError), outcome
    assert f"subject serialNumber {DIGIPOORT_ID}) is not CN=localhost" in outcome.reason, (
        outcome.reason)


# --- signature_ids -------------------------------------------------------------


async def test_signature_ids_names_who_may_sign(
        pki: Pki, forging: DigipoortSimulator, message: OutboundMessage) -> None:
    # Named, a certificate that is not the TLS server's may sign ...
    outcome = await send(pki, forging, message, signature_ids=[STRANGER_ID])
    assert isinstance(outcome, Accepted), outcome
    # ... and the TLS server's organisation may not, unless it is named too.
    simulator = await simulated(pki, None)
    try:
        refused = await send(pki, simulator, message, signature_ids=[STRANGER_ID])
        accepted = await send(pki, simulator, message,
                              signature_ids=[f" {STRANGER_ID} ", DIGIPOORT_ID])
    finally:
        await simulator.stop()
    assert isinstance(refused, RetryableError), refused
    assert (f"has subject serialNumber {DIGIPOORT_ID}; allowed (signature_ids): subject "
            f"serialNumber {STRANGER_ID}") in refused.reason, refused.reason
    assert isinstance(accepted, Accepted), accepted


@pytest.mark.parametrize(("value", "says"), [
    (DIGIPOORT_ID, "signature_ids must be a list of the subject serialNumbers (OIN)"),
    ({"oin": DIGIPOORT_ID}, "signature_ids must be a list"),
    ([], "signature_ids is empty"),
    ([DIGIPOORT_ID, ""], "signature_ids entry 2 must be a subject serialNumber"),
    (["  "], "signature_ids entry 1 must be a subject serialNumber"),
    ([27372345], "signature_ids entry 1 must be a subject serialNumber (a non-empty string), "
                 "not 27372345"),
])
def test_a_misconfigured_signature_ids_is_a_clear_error(pki: Pki, value: Any,
                                                        says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        parse_settings("digipoort", client_settings(pki, signature_ids=value))
    assert str(caught.value).startswith("channel 'digipoort': ")
    assert says in str(caught.value), caught.value


def test_signature_ids_are_read(pki: Pki) -> None:
    settings = parse_settings("digipoort", client_settings(
        pki, signature_ids=[f" {DIGIPOORT_ID}", STRANGER_ID]))
    assert settings.signature_ids == (DIGIPOORT_ID, STRANGER_ID)
    assert parse_settings("digipoort", client_settings(pki)).signature_ids == ()


# --- the example configuration -------------------------------------------------


async def test_the_example_channel_works_with_the_simulator_as_make_run_starts_it(
        message: OutboundMessage) -> None:
    """`make run`: the simulator makes its PKI in <data dir>/digipoort-pki; the example's
    digipoort channel, which names no signature_ids, takes its answers."""
    config = load_config(EXAMPLE)
    data_dir = config.gateway.data_dir
    table = dict(config.channels["digipoort"].settings)
    assert "signature_ids" not in table
    simulator = DigipoortSimulator(SimulatorSettings(pki_dir=data_dir / "digipoort-pki"))
    await simulator.start()
    try:
        # Port 8783 may be taken on a test machine: the simulator runs on a free one.
        table.update(aanlever_url=simulator.aanlever_url, status_url=simulator.status_url)
        channel = DigipoortChannel("digipoort", table)
        await channel.start(ChannelContext("digipoort", data_dir=str(data_dir),
                                           supplier=config.supplier))
        try:
            outcome = await channel.send(attrs.evolve(message, message_id="example-0001"))
        finally:
            await channel.stop()
    finally:
        await simulator.stop()
    assert isinstance(outcome, Accepted), outcome
