"""A plugin pins the official files of its own formats beside Wissel's (Registry.add_standards).

A new message version must plug in without touching the core, and its XSD
or Schematron with it: the plugin ships a manifest in the format of
``schemas/standards.toml``, the gateway installs its files with the rest,
checked by sha256, and validates with them in every worker.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from api_support import invoice_json, running_gateway
from click.testing import CliRunner
from pipeline_support import AGENCY_OIN

from gateway.cli.context import CliContext
from gateway.cli.main import cli
from gateway.errors import PluginError, StandardsError
from gateway.formats import Decoded, Detection, EncodeContext, Format, LayerKind, ValidationLayer
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from gateway.model import Invoice
from gateway.pluginmanager import build_registry, describe_plugins, make_plugin_manager
from gateway.registry import Registry
from gateway.sniff import Sniffed
from gateway.standards.installer import install_from_dir, verify
from gateway.standards.manifest import default_manifest
from gateway.validation import ValidationPool, validator_for

XSD_PATH = "trial-invoice-1/trial-invoice.xsd"
# At most ten characters of invoice number: what the trial standard's XSD allows.
XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified"
           targetNamespace="urn:example:trial-invoice:1" xmlns="urn:example:trial-invoice:1">
  <xs:element name="TrialInvoice">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="Number">
          <xs:simpleType>
            <xs:restriction base="xs:string"><xs:maxLength value="10"/></xs:restriction>
          </xs:simpleType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""
LAYER = ValidationLayer(LayerKind.XSD, "trial-xsd", XSD_PATH)


def manifest_text(artifact_id: str = "trial-invoice-1", path: str = XSD_PATH,
                  data: bytes = XSD, requires: str = "") -> str:
    return f"""manifest_version = 1

[[artifact]]
id = "{artifact_id}"
version = "1.0"
title = "Trial invoice 1.0 XSD"
licence = "Public domain (a test fixture)"
source = "written for Wissel's tests"
base_url = ""
root = "{path.split('/')[0]}"
note = "A test fixture: no download address."
requires = [{requires}]

[[artifact.file]]
path = "{path}"
sha256 = "{hashlib.sha256(data).hexdigest()}"
size = {len(data)}
"""


class TrialInvoice(Format):
    """A made-up standard whose XSD only the plugin pins."""

    key = "trial:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.OUTBOUND})

    def detect(self, doc: Sniffed) -> Detection:
        return Detection.MATCH if doc.root_name == "TrialInvoice" else Detection.NO

    def layers(self) -> tuple[ValidationLayer, ...]:
        return (LAYER,)

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        assert isinstance(document, Invoice)
        return (b'<TrialInvoice xmlns="urn:example:trial-invoice:1"><Number>'
                + document.number.encode() + b"</Number></TrialInvoice>")

    def decode(self, data: bytes) -> Decoded:
        raise NotImplementedError("outbound only")


class TrialPlugin:
    def __init__(self, manifest: Path | None) -> None:
        self.manifest = manifest

    @hookimpl
    def register_formats(self, registry: Registry) -> None:
        if self.manifest is not None:
            registry.add_standards(self.manifest)
        registry.add_format(TrialInvoice())


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """The plugin's official files as an operator downloads them, and its manifest."""
    folder = tmp_path / "source"
    (folder / XSD_PATH).parent.mkdir(parents=True)
    (folder / XSD_PATH).write_bytes(XSD)
    (tmp_path / "trial.toml").write_text(manifest_text(), "utf-8")
    return folder


def registry_with(manifest: Path | None) -> Registry:
    return build_registry(make_plugin_manager(
        entry_points=False, plugins=[("trial", TrialPlugin(manifest))]))


def test_the_plugins_files_are_pinned_beside_wissels(tmp_path: Path, source: Path) -> None:
    registry = registry_with(tmp_path / "trial.toml")
    manifest = registry.manifest
    assert manifest.owners(XSD_PATH) == ("trial-invoice-1",)
    assert manifest.artifact("ubl-2.1-xsd") == default_manifest().artifact("ubl-2.1-xsd")
    assert manifest.sha256 != default_manifest().sha256
    assert registry.registered_by("trial")["standards"] == ["trial-invoice-1"]
    [info] = describe_plugins(make_plugin_manager(
        entry_points=False, plugins=[("trial", TrialPlugin(tmp_path / "trial.toml"))]), registry)
    assert info.standards == ("trial-invoice-1",)


