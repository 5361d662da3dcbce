"""Routes a channel cannot carry, or for an agency it cannot address, refused before a send."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pipeline_support import AGENCY_OIN, Pipeline, config_text
from test_config import BASE, BZK

from gateway.channels import (
    Accepted,
    Channel,
    ChannelType,
    FinalError,
    OutboundMessage,
    carries_format,
)
from gateway.cli.context import CliContext
from gateway.cli.main import cli
from gateway.config import ConfigHolder, load_config, parse_config, switch_route
from gateway.config.fit import refuse_unfit_routes, unfit_routes
from gateway.errors import ConfigError, PluginError
from gateway.identifiers import OIN
from gateway.kinds import DocumentKind
from gateway.model.samples import example_invoice
from gateway.pipeline import OperatorActionError
from gateway.pipeline.operator import reroute
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.service import GatewayService
from gateway.store import TransportState

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gateway.toml"
RVO = "00000001009898347000"
TEST_RECIPIENT = "00000099003214345001"
REGISTRY = build_registry(make_plugin_manager())

RVO_INVOICE = f'[agencies."{RVO}".documents.invoice]\nformat = "peppol-bis:invoice:3.0"'
TEST_INVOICE = f'[agencies."{TEST_RECIPIENT}".documents.invoice]\nchannel = "folder"'
# BASE with an e-mail channel beside Digipoort and the portal.
WITH_EMAIL = BASE.replace("[channels.portal]\n", '[channels.portal]\n\n[channels.email]\n'
                          'smtp_host = "127.0.0.1"\nsender = "gateway@test.example"\n')
BASE_ROUTE = 'channel = "digipoort"   # the usual route\nformat = "ubl-ohnl:invoice:1.9"'


def example_with(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text("utf-8")
    assert old in text
    path = tmp_path / "gateway.toml"
    path.write_text(text.replace(old, new), "utf-8")
    return path


def agencies_list(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(path), "agencies", "list"],
                                obj=CliContext(path, make_plugin_manager()))
    return result.exit_code, result.stderr


# -- what the built-in channels declare --------------------------------------------------


def test_a_new_version_of_a_standard_fits_the_channel_of_the_old_one() -> None:
    digipoort = REGISTRY.channels["digipoort"].carries
    assert carries_format(digipoort, "ubl-ohnl:invoice:1.9")
    assert carries_format(digipoort, "ubl-ohnl:invoice:2.0")  # no such format yet
    assert carries_format(digipoort, "setu-ohnl:invoice:2.1")
    assert not carries_format(digipoort, "peppol-bis:invoice:3.0")
    # Quotations are suspended: Digipoort has no berichtsoort to put one on.
    assert not carries_format(digipoort, "ubl-ohnl:quotation:1.8")
    peppol = REGISTRY.channels["peppol"].carries
    assert carries_format(peppol, "peppol-bis:invoice:3.1")
    assert carries_format(peppol, "nlcius:credit-note:1.0")
    assert not carries_format(peppol, "ubl-ohnl:invoice:1.9")
    assert not carries_format(peppol, "setu-ohnl:invoice:2.0")
    # Nothing declared, anything carried: the e-mail and folder channels, outside plugins.
    assert REGISTRY.channels["email"].carries is None
    assert REGISTRY.channels["folder"].carries is None


class _Quiet(Channel):
    async def send(self, message: OutboundMessage) -> Accepted:
        return Accepted(message.message_id)


@pytest.mark.parametrize(("carries", "said"), [
    ("peppol-bis", "not a frozenset"),
    (frozenset({"peppol-bis:invoice:3.0"}), "without a version"),
    (frozenset({"Peppol BIS"}), "'Peppol BIS' is not a standard"),
    (frozenset(), "carries is empty"),
])
def test_the_registry_refuses_a_malformed_declaration(carries: object, said: str) -> None:
    registry = Registry()
    with registry.registering_for("review"), pytest.raises(PluginError) as info:
        registry.add_channel(ChannelType("quiet", _Quiet, carries=carries))  # type: ignore[arg-type]
    assert "plugin 'review': channel 'quiet'" in str(info.value)
    assert said in str(info.value)


# -- when the configuration loads --------------------------------------------------------


def test_agencies_list_refuses_ubl_ohnl_over_peppol(tmp_path: Path) -> None:
    # Before: exit 0, and every RVO invoice then failed at the access point.
    path = example_with(tmp_path, RVO_INVOICE,
                        f'[agencies."{RVO}".documents.invoice]\nformat = "ubl-ohnl:invoice:1.9"')
    code, err = agencies_list(path)
    assert code == 1, err
    assert (f"agency {RVO} (Rijksdienst voor Ondernemend Nederland): invoice in format "
            "ubl-ohnl:invoice:1.9 cannot go over its channel peppol: it carries formats of "
            "nlcius, nlcius-gaccount, peppol-bis only (any version); for invoice that is "
            "nlcius-gaccount:invoice:1.0, nlcius:invoice:1.0, peppol-bis:invoice:3.0") in err
    assert f"key 'agencies.\"{RVO}\".default_channel'" in err


def test_a_fallback_that_cannot_carry_the_format_is_named(tmp_path: Path) -> None:
    # BZK's invoices in UBL-OHNL fall back to the portal; a Peppol fallback cannot take them.
    path = example_with(tmp_path, 'default_channel = "digipoort"\nfallback_channel = "portal"\n'
                        'format_pins = { "ubl-ohnl" = "1.9" }',
                        'default_channel = "digipoort"\nfallback_channel = "peppol"\n'
                        'format_pins = { "ubl-ohnl" = "1.9" }')
    errors = unfit_routes(load_config(path), REGISTRY.channels)
    assert sorted(e.message.partition("): ")[2].partition(" cannot")[0] for e in errors) == [
        "invoice in format ubl-ohnl:invoice:1.9", "order in format ubl-ohnl:order:1.9",
        "order-response in format ubl-ohnl:order-response:1.9"]
    assert all("cannot go over its fallback channel peppol" in e.message for e in errors)
    assert {e.key for e in errors} == {f'agencies."{BZK}".fallback_channel'}


def test_the_email_channel_needs_an_address_for_the_agency(tmp_path: Path) -> None:
    # Before: accepted, and every invoice failed at send time with "no e-mail address".
    path = example_with(tmp_path, TEST_INVOICE,
                        f'[agencies."{TEST_RECIPIENT}".documents.invoice]\nchannel = "email"')
    code, err = agencies_list(path)
    assert code == 1, err
    assert (f"agency {TEST_RECIPIENT} (Testontvanger): invoice in format "
            "peppol-bis:invoice:3.0 cannot go over its channel email: no e-mail address for "
            f"agency {TEST_RECIPIENT}: set email in its [agencies] entry or recipients in "
            "[channels.email]") in err
    # The channel's own recipients table, or an address in the directory, is enough.
    with_recipient = example_with(
        tmp_path, TEST_INVOICE,
        f'[agencies."{TEST_RECIPIENT}".documents.invoice]\nchannel = "email"').read_text(
        "utf-8").replace('[channels.email]\n', f'[channels.email]\nrecipients = {{ '
                         f'"{TEST_RECIPIENT}" = "test@ontvanger.example" }}\n', 1)
    path.write_text(with_recipient, "utf-8")
    assert unfit_routes(load_config(path), REGISTRY.channels) == []


def test_the_example_and_its_routes_fit() -> None:
    assert unfit_routes(load_config(EXAMPLE), REGISTRY.channels) == []


def test_the_gateway_does_not_start_on_a_route_its_channel_cannot_carry(
    tmp_path: Path, isolated_data_dir: Path,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(BASE.replace(BASE_ROUTE, 'channel = "digipoort"\n'
                                 'format = "nlcius:invoice:1.0"'), "utf-8")
    with pytest.raises(ConfigError) as info:
        GatewayService(path, make_plugin_manager())
    assert (f"agency {BZK} (Ministerie van Test): invoice in format nlcius:invoice:1.0 "
            "cannot go over its channel digipoort: it carries formats of") in str(info.value)
    assert info.value.key == f'agencies."{BZK}".documents.invoice.channel'


def test_a_reload_with_an_unfit_route_keeps_the_configuration_in_force(
    tmp_path: Path, isolated_data_dir: Path,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(WITH_EMAIL, "utf-8")
    service = GatewayService(path, make_plugin_manager())
    # An agency switched to e-mail by hand, without an address for it.
    path.write_text(WITH_EMAIL.replace(BASE_ROUTE, 'channel = "email"\n'
                                       'format = "ubl-ohnl:invoice:1.9"'), "utf-8")
    assert service.config_holder.reload() is False
    assert service.config.agencies[OIN(BZK)].documents[DocumentKind.INVOICE].channel == (
        "digipoort")
    error = service.config_holder.last_error
    assert error is not None
    assert f"no e-mail address for agency {BZK}" in str(error)
    assert error.line is not None


def test_several_unfit_routes_are_counted_in_one_refusal(tmp_path: Path) -> None:
    path = example_with(tmp_path, 'default_channel = "digipoort"\nfallback_channel = "portal"\n'
                        'format_pins = { "ubl-ohnl" = "1.9" }',
                        'default_channel = "peppol"\nfallback_channel = "portal"\n'
                        'format_pins = { "ubl-ohnl" = "1.9" }')
    with pytest.raises(ConfigError) as info:
        ConfigHolder(path, check=lambda c: refuse_unfit_routes(c, REGISTRY.channels))
    assert "order in format ubl-ohnl:order:1.9 cannot go over its channel peppol" in str(
        info.value)
    assert "(and 1 more route(s) like it; `gateway agencies list` names them all)" in str(
        info.value)


# -- the operator's switch and reroute ---------------------------------------------------


def test_a_switch_to_a_channel_that_cannot_carry_the_route_is_refused(tmp_path: Path) -> None:
    # Before: written and audited, and BZK's UBL-OHNL invoices failed at the access point.
    path = tmp_path / "gateway.toml"
    path.write_text(WITH_EMAIL + "\n[channels.peppol]\n", "utf-8")
    before = path.read_bytes()
    with pytest.raises(ConfigError) as info:
        switch_route(path, BZK, "invoice", "peppol", actor="test", reason="outage",
                     format_keys=REGISTRY.formats, channel_types=REGISTRY.channels)
    assert str(info.value).endswith(
        f"switch refused, the file is unchanged: agency {BZK} (Ministerie van Test): invoice "
        "in format ubl-ohnl:invoice:1.9 cannot go over its channel peppol: it carries formats "
        "of nlcius, nlcius-gaccount, peppol-bis only (any version); for invoice that is "
        "nlcius-gaccount:invoice:1.0, nlcius:invoice:1.0, peppol-bis:invoice:3.0")
    assert path.read_bytes() == before
    # With a format Peppol carries, the same switch goes through.
    _, new = switch_route(path, BZK, "invoice", "peppol", "peppol-bis:invoice:3.0",
                          actor="test", reason="outage", format_keys=REGISTRY.formats,
                          channel_types=REGISTRY.channels)
    assert (new.channel, new.format) == ("peppol", "peppol-bis:invoice:3.0")


def test_gateway_agencies_switch_to_email_needs_an_address(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(WITH_EMAIL, "utf-8")
    before = path.read_bytes()
    result = CliRunner().invoke(
        cli, ["--config", str(path), "agencies", "switch", BZK, "-d", "invoice",
              "--channel", "email", "--reason", "Digipoort outage"],
        obj=CliContext(path, make_plugin_manager()))
    assert result.exit_code == 1, result.output
    assert (f"cannot go over its channel email: no e-mail address for agency {BZK}: set email "
            "in its [agencies] entry or recipients in [channels.email]") in result.stderr
    assert path.read_bytes() == before


async def test_a_reroute_to_a_channel_that_cannot_carry_the_message_is_refused(
    pipe: Pipeline, tmp_path: Path,
) -> None:
    config = parse_config(config_text(tmp_path) + '\n[channels.peppol]\n\n[channels.email]\n'
                          'smtp_host = "127.0.0.1"\nsender = "gateway@test.example"\n',
                          tmp_path / "gateway.toml")
    pipe.recorder.script = [FinalError("gone")]
    record = await pipe.submit(example_invoice())  # canonical:invoice:1, for AGENCY_OIN
    failed = await pipe.until(record.id, {TransportState.FAILED})
    with pytest.raises(OperatorActionError) as info:
        await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                      actor="fatima", channel="peppol", reason="moved", config=config)
    assert (f"message {record.id} (invoice in format canonical:invoice:1 for agency "
            f"{AGENCY_OIN} (Naam Overheidsorganisatie)) cannot go over channel peppol: it "
            "carries formats of nlcius, nlcius-gaccount, peppol-bis only") in str(info.value)
    with pytest.raises(OperatorActionError, match=f"no e-mail address for agency {AGENCY_OIN}"):
        await reroute(pipe.store, pipe.registry, pipe.outbound.validator, record.id,
                      actor="fatima", channel="email", reason="by mail", config=config)
    after = await pipe.store.get(record.id)
    assert after is not None
    assert (after.transport_state, after.channel) == (failed.transport_state, failed.channel)
    assert await pipe.store.audit_log() == []
