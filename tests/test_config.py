"""The configuration file: loading the example, error locations, reloading, switching routes."""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
import tomllib
from pathlib import Path

import pytest

from gateway.config import (
    AuditLog,
    ConfigHolder,
    check_against_registry,
    load_config,
    parse_config,
    switch_route,
)
from gateway.config import switch as switch_module
from gateway.config.locate import KeyLocator
from gateway.errors import ConfigError
from gateway.identifiers import OIN, KvKNumber
from gateway.kinds import DocumentKind

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "gateway.toml"
BZK = "00000001003214345000"
JENV = "00000001007465075000"
RWS = "00000001006492083000"

# A small valid file that the error tests break one line at a time.
BASE = textwrap.dedent('''\
    # test configuration
    [gateway]
    data_dir = "data"

    [supplier]
    name = "Test B.V."
    kvk = "12345678"
    vestigingsnummer = "000012345678"

    [channels.digipoort]
    environment = "simulator"

    [channels.portal]

    [agencies."00000001003214345000"]
    name = "Ministerie van Test"
    fallback_channel = "portal"
    contacts = [
        { name = "Helpdesk", email = "helpdesk@test.example" },
        { name = "Jan", role = "inkoper" },
    ]

    [agencies."00000001003214345000".documents.invoice]
    channel = "digipoort"   # the usual route
    format = "ubl-ohnl:invoice:1.9"
''')


def line_of(text: str, needle: str) -> int:
    """1-based line of the only line containing ``needle``; the tests' independent truth."""
    found = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(found) == 1, f"{needle!r} found on lines {found}"
    return found[0]


def write(tmp_path: Path, text: str, name: str = "gateway.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    return info.value


# -- the example ---------------------------------------------------------------


def test_example_loads_with_derived_identities() -> None:
    config = load_config(EXAMPLE)
    supplier = config.supplier
    assert str(supplier.kvk) == "30097265"
    assert supplier.oin == KvKNumber("30097265").to_oin()
    assert str(supplier.oin) == "00000003300972650000"
    assert str(supplier.peppol_id) == "0106:30097265"
    assert supplier.vat is not None
    assert str(supplier.vat) == "NL001427507B01"
    assert supplier.address is not None
    assert supplier.address.city == "Utrecht"
    assert len(config.agencies) >= 5
    bzk = config.agencies[OIN(BZK)]
    assert bzk.short_name == "BZK"
    assert str(bzk.peppol_id) == f"0190:{BZK}"
    assert [c.name for c in bzk.contacts] == ["Servicedesk inkoop", "Jan de Vries"]
    assert bzk.format_pins == {"ubl-ohnl": "1.9"}
    assert bzk.supplier_number == "13023"
    assert config.agencies[OIN("00000001007465075000")].supplier_number is None
    order = bzk.documents[DocumentKind.ORDER]
    assert (order.channel, order.channel_is_default) == ("digipoort", True)
    assert (order.fallback_channel, order.fallback_is_default) == ("portal", True)


def test_example_channels_and_gateway_settings(isolated_data_dir: Path) -> None:
    config = load_config(EXAMPLE)
    assert set(config.channels) >= {"digipoort", "peppol", "portal", "email", "folder"}
    assert config.channels["digipoort"].settings["environment"] == "simulator"
    pre = config.channels["digipoort-pre"]
    assert (pre.type, pre.enabled) == ("digipoort", False)
    assert "type" not in pre.settings
    assert "enabled" not in pre.settings
    settings = config.gateway
    assert settings.listen_host == "127.0.0.1"
    assert settings.listen_port == 8780
    # The example leaves data_dir to $GATEWAY_DATA_DIR, which the suite isolates.
    assert settings.data_dir == isolated_data_dir
    assert settings.database == f"sqlite:///{isolated_data_dir / 'gateway.db'}"
    assert settings.sqlite_path == isolated_data_dir / "gateway.db"
    assert settings.audit_log == isolated_data_dir / "audit.jsonl"
    assert settings.token is None
    assert settings.token_env == "WISSEL_API_TOKEN"


def test_example_uses_every_kind_of_channel_and_the_named_formats() -> None:
    config = load_config(EXAMPLE)
    used = {r.channel for a in config.agencies.values() for r in a.documents.values()}
    assert used >= {"digipoort", "peppol", "portal", "email", "folder"}
    formats = {r.format for a in config.agencies.values() for r in a.documents.values()}
    assert formats >= {
        "ubl-ohnl:invoice:1.9", "ubl-ohnl:order-response:1.9", "peppol-bis:invoice:3.0",
        "nlcius:invoice:1.0", "peppol-bis:order-response:3", "setu-ohnl:timecard:2.0",
    }


def test_example_has_no_secrets() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert "token" not in data["gateway"]
    for channel in data["channels"].values():
        for key in channel:
            assert not any(word in key for word in ("password", "secret", "passphrase")) \
                or key.endswith("_env"), key


def test_api_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    config = load_config(EXAMPLE)
    monkeypatch.setenv("WISSEL_API_TOKEN", "s3cret")
    assert config.gateway.api_token() == "s3cret"
    monkeypatch.delenv("WISSEL_API_TOKEN")
    with pytest.raises(ConfigError, match="WISSEL_API_TOKEN"):
        config.gateway.api_token()
    assert "s3cret" not in repr(parse_config(BASE.replace(
        '[gateway]\n', '[gateway]\ntoken = "s3cret"\n'), EXAMPLE).gateway)


# -- paths and defaults ------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    text = BASE.replace(
        'data_dir = "data"',
        'data_dir = "var"\ndatabase = "sqlite:///db/x.db"\naudit_log = "logs/audit.jsonl"\n'
        'standards_dir = "/opt/standards"',
    )
    config = load_config(write(tmp_path, text))
    assert config.gateway.data_dir == tmp_path / "var"
    assert config.gateway.database == f"sqlite:///{tmp_path / 'db' / 'x.db'}"
    assert config.gateway.audit_log == tmp_path / "logs" / "audit.jsonl"
    assert config.gateway.standards_dir == Path("/opt/standards")


