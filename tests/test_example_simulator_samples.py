"""The simulators' sample documents tell one story with examples/gateway.toml.

`make run` starts the gateway on the example configuration beside the
Digipoort and Peppol simulators, which send their formats' samples. The
Peppol simulator's orders came from the agency the example routes over
Digipoort, so its Peppol agency (RVO) never received one.
"""

from __future__ import annotations

from pathlib import Path

from gateway.config import load_config
from gateway.formats import Format
from gateway.model import kind_of
from gateway.pipeline.keys import agency_party, party_oin
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.routing import route

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "gateway.toml"
REGISTRY = build_registry(make_plugin_manager())
PEPPOL_ORDERS = "peppol-bis:order:3"


def _documents(fmt: Format) -> list[object]:
    return [sample.document for sample in fmt.samples()]


def _routed_over(document: object) -> tuple[str, str, str]:
    """The channel type and format the example routes ``document``'s kind by, for its agency."""
    oin = party_oin(agency_party(document))  # type: ignore[arg-type]
    assert oin is not None, document
    decision = route(load_config(EXAMPLE), oin, kind_of(document))  # type: ignore[arg-type]
    return oin, decision.channel_type, decision.format


def test_the_peppol_simulators_orders_come_from_an_agency_routed_over_peppol() -> None:
    for document in _documents(REGISTRY.format(PEPPOL_ORDERS)):
        oin, channel_type, format_key = _routed_over(document)
        assert (channel_type, format_key) == ("peppol", PEPPOL_ORDERS), oin
