"""Routing: which channel and format a document for an agency gets, and why."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from gateway.config import GatewayConfig, load_config, parse_config
from gateway.errors import GatewayError
from gateway.identifiers import OIN
from gateway.kinds import DocumentKind
from gateway.routing import RouteDecision, RoutingError, route

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gateway.toml"
BZK = "00000001003214345000"
JENV = "00000001007465075000"
RWS = "00000001006492083000"


def line_of(text: str, needle: str) -> int:
    found = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} found on lines {found}"
    return found[0]


@pytest.fixture(scope="module")
def example() -> GatewayConfig:
    return load_config(EXAMPLE)


def config_with(channels: str, agency: str, tmp_path: Path) -> GatewayConfig:
    text = textwrap.dedent('''\
        [supplier]
        name = "Test B.V."
        kvk = "12345678"
        vestigingsnummer = "000012345678"

    ''') + textwrap.dedent(channels) + "\n" + textwrap.dedent(agency)
    return parse_config(text, tmp_path / "gateway.toml")


def test_route_with_explanation(example: GatewayConfig) -> None:
    decision = route(example, BZK, DocumentKind.INVOICE)
    assert (decision.channel, decision.channel_type, decision.format) == (
        "digipoort", "digipoort", "ubl-ohnl:invoice:1.9")
    assert decision.fallback_channel == "portal"
    assert not decision.used_fallback
    assert decision.agency_oin == BZK
    assert decision.agency_name == "Ministerie van Binnenlandse Zaken en Koninkrijksrelaties"
    line = line_of(EXAMPLE.read_text(encoding="utf-8"), f'[agencies."{BZK}".documents.invoice]')
    assert decision.explanation == (
        f"agency {BZK} (Ministerie van Binnenlandse Zaken en Koninkrijksrelaties) found in "
        f"{EXAMPLE}",
        f'document kind invoice routed by [agencies."{BZK}".documents.invoice] (line {line}): '
        "channel digipoort, format ubl-ohnl:invoice:1.9",
        "fallback channel portal (from the agency's fallback_channel)",
    )


def test_route_explains_default_and_document_fallback(example: GatewayConfig) -> None:
    decision = route(example, OIN(JENV), "invoice")
    assert (decision.channel, decision.format) == ("digipoort", "setu-ohnl:invoice:2.0")
    assert "channel digipoort from the agency's default_channel" in decision.explanation[1]
    assert decision.explanation[2] == (
        f'fallback channel portal (from [agencies."{JENV}".documents.invoice])'
    )
    timecard = route(example, JENV, "timecard")
    assert timecard.fallback_channel == "email"


def test_route_without_fallback(example: GatewayConfig) -> None:
    decision = route(example, RWS, "order-response")
    assert (decision.channel, decision.fallback_channel) == ("email", None)
    assert decision.explanation[-1] == "no fallback channel configured"


def test_decision_json_round_trip(example: GatewayConfig) -> None:
    decision = route(example, BZK, "invoice")
    data = json.loads(decision.to_json())
    assert data["agency"] == {
        "oin": BZK, "name": "Ministerie van Binnenlandse Zaken en Koninkrijksrelaties"}
    assert data["kind"] == "invoice"
    assert data["channel"] == "digipoort"
    assert data["format"] == "ubl-ohnl:invoice:1.9"
    assert data["fallback_channel"] == "portal"
    assert data["explanation"] == list(decision.explanation)
    assert RouteDecision.from_json(decision.to_json()) == decision


def test_unknown_agency_lists_configured(example: GatewayConfig) -> None:
    with pytest.raises(RoutingError) as info:
        route(example, "00000001002345675000", "invoice")
    message = str(info.value)
    assert "no agency with OIN 00000001002345675000" in message
    assert f"{BZK} (Ministerie van Binnenlandse Zaken" in message
    assert f"{RWS} (Rijkswaterstaat)" in message
    assert isinstance(info.value, GatewayError)


def test_invalid_oin() -> None:
    with pytest.raises(RoutingError, match="not a valid OIN"):
        route(load_config(EXAMPLE), "1234", "invoice")


def test_unrouted_kind_lists_routed_kinds(example: GatewayConfig) -> None:
    with pytest.raises(RoutingError) as info:
        route(example, RWS, DocumentKind.TIMECARD)
    message = str(info.value)
    assert "Rijkswaterstaat" in message
    assert "no route for document kind timecard" in message
    assert "routed kinds for this agency: invoice, order-response" in message
    assert f'[agencies."{RWS}".documents.timecard]' in message


def test_unknown_kind_word(example: GatewayConfig) -> None:
    with pytest.raises(RoutingError, match="unknown document kind 'invoise'"):
        route(example, BZK, "invoise")


AGENCY = '''\
    [agencies."00000001003214345000"]
    name = "Ministerie van Test"
    fallback_channel = "portal"

    [agencies."00000001003214345000".documents.invoice]
    channel = "digipoort"
    format = "ubl-ohnl:invoice:1.9"
'''


def test_disabled_channel_uses_fallback(tmp_path: Path) -> None:
    config = config_with('''\
        [channels.digipoort]
        enabled = false
        [channels.portal]
    ''', AGENCY, tmp_path)
    decision = route(config, BZK, "invoice")
    assert (decision.channel, decision.channel_type) == ("portal", "portal")
    assert decision.used_fallback
    assert decision.fallback_channel is None
    assert decision.format == "ubl-ohnl:invoice:1.9"
    assert decision.explanation[-1] == (
        "channel digipoort is disabled ([channels.digipoort] enabled = false); "
        "using fallback channel portal from the agency's fallback_channel"
    )


def test_disabled_channel_without_fallback_is_an_error(tmp_path: Path) -> None:
    config = config_with('''\
        [channels.digipoort]
        enabled = false
        [channels.portal]
    ''', AGENCY.replace('fallback_channel = "portal"\n', ""), tmp_path)
    with pytest.raises(RoutingError, match=r"is disabled .* no fallback_channel is configured"):
        route(config, BZK, "invoice")


def test_disabled_channel_and_disabled_fallback(tmp_path: Path) -> None:
    config = config_with('''\
        [channels.digipoort]
        enabled = false
        [channels.portal]
        enabled = false
    ''', AGENCY, tmp_path)
    with pytest.raises(RoutingError, match="and so is its fallback channel portal"):
        route(config, BZK, "invoice")


def test_disabled_fallback_is_dropped(tmp_path: Path) -> None:
    config = config_with('''\
        [channels.digipoort]
        [channels.portal]
        enabled = false
    ''', AGENCY, tmp_path)
    decision = route(config, BZK, "invoice")
    assert (decision.channel, decision.fallback_channel) == ("digipoort", None)
    assert decision.explanation[-1] == "fallback channel portal is disabled, so none is used"


def test_channel_type_differs_from_name(tmp_path: Path) -> None:
    config = config_with('''\
        [channels.digipoort]
        type = "wus"
        [channels.portal]
    ''', AGENCY, tmp_path)
    decision = route(config, BZK, "invoice")
    assert (decision.channel, decision.channel_type) == ("digipoort", "wus")
    assert decision.explanation[-1] == "channel digipoort is of type wus"


def test_every_configured_route_of_the_example_resolves(example: GatewayConfig) -> None:
    for oin, agency in example.agencies.items():
        for kind in agency.documents:
            decision = route(example, oin, kind)
            assert example.channels[decision.channel].enabled