def test_data_dir_defaults_to_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "elsewhere"))
    config = load_config(write(tmp_path, BASE.replace('data_dir = "data"\n', "")))
    assert config.gateway.data_dir == tmp_path / "elsewhere"
    assert config.gateway.audit_log == tmp_path / "elsewhere" / "audit.jsonl"


def test_postgres_database_is_kept(tmp_path: Path) -> None:
    text = BASE.replace('data_dir = "data"', 'database = "postgresql://gw@db/gateway"')
    assert load_config(write(tmp_path, text)).gateway.database == "postgresql://gw@db/gateway"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(tmp_path / "nope.toml")
    assert info.value.file == str(tmp_path / "nope.toml")


def test_default_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, BASE, "elsewhere.toml")
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    assert load_config().path == path


# -- errors name file, line and key ---------------------------------------------------


def test_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    text = BASE.replace('environment = "simulator"', 'environment = "simulator')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, 'environment = "simulator')
    assert "invalid TOML" in error.message
    assert "column" in error.message
    assert error.key == "channels.digipoort.environment"
    assert str(error).startswith(f"{tmp_path / 'gateway.toml'}:{error.line}, key ")


def test_bad_agency_oin(tmp_path: Path) -> None:
    text = BASE.replace('[agencies."00000001003214345000"]', '[agencies."00000001003214346000"]')
    text = text.replace('[agencies."00000001003214345000".documents',
                        '[agencies."00000001003214346000".documents')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, '[agencies."00000001003214346000"]')
    assert error.key == 'agencies."00000001003214346000"'
    assert "not a valid OIN" in error.message


def test_unknown_document_kind_suggests(tmp_path: Path) -> None:
    text = BASE.replace(".documents.invoice]", ".documents.invioce]")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, ".documents.invioce]")
    assert error.key == 'agencies."00000001003214345000".documents.invioce'
    assert "did you mean 'invoice'" in error.message


def test_unknown_key_is_a_typo_with_suggestion(tmp_path: Path) -> None:
    text = BASE.replace('channel = "digipoort"   #', 'chanel = "digipoort"   #')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "chanel =")
    assert error.key == 'agencies."00000001003214345000".documents.invoice.chanel'
    assert "unknown key 'chanel'" in error.message
    assert "did you mean 'channel'?" in error.message


