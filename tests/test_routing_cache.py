"""Routing decisions are made once per configuration, and a new configuration decides anew."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_support import AGENCY_OIN, OTHER_OIN, make_config

from gateway import routing
from gateway.identifiers import OIN
from gateway.kinds import DocumentKind
from gateway.routing import RoutingError, route

UNKNOWN_OIN = "00000001006492083000"


def test_the_same_question_gets_the_decision_made_before(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    first = route(config, AGENCY_OIN, DocumentKind.INVOICE)
    assert route(config, AGENCY_OIN, DocumentKind.INVOICE) is first
    # Asked with an OIN object or the kind's text, the answer is the same decision.
    assert route(config, OIN(AGENCY_OIN), "invoice") == first
    assert route(config, AGENCY_OIN, DocumentKind.CREDIT_NOTE).channel == "folder"
    assert route(config, OTHER_OIN, DocumentKind.INVOICE).agency_oin == OTHER_OIN


def test_a_new_configuration_decides_anew(tmp_path: Path) -> None:
    before = make_config(tmp_path)
    assert route(before, AGENCY_OIN, DocumentKind.INVOICE).format == "canonical:invoice:1"
    after = make_config(tmp_path, invoice_format="peppol-bis:invoice:3.0")
    assert route(after, AGENCY_OIN, DocumentKind.INVOICE).format == "peppol-bis:invoice:3.0"
    # The older configuration, still in use somewhere, keeps its own answer.
    assert route(before, AGENCY_OIN, DocumentKind.INVOICE).format == "canonical:invoice:1"


def test_a_refusal_is_not_remembered_as_a_decision(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    for _ in range(2):
        with pytest.raises(RoutingError, match=f"no agency with OIN {UNKNOWN_OIN}"):
            route(config, UNKNOWN_OIN, DocumentKind.INVOICE)
        with pytest.raises(RoutingError, match="no route for document kind order"):
            route(config, AGENCY_OIN, DocumentKind.ORDER)


def test_only_the_newest_configurations_are_kept(tmp_path: Path) -> None:
    configs = [make_config(tmp_path) for _ in range(routing._KEPT_CONFIGURATIONS + 3)]
    for config in configs:
        route(config, AGENCY_OIN, DocumentKind.INVOICE)
    kept = [entry[0] for entry in routing._DECISIONS.values()]
    assert len(kept) == routing._KEPT_CONFIGURATIONS
    assert all(any(config is k for k in kept) for config in configs[-routing._KEPT_CONFIGURATIONS:])
    # A configuration no longer kept is simply decided for again.
    assert route(configs[0], AGENCY_OIN, DocumentKind.INVOICE).agency_oin == AGENCY_OIN
