"""The wsu:Timestamp of a WUS message bounds how long it can be replayed.

Both receivers are exercised over two-way TLS on loopback:

- the Digipoort simulator receiving our requests (signed by our own signer, with
  the Created and Expires each case needs, posted as they are);
- the digipoort channel receiving Digipoort's signed answers, from a stand-in
  Digipoort built from the same WUS server library whose answers carry the case's
  timestamp.

A receiver refuses a Timestamp without Created, with Created too far in the
future, expired, with Expires not after Created, or too old however late it
expires, and says which rule and which times. A fresh message passes, whatever
its TTL, and so do messages from a clock a few minutes off.
"""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from aiohttp import web
from digipoort_channel_support import (
    AGENCY_OIN,
    SUPPLIER_KVK,
    client_settings,
    invoice_19,
    pki,
    standards,
)
from lxml import etree
from signxml.algorithms import DigestAlgorithm, SignatureConstructionMethod, SignatureMethod
from signxml.signer import XMLSigner

from gateway.channels import Accepted, ChannelContext, OutboundMessage, RetryableError
from gateway.kinds import DocumentKind
from plugins.digipoort.channel import DigipoortChannel
from plugins.digipoort.simulator import DigipoortSimulator, SimulatorSettings
from plugins.digipoort.wus import koppelvlak as kv
from plugins.digipoort.wus import ns, tls
from plugins.digipoort.wus.client import WusClient
from plugins.digipoort.wus.envelope import request_envelope, response_envelope
from plugins.digipoort.wus.pki import Pki
from plugins.digipoort.wus.security import (
    SecurityError,
    SigningIdentity,
    TimestampRule,
    Trust,
    sign,
)
from plugins.digipoort.wus.server import WusEndpoint, WusRequest

__all__ = ["pki", "standards"]  # the shared fixtures, used by the tests here

MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

MESSAGE = OutboundMessage(
    message_id="01KB5Z3E8W9G6Q2M4T7X1C0V5N", agency_oin=AGENCY_OIN, kind=DocumentKind.INVOICE,
    format_key="ubl-ohnl:invoice:1.9", payload=b"", filename="F2024-0001.xml")


@attrs.frozen
class Stamp:
    """Created and Expires relative to the moment of signing; None leaves the element out."""

    created: timedelta | None
    expires: timedelta | None


# (case, timestamp, what the refusal must say: the rule and its allowance)
REFUSED = [
    pytest.param(Stamp(-DAY, DAY), ("timestamp too old", "max_message_age"),
                 id="created-a-day-ago-expires-a-day-ahead"),
    pytest.param(Stamp(10 * MINUTE, 15 * MINUTE), ("created in the future", "max_clock_skew"),
                 id="created-10-min-in-the-future"),
    pytest.param(Stamp(None, 5 * MINUTE), ("no wsu:Created",), id="no-created"),
    pytest.param(Stamp(timedelta(0), -MINUTE), ("is not after Created",),
                 id="expires-before-created"),
]

# What a sender whose clock is a little off writes with our TTL (5 min), and what the
# WUS policy allows besides (Expires is optional; other clients use 10 minutes).
ACCEPTED = [
    pytest.param(Stamp(timedelta(0), 5 * MINUTE), id="fresh"),
    pytest.param(Stamp(MINUTE, 6 * MINUTE), id="clock-1-min-ahead"),
    pytest.param(Stamp(-MINUTE, 4 * MINUTE), id="clock-1-min-behind"),
    pytest.param(Stamp(4 * MINUTE, 9 * MINUTE), id="clock-4-min-ahead"),
    pytest.param(Stamp(-4 * MINUTE, MINUTE), id="clock-4-min-behind"),
    pytest.param(Stamp(timedelta(0), None), id="no-expires"),
    pytest.param(Stamp(timedelta(0), 10 * MINUTE), id="ten-minute-window"),
    # Fresh: its age is what ends a replay, so a peer's long TTL is no reason to refuse.
    pytest.param(Stamp(timedelta(0), DAY), id="fresh-and-valid-for-a-day"),
]