def test_unknown_key_in_gateway_and_top_level(tmp_path: Path) -> None:
    text = BASE.replace('data_dir = "data"', 'data_dri = "data"')
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, "data_dri"), "gateway.data_dri")
    assert "did you mean 'data_dir'" in error.message

    text = BASE + '\n[agency."00000001003227522000"]\nname = "x"\n'
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, "[agency."), "agency")
    assert "did you mean 'agencies'" in error.message


def test_unknown_key_inside_an_array_element(tmp_path: Path) -> None:
    text = BASE.replace('{ name = "Jan", role = "inkoper" }', '{ name = "Jan", rol = "inkoper" }')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, 'rol = "inkoper"')
    assert error.key == 'agencies."00000001003214345000".contacts[1].rol'
    assert "did you mean 'role'" in error.message


def test_missing_required_key_points_at_its_table(tmp_path: Path) -> None:
    text = BASE.replace('name = "Ministerie van Test"\n', "")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, '[agencies."00000001003214345000"]')
    assert error.key == 'agencies."00000001003214345000".name'
    assert "missing required key 'name'" in error.message


def test_missing_supplier_table(tmp_path: Path) -> None:
    text = BASE.replace("[supplier]", "[supplier.contact]").replace(
        'name = "Test B.V."\nkvk = "12345678"\nvestigingsnummer = "000012345678"\n', 'name = "x"\n'
    )
    error = load_error(tmp_path, text)
    assert error.key == "supplier.name"
    assert error.line == line_of(text, "[supplier.contact]")
    error = load_error(tmp_path, "[gateway]\n")
    assert error.key == "supplier"
    assert "missing required table [supplier]" in error.message


def test_channel_referenced_but_not_defined(tmp_path: Path) -> None:
    text = BASE.replace('channel = "digipoort"   #', 'channel = "digipoot"   #')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, 'channel = "digipoot"')
    assert error.key == 'agencies."00000001003214345000".documents.invoice.channel'
    assert "not defined in [channels]" in error.message
    assert "did you mean 'digipoort'" in error.message

    text = BASE.replace('fallback_channel = "portal"', 'fallback_channel = "email"')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, 'fallback_channel = "email"')


def test_route_without_channel_needs_default_channel(tmp_path: Path) -> None:
    text = BASE.replace('channel = "digipoort"   # the usual route\n', "")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, ".documents.invoice]")
    assert "default_channel" in error.message


def test_wrong_types(tmp_path: Path) -> None:
    text = BASE.replace("[channels.portal]", '[channels.portal]\nenabled = "no"')
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, 'enabled = "no"'), "channels.portal.enabled")
    assert "must be true or false, not a string" in error.message

    text = BASE.replace('name = "Ministerie van Test"', "name = 42")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "name = 42")
    assert "must be a string, not an integer" in error.message

    text = BASE.replace('name = "Helpdesk", email = "helpdesk@test.example"', "name = true")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "name = true")
    assert error.key == 'agencies."00000001003214345000".contacts[0].name'


def test_identifiers_must_be_quoted_and_valid(tmp_path: Path) -> None:
    text = BASE.replace('kvk = "12345678"', "kvk = 12345678")
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "kvk = 12345678")
    assert 'quote it: kvk = "12345678"' in error.message

    text = BASE.replace('vestigingsnummer = "000012345678"', 'vestigingsnummer = "1234"')
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, 'vestigingsnummer = "1234"'),
                                       "supplier.vestigingsnummer")
    assert "12 digits" in error.message


def test_bad_format_key(tmp_path: Path) -> None:
    text = BASE.replace('format = "ubl-ohnl:invoice:1.9"', 'format = "UBL-OHNL:invoice"')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, 'format = "UBL-OHNL:invoice"')
    assert "standard:document:version" in error.message


def test_format_pin_mismatch(tmp_path: Path) -> None:
    text = BASE.replace('fallback_channel = "portal"',
                        'fallback_channel = "portal"\nformat_pins = { "ubl-ohnl" = "2.0" }')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, 'format = "ubl-ohnl:invoice:1.9"')
    assert "pins ubl-ohnl to 2.0" in error.message