def test_installed_and_validated_in_workers_with_the_plugins_xsd(
    tmp_path: Path, source: Path,
) -> None:
    registry = registry_with(tmp_path / "trial.toml")
    target = tmp_path / "standards"
    report = install_from_dir(registry.manifest, source, target, only=["trial-invoice-1"])
    assert report.installed == 1
    assert verify(registry.manifest, target, only=["trial-invoice-1"]).ok
    good = b'<TrialInvoice xmlns="urn:example:trial-invoice:1"><Number>F-1</Number></TrialInvoice>'
    bad = good.replace(b"F-1", b"F-123456789012")
    with ValidationPool(target, workers=1, manifest=registry.manifest) as pool:
        assert pool.run(good, (LAYER,), "trial:invoice:1").valid
        rejected = pool.run(bad, (LAYER,), "trial:invoice:1")
    assert not rejected.valid
    assert "maxLength" in rejected.errors[0].text
    assert not validator_for(target, registry.manifest).validate(bad, (LAYER,)).valid
    # Without the plugin's manifest the file is nobody's: refused, not used unchecked.
    with pytest.raises(StandardsError, match="not listed in the standards manifest"):
        validator_for(target).validate(good, (LAYER,))


def test_an_altered_plugin_file_is_refused_as_any_pinned_file(
    tmp_path: Path, source: Path,
) -> None:
    registry = registry_with(tmp_path / "trial.toml")
    target = tmp_path / "standards"
    install_from_dir(registry.manifest, source, target, only=["trial-invoice-1"])
    installed = target / XSD_PATH
    installed.write_bytes(installed.read_bytes().replace(b'value="10"', b'value="99"'))
    with pytest.raises(StandardsError, match="not the pinned files"):
        validator_for(target, registry.manifest).validate(b"<TrialInvoice/>", (LAYER,))


@pytest.mark.parametrize(("text", "refusal"), [
    (manifest_text(artifact_id="ubl-2.1-xsd"), "'ubl-2.1-xsd' is defined already"),
    (manifest_text(path="oasis-ubl/ubl-2.1/xsdrt/maindoc/UBL-Invoice-2.1.xsd"),
     "differs from the same path"),
    (manifest_text(requires='"no-such-set"'), "requires unknown artifact 'no-such-set'"),
    ("manifest_version = 1\n", "no [[artifact]] tables"),
])
def test_a_manifest_that_clashes_with_wissels_is_refused_naming_the_plugin(
    tmp_path: Path, text: str, refusal: str,
) -> None:
    path = tmp_path / "trial.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(PluginError, match="plugin 'trial'") as caught:
        registry_with(path)
    assert refusal in str(caught.value)
    assert str(path) in str(caught.value)


def test_a_plugin_set_may_require_one_of_wissels(tmp_path: Path) -> None:
    path = tmp_path / "trial.toml"
    path.write_text(manifest_text(requires='"ubl-2.1-xsd"'), "utf-8")
    manifest = registry_with(path).manifest
    assert [a.id for a in manifest.select(["trial-invoice-1"])] == [
        "ubl-2.1-xsd", "trial-invoice-1"]


def test_the_standards_commands_install_and_list_the_plugins_files(
    tmp_path: Path, source: Path,
) -> None:
    pm = make_plugin_manager(entry_points=False,
                             plugins=[("trial", TrialPlugin(tmp_path / "trial.toml"))])
    context = CliContext(tmp_path / "no-config.toml", pm)
    target = tmp_path / "standards"

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, list(args), obj=context)

    installed = run("standards", "install", "--from", str(source), "--target", str(target),
                    "--only", "trial-invoice-1")
    assert installed.exit_code == 0, installed.output
    assert "1 file(s) written" in installed.output
    listed = run("standards", "list", "--target", str(target))
    [row] = [line for line in listed.output.splitlines() if line.startswith("trial-invoice-1")]
    assert row.split()[:3] == ["trial-invoice-1", "1.0", "yes"]
    checked = run("standards", "verify", "--target", str(target), "--only", "trial-invoice-1")
    assert checked.exit_code == 0, checked.output


async def test_the_gateway_validates_a_routed_plugin_format_with_the_plugins_xsd(
    tmp_path: Path, source: Path,
) -> None:
    plugin = TrialPlugin(tmp_path / "trial.toml")
    install_from_dir(registry_with(tmp_path / "trial.toml").manifest, source,
                     tmp_path / "data" / "standards", only=["trial-invoice-1"])
    async with running_gateway(tmp_path, plugins=[("trial", plugin)],
                               invoice_format="trial:invoice:1") as gateway:
        status, _, body = await gateway.call(
            "POST", f"/api/v1/outbound/{AGENCY_OIN}", data=invoice_json("F-1"))
        assert status == 202, body
        status, _, body = await gateway.call(
            "POST", f"/api/v1/outbound/{AGENCY_OIN}",
            data=invoice_json("F-123456789012"))
        assert status == 422, body
        assert "trial-xsd" in str(body)
        _, _, health = await gateway.call("GET", "/health")
    assert not any("trial:invoice:1" in note for note in health.get("problems", [])), health