def _text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamped(envelope: etree._Element, identity: SigningIdentity, stamp: Stamp) -> bytes:
    """``envelope`` signed with the Timestamp ``stamp`` describes.

    With both elements our own signer writes it (its clock set to Created, its
    TTL to the window). Without one, the Timestamp is rewritten and the same
    parts signed again with signxml, as another WS-Security stack would.
    """
    now = datetime.now(UTC)
    if stamp.created is not None and stamp.expires is not None:
        return sign(envelope, identity, now=now + stamp.created,
                    ttl=stamp.expires - stamp.created)
    sign(envelope, identity, "rsa-sha256", now=now)
    security = envelope.find(f"{{{ns.SOAP}}}Header/{{{ns.WSSE}}}Security")
    assert security is not None
    timestamp = security.find(f"{{{ns.WSU}}}Timestamp")
    signature = security.find(f"{{{ns.DS}}}Signature")
    assert timestamp is not None
    assert signature is not None
    for child in list(timestamp):
        timestamp.remove(child)
    for name, offset in (("Created", stamp.created), ("Expires", stamp.expires)):
        if offset is not None:
            etree.SubElement(timestamp, f"{{{ns.WSU}}}{name}").text = _text(now + offset)
    references = signature.iterfind(f"{{{ns.DS}}}SignedInfo/{{{ns.DS}}}Reference")
    uris = [str(r.get("URI")) for r in references]
    key_info = copy.deepcopy(signature.find(f"{{{ns.DS}}}KeyInfo"))
    security.remove(signature)
    signer = XMLSigner(method=SignatureConstructionMethod.detached,
                       signature_algorithm=SignatureMethod.RSA_SHA256,
                       digest_algorithm=DigestAlgorithm.SHA256, c14n_algorithm=ns.EXC_C14N)
    security.append(signer.sign(envelope, key=identity.private_key, reference_uri=uris,
                                key_info=key_info, id_attribute="Id"))
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


@pytest.fixture
async def simulator(pki: Pki) -> AsyncIterator[DigipoortSimulator]:
    async with DigipoortSimulator(SimulatorSettings(pki_dir=pki.folder)) as running:
        yield running


@pytest.fixture
def message() -> OutboundMessage:
    return attrs.evolve(MESSAGE, payload=invoice_19())


# --- the simulator receiving our requests ---------------------------------------------

def _aanlever_request() -> etree._Element:
    return kv.AanleverRequest(
        "FACTUUR-UBL", kv.Identiteit(SUPPLIER_KVK, "KvK"), "Bedrijf",
        kv.BerichtInhoud("text/xml", "F2024-0001.xml", invoice_19()),
        aanleverkenmerk="Happyflow").to_element()


async def _post_to_simulator(pki: Pki, simulator: DigipoortSimulator,
                             stamp: Stamp) -> etree._Element:
    supplier = pki.suppliers[SUPPLIER_KVK]
    identity = SigningIdentity.from_files(supplier.cert, supplier.key)
    envelope = request_envelope(_aanlever_request(), to=simulator.aanlever_url,
                                action=ns.AANLEVEREN)
    message_id = envelope.findtext(f"{{{ns.SOAP}}}Header/{{{ns.WSA}}}MessageID")
    data = stamped(envelope, identity, stamp)
    async with WusClient(identity, tls.client_context(supplier.cert, supplier.key, pki.ca),
                         server_trust=Trust.from_pem_files(pki.ca)) as client:
        return await client.post(simulator.aanlever_url, ns.AANLEVEREN, data, message_id, 10)


@pytest.mark.parametrize(("stamp", "said"), REFUSED)
async def test_the_simulator_refuses_a_request_outside_the_timestamp_rule(
        pki: Pki, simulator: DigipoortSimulator, stamp: Stamp, said: tuple[str, ...]) -> None:
    with pytest.raises(kv.WusFault) as refused:
        await _post_to_simulator(pki, simulator, stamp)
    assert refused.value.foutcode == "ALS100"
    for words in said:
        assert words in refused.value.foutbeschrijving
    if stamp.created is not None:
        assert INSTANT.search(refused.value.foutbeschrijving)
    assert simulator.processes() == []


async def test_the_simulator_settings_set_the_rule(pki: Pki) -> None:
    settings = SimulatorSettings(pki_dir=pki.folder, max_clock_skew=30 * SECOND,
                                 max_message_age=timedelta(0))
    async with DigipoortSimulator(settings) as strict:
        with pytest.raises(kv.WusFault) as refused:
            await _post_to_simulator(pki, strict, Stamp(-MINUTE, 4 * MINUTE))
    assert "max_message_age 0 s + max_clock_skew 30 s" in refused.value.foutbeschrijving


@pytest.mark.parametrize("stamp", ACCEPTED)
async def test_the_simulator_accepts_a_fresh_request_from_a_clock_a_little_off(
        pki: Pki, simulator: DigipoortSimulator, stamp: Stamp) -> None:
    body = await _post_to_simulator(pki, simulator, stamp)
    answer = kv.parse_as(body, kv.AanleverResponse)
    assert [p.kenmerk for p in simulator.processes()] == [answer.kenmerk]


# --- the channel receiving Digipoort's answers ----------------------------------------

StandIn = Callable[[Stamp], Awaitable[str]]