def test_supplier_oin_given_must_match_kvk(tmp_path: Path) -> None:
    text = BASE.replace('kvk = "12345678"', 'kvk = "12345678"\noin = "00000003123456780000"')
    assert str(load_config(write(tmp_path, text)).supplier.oin) == "00000003123456780000"

    text = BASE.replace('kvk = "12345678"', 'kvk = "12345678"\noin = "00000003876543210000"')
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, "oin = "), "supplier.oin")
    assert "does not match the OIN derived from kvk 12345678 (00000003123456780000)" in str(error)


def test_token_and_token_env_are_exclusive(tmp_path: Path) -> None:
    text = BASE.replace('data_dir = "data"', 'token = "x"\ntoken_env = "GW_TOKEN"')
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, 'token = "x"'), "gateway.token")


def test_bad_listen_and_database(tmp_path: Path) -> None:
    text = BASE.replace('data_dir = "data"', 'listen = "localhost"')
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, "listen ="), "gateway.listen")
    text = BASE.replace('data_dir = "data"', 'database = "mysql://x"')
    error = load_error(tmp_path, text)
    assert (error.line, error.key) == (line_of(text, "database ="), "gateway.database")


def test_dotted_and_inline_layouts_are_located(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent('''
        [agencies."00000001003227522000"]
        name = "Other"
        documents.order = { channel = "portal", formaat = "ubl-ohnl:order:1.9" }
    ''')
    error = load_error(tmp_path, text)
    assert error.line == line_of(text, "formaat")
    assert error.key == 'agencies."00000001003227522000".documents.order.formaat'


def test_locator_survives_multiline_strings_and_array_tables() -> None:
    text = textwrap.dedent('''\
        a = """
        [not.a.table]
        b = 1 \\"""
        """
        [t]  # comment with "quote
        c = 'it"s'
        when = 1979-05-27 07:32:00
        d = [
          1,
          [2, 3],
          { e = 4 },
        ]
        [[arr]]
        x = 1
        [[arr]]
        x = 2
        ''')
    tomllib.loads(text)
    locator = KeyLocator(text)
    assert locator.line_of(("a",)) == 1
    assert locator.line_of(("not",)) is None
    assert locator.line_of(("t", "c")) == 6
    assert locator.line_of(("t", "when")) == 7
    assert locator.line_of(("t", "d", 2, "e")) == 11
    assert locator.line_of(("arr", 1, "x")) == 16
    assert locator.line_of(("t", "missing")) == 5


# -- plugin registry check ----------------------------------------------------------


def test_check_against_registry() -> None:
    config = load_config(EXAMPLE)
    formats = {r.format for a in config.agencies.values() for r in a.documents.values()}
    types = {c.type for c in config.channels.values()}
    assert check_against_registry(config, formats, types) == []

    errors = check_against_registry(config, formats - {"nlcius:credit-note:1.0"}, types - {"email"})
    text = EXAMPLE.read_text(encoding="utf-8")
    by_key = {e.key: e for e in errors}
    assert set(by_key) == {
        "channels.email.type", 'agencies."00000001001417058000".documents.credit-note.format',
    }
    assert by_key["channels.email.type"].line == line_of(text, "[channels.email]")
    credit = by_key['agencies."00000001001417058000".documents.credit-note.format']
    assert credit.line == line_of(text, 'format = "nlcius:credit-note:1.0"')
    assert "did you mean 'peppol-bis:credit-note:3.0'" in credit.message


def test_registry_check_skips_disabled_channels() -> None:
    config = load_config(EXAMPLE)
    formats = {r.format for a in config.agencies.values() for r in a.documents.values()}
    types = {"peppol", "portal", "email", "folder", "digipoort"}
    assert check_against_registry(config, formats, types) == []  # digipoort-pre is disabled
    errors = check_against_registry(config, formats, types - {"digipoort"})
    assert [e.key for e in errors] == ["channels.digipoort.type"]


# -- reloading -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_holder_picks_up_a_changed_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    clock = FakeClock()
    holder = ConfigHolder(path, clock=clock)
    first = holder.current()
    assert holder.version == 1
    path.write_text(BASE.replace("Ministerie van Test", "Ministerie van Proef"), encoding="utf-8")
    assert holder.current() is first  # checked at most once per interval
    clock.now += 1.0
    assert holder.current().agencies[OIN(BZK)].name == "Ministerie van Proef"
    assert holder.version == 2


def test_holder_keeps_the_old_config_on_a_broken_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, BASE)
    clock = FakeClock()
    holder = ConfigHolder(path, clock=clock)
    good = holder.current()
    path.write_text(BASE.replace('channel = "digipoort"', 'chanel = "digipoort"'), "utf-8")
    clock.now += 5
    with caplog.at_level("ERROR", logger="gateway.config.holder"):
        assert holder.current() is good
    assert holder.version == 1
    assert holder.last_error is not None
    assert holder.last_error.key is not None
    assert "chanel" in caplog.text
    assert "still using version 1" in caplog.text

    # The same broken file is reported once, not on every check.
    caplog.clear()
    clock.now += 5
    with caplog.at_level("ERROR", logger="gateway.config.holder"):
        holder.current()
    assert caplog.text == ""

    path.write_text(BASE.replace("Ministerie van Test", "Fixed"), "utf-8")
    clock.now += 5
    assert holder.current().agencies[OIN(BZK)].name == "Fixed"
    assert holder.version == 2
    assert holder.last_error is None


def test_holder_reload_explicitly_and_unchanged_content(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    holder = ConfigHolder(path)
    assert holder.reload() is False  # same content: no new version
    assert holder.version == 1
    path.write_text(BASE.replace("Test B.V.", "Proef B.V."), "utf-8")
    assert holder.reload() is True
    assert holder.version == 2
    assert holder.current().supplier.name == "Proef B.V."
    path.unlink()
    assert holder.reload() is False
    assert holder.current().supplier.name == "Proef B.V."


def test_holder_refuses_to_start_on_a_broken_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        ConfigHolder(write(tmp_path, "[supplier\n"))


# -- audit log ---------------------------------------------------------------------------


def test_audit_log_appends_lines(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "deep" / "audit.jsonl")
    assert log.read() == []
    log.append({"action": "a", "n": 1})
    log.append({"action": "b", "text": "ünïcode"})
    assert [r["action"] for r in log.read()] == ["a", "b"]
    assert len(log.path.read_text(encoding="utf-8").splitlines()) == 2


# -- switching routes ---------------------------------------------------------------------


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_bytes(EXAMPLE.read_bytes())
    return path


def audit_records(path: Path) -> list[dict[str, object]]:
    return AuditLog(load_config(path).gateway.audit_log).read()


def test_switch_changes_one_line_and_keeps_comments(example_copy: Path) -> None:
    before = example_copy.read_text(encoding="utf-8")
    old, new = switch_route(example_copy, BZK, "invoice", "peppol", actor="tester",
                            reason="Digipoort maintenance")
    after = example_copy.read_text(encoding="utf-8")
    assert (old.channel if old else None, new.channel) == ("digipoort", "peppol")
    assert new.format == "ubl-ohnl:invoice:1.9"
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
               if a != b]
    assert changed == [('channel = "digipoort"', 'channel = "peppol"')]
    assert load_config(example_copy).agencies[OIN(BZK)].documents[
        DocumentKind.INVOICE].channel == "peppol"


def test_switch_writes_atomically_and_keeps_the_mode(example_copy: Path) -> None:
    os.chmod(example_copy, 0o640)
    inode = example_copy.stat().st_ino
    switch_route(example_copy, BZK, DocumentKind.INVOICE, "peppol", actor="tester")
    assert example_copy.stat().st_ino != inode  # replaced, not rewritten in place
    assert example_copy.stat().st_mode & 0o777 == 0o640
    leftovers = [p.name for p in example_copy.parent.iterdir() if p.name != "gateway.toml"]
    assert leftovers == ["gateway-data"]  # only the audit log's folder, no temp files