@pytest.fixture
async def digipoort(pki: Pki) -> AsyncIterator[StandIn]:
    """Start a stand-in AanleverService whose answers carry a given Timestamp; yield its URL.

    It checks requests as the simulator does (WusEndpoint) and answers an
    aanleverResponse signed with Digipoort's server certificate.
    """
    identity = SigningIdentity.from_files(pki.server.cert, pki.server.key)
    endpoint = WusEndpoint("aanlever", identity, Trust.from_pem_files(pki.ca))
    runners: list[web.AppRunner] = []

    async def start(stamp: Stamp) -> str:
        async def answer(request: web.Request) -> web.StreamResponse:
            try:
                wus_request: WusRequest = await endpoint.read(request)
            except Exception as exc:  # the test then fails on the channel's side
                return web.Response(status=400, text=str(exc))
            asked = kv.AanleverRequest.from_element(wus_request.body)
            body = kv.AanleverResponse(
                kenmerk="f1e2d3c4-0000-4000-8000-000000000001", berichtsoort=asked.berichtsoort,
                tijdstempel_aangeleverd=datetime.now(UTC),
                identiteit_belanghebbende=asked.identiteit_belanghebbende,
                rol_belanghebbende=asked.rol_belanghebbende,
                aanleverkenmerk=asked.aanleverkenmerk, statuscode="100",
                tijdstempel_status=datetime.now(UTC), statusomschrijving="Aanleveren gelukt",
            ).to_element()
            envelope = response_envelope(
                body, action=ns.response_action("aanlever", "aanleveren"),
                relates_to=wus_request.message_id)
            return web.Response(body=stamped(envelope, identity, stamp),
                                content_type="text/xml", charset="utf-8")

        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_post(ns.CPL_PATHS["aanlever"], answer)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        runners.append(runner)
        context = tls.server_context(pki.server.cert, pki.server.key, pki.ca)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        port = int(runner.addresses[0][1])
        return f"https://127.0.0.1:{port}{ns.CPL_PATHS['aanlever']}"

    yield start
    for runner in runners:
        await runner.cleanup()


async def _send(pki: Pki, url: str, message: OutboundMessage) -> Any:
    channel = DigipoortChannel("digipoort", client_settings(
        pki, aanlever_url=url, status_url=url, request_timeout=5))
    await channel.start(ChannelContext("digipoort"))
    try:
        return await channel.send(message)
    finally:
        await channel.stop()


@pytest.mark.parametrize(("stamp", "said"), REFUSED)
async def test_the_channel_refuses_an_answer_outside_the_timestamp_rule(
        pki: Pki, digipoort: StandIn, message: OutboundMessage, stamp: Stamp,
        said: tuple[str, ...]) -> None:
    outcome = await _send(pki, await digipoort(stamp), message)
    # We cannot tell what Digipoort answered: retry with the same aanleverkenmerk.
    assert isinstance(outcome, RetryableError), outcome
    assert "refused" in outcome.reason
    for words in said:
        assert words in outcome.reason
    if stamp.created is not None:
        assert INSTANT.search(outcome.reason)


@pytest.mark.parametrize("stamp", ACCEPTED)
async def test_the_channel_accepts_a_fresh_answer_from_a_clock_a_little_off(
        pki: Pki, digipoort: StandIn, message: OutboundMessage, stamp: Stamp) -> None:
    outcome = await _send(pki, await digipoort(stamp), message)
    assert isinstance(outcome, Accepted), outcome
    assert outcome.transport_id == "f1e2d3c4-0000-4000-8000-000000000001"


# --- both sides with their defaults ----------------------------------------------------

async def test_the_channel_and_the_simulator_accept_each_other_with_the_defaults(
        pki: Pki, simulator: DigipoortSimulator, message: OutboundMessage) -> None:
    outcome = await _send(pki, simulator.aanlever_url, message)
    assert isinstance(outcome, Accepted), outcome
    assert [p.kenmerk for p in simulator.processes()] == [outcome.transport_id]


# --- the rule's edges --------------------------------------------------------------------

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("created", "expires", "refusal"), [
    (NOW - 10 * MINUTE, None, None),
    (NOW - 10 * MINUTE - SECOND, None, "too old"),
    (NOW + 5 * MINUTE, None, None),
    (NOW + 5 * MINUTE + SECOND, None, "created in the future"),
    (NOW - 10 * MINUTE, NOW - 5 * MINUTE, None),
    (NOW - 10 * MINUTE, NOW - 5 * MINUTE - SECOND, "expired"),
    (NOW - 10 * MINUTE - SECOND, NOW + DAY, "too old"),
    (NOW, NOW, "not after Created"),
])
def test_the_rule_holds_at_its_edges(
        created: datetime, expires: datetime | None, refusal: str | None) -> None:
    rule = TimestampRule()  # skew 5 min, age 5 min
    if refusal is None:
        rule.check(created, expires, NOW)
    else:
        with pytest.raises(SecurityError, match=refusal):
            rule.check(created, expires, NOW)


def test_a_negative_allowance_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="max_message_age must not be negative"):
        TimestampRule(max_message_age=-MINUTE)