def test_switch_records_an_audit_line(example_copy: Path) -> None:
    switch_route(example_copy, OIN(RWS), "invoice", "peppol", "peppol-bis:invoice:3.0",
                 actor="alice@ops", reason="agency joined Peppol")
    [record] = audit_records(example_copy)
    assert record["action"] == "agencies.switch"
    assert record["actor"] == "alice@ops"
    assert record["oin"] == RWS
    assert record["kind"] == "invoice"
    assert record["old"] == {"kind": "invoice", "channel": "portal",
                             "format": "nlcius:invoice:1.0", "fallback_channel": "email"}
    assert record["new"] == {"kind": "invoice", "channel": "peppol",
                             "format": "peppol-bis:invoice:3.0", "fallback_channel": "email"}
    assert record["reason"] == "agency joined Peppol"
    assert record["config_file"] == str(example_copy)
    assert record["sha256"] == hashlib.sha256(example_copy.read_bytes()).hexdigest()
    assert isinstance(record["time"], str)
    assert record["time"].endswith("Z")


def test_switch_default_actor(example_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "bob")
    switch_route(example_copy, BZK, "invoice", "peppol")
    [record] = audit_records(example_copy)
    assert isinstance(record["actor"], str)
    assert record["actor"].startswith("bob@")


@pytest.mark.parametrize(
    ("oin", "kind", "channel", "format_key", "message"),
    [
        (BZK, "invoice", "nowhere", None, "not defined in [channels]"),
        (BZK, "invoice", "digipoort-pre", None, "is disabled"),
        (BZK, "invoice", "peppol", "ubl-ohnl:invoice:2.0", "pins ubl-ohnl to 1.9"),
        (BZK, "invoice", "peppol", "Not A Key", "standard:document:version"),
        ("00000001002345675000", "invoice", "peppol", None, "no agency with OIN"),
        ("123", "invoice", "peppol", None, "not a valid OIN"),
        (BZK, "timecard", "peppol", None, "give a format"),
        (BZK, "invoyce", "peppol", None, "unknown document kind"),
    ],
)
def test_invalid_switch_leaves_the_file_untouched(
    example_copy: Path, oin: str, kind: str, channel: str, format_key: str | None, message: str
) -> None:
    before = example_copy.read_bytes()
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        switch_route(example_copy, oin, kind, channel, format_key, actor="tester")
    assert example_copy.read_bytes() == before
    assert audit_records(example_copy) == []
    assert [p.name for p in example_copy.parent.iterdir()] == ["gateway.toml"]


def test_switch_validation_error_names_line_and_key(example_copy: Path) -> None:
    with pytest.raises(ConfigError) as info:
        switch_route(example_copy, BZK, "invoice", "peppol", "ubl-ohnl:invoice:2.0")
    assert info.value.key == f'agencies."{BZK}".documents.invoice.format'
    text = example_copy.read_text(encoding="utf-8")
    assert info.value.line == line_of(text, 'format = "ubl-ohnl:invoice:1.9"')
    assert "unchanged" in str(info.value)


def test_switch_to_the_current_route_writes_nothing(example_copy: Path) -> None:
    before = example_copy.stat()
    old, new = switch_route(example_copy, BZK, "invoice", "digipoort")
    assert old == new
    assert example_copy.stat().st_ino == before.st_ino
    assert audit_records(example_copy) == []


def test_switch_refuses_uninstalled_plugins(example_copy: Path) -> None:
    before = example_copy.read_bytes()
    with pytest.raises(ConfigError, match="no installed plugin provides the format"):
        switch_route(example_copy, BZK, "invoice", "peppol", format_keys={"nlcius:invoice:1.0"},
                     channel_types={"peppol"})
    with pytest.raises(ConfigError, match="channel type 'peppol'"):
        switch_route(example_copy, BZK, "invoice", "peppol",
                     format_keys={"ubl-ohnl:invoice:1.9"}, channel_types={"digipoort"})
    assert example_copy.read_bytes() == before
    switch_route(example_copy, BZK, "invoice", "peppol",
                 format_keys={"ubl-ohnl:invoice:1.9"}, channel_types={"peppol"})


def test_switch_adds_a_route_for_a_new_kind(example_copy: Path) -> None:
    old, new = switch_route(example_copy, RWS, "credit-note", "portal", "nlcius:credit-note:1.0")
    assert old is None
    assert (new.channel, new.format, new.fallback_channel) == (
        "portal", "nlcius:credit-note:1.0", None)
    text = example_copy.read_text(encoding="utf-8")
    assert f'[agencies."{RWS}".documents.credit-note]' in text
    assert load_config(example_copy).agencies[OIN(RWS)].documents[DocumentKind.CREDIT_NOTE] == new


def test_switch_in_dotted_and_out_of_order_layouts(tmp_path: Path) -> None:
    text = BASE + textwrap.dedent('''
        [agencies."00000001003227522000"]
        name = "Dotted"  # keep me
        documents.invoice = { channel = "digipoort", format = "nlcius:invoice:1.0" }

        [channels.email]

        [agencies."00000001003214345000".documents.order]
        format = "ubl-ohnl:order:1.9"
        channel = "digipoort"
    ''')
    path = write(tmp_path, text)
    switch_route(path, "00000001003227522000", "invoice", "email")
    switch_route(path, "00000001003227522000", "order", "portal", "ubl-ohnl:order:1.9")
    switch_route(path, BZK, "order", "portal")
    switch_route(path, BZK, "credit-note", "email", "ubl-ohnl:invoice:1.9")
    config = load_config(path)
    dotted = config.agencies[OIN("00000001003227522000")].documents
    assert dotted[DocumentKind.INVOICE].channel == "email"
    assert dotted[DocumentKind.ORDER].channel == "portal"
    bzk = config.agencies[OIN(BZK)].documents
    assert bzk[DocumentKind.ORDER].channel == "portal"
    assert bzk[DocumentKind.CREDIT_NOTE].channel == "email"
    new_text = path.read_text(encoding="utf-8")
    assert "# keep me" in new_text
    assert "# the usual route" in new_text
    assert len(audit_records(path)) == 4


def test_switch_refuses_when_the_file_changes_meanwhile(
    example_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_read = switch_module._read
    calls = 0

    def read_then_someone_saves(file: Path) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 2:
            file.write_bytes(file.read_bytes() + b"\n# edited by someone else\n")
        return real_read(file)

    monkeypatch.setattr(switch_module, "_read", read_then_someone_saves)
    with pytest.raises(ConfigError, match="changed while"):
        switch_route(example_copy, BZK, "invoice", "peppol")
    assert example_copy.read_bytes().endswith(b"# edited by someone else\n")
    assert audit_records(example_copy) == []


def test_switch_refuses_an_invalid_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE.replace("[supplier]", "[suplier]"))
    with pytest.raises(ConfigError, match="fix it before switching"):
        switch_route(path, BZK, "invoice", "portal")


def test_holder_sees_a_switch(example_copy: Path) -> None:
    clock = FakeClock()
    holder = ConfigHolder(example_copy, clock=clock)
    switch_route(example_copy, BZK, "invoice", "peppol")
    clock.now += 1
    assert holder.current().agencies[OIN(BZK)].documents[DocumentKind.INVOICE].channel == "peppol"
    assert holder.version == 2


def test_audit_records_are_json_lines(example_copy: Path) -> None:
    switch_route(example_copy, BZK, "invoice", "peppol", reason="one")
    switch_route(example_copy, BZK, "invoice", "digipoort", reason="two")
    lines = load_config(example_copy).gateway.audit_log.read_text("utf-8").splitlines()
    assert [json.loads(line)["reason"] for line in lines] == ["one", "two"]


def test_the_sample_payloads_can_be_sent_with_the_example_configuration() -> None:
    from gateway.model.json import loads
    from gateway.pipeline.keys import agency_party, party_oin

    config = load_config(EXAMPLE)
    payloads = sorted((EXAMPLE.parent / "erp-payloads").glob("*.json"))
    assert payloads
    for path in payloads:
        oin = party_oin(agency_party(loads(path.read_text("utf-8"))))
        assert oin is not None, path.name
        agency = config.agency(oin)
        assert agency is not None, f"{path.name}: agency {oin} is not in the example config"
    invoice_oin = party_oin(agency_party(loads((EXAMPLE.parent / "erp-payloads" /
                                                "invoice.json").read_text("utf-8"))))
    assert invoice_oin is not None
    agency = config.agency(invoice_oin)
    assert agency is not None
    assert DocumentKind.INVOICE in agency.documents
