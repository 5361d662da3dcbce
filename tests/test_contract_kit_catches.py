"""Plugins that break their promises are caught by `gateway contracts`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.paths import STANDARDS_DIR_ENV

HEADER = '''
import uuid
from contextlib import asynccontextmanager
from gateway.channels import (Accepted, Channel, ChannelContract, ChannelType, FinalError,
                              RetryableError)
from gateway.errors import GatewayError
from gateway.formats import Decoded, Detection, Format, Sample
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from gateway.xmlsafe import parse_xml
from lxml import etree

NS = "urn:example:review"


class ReviewError(GatewayError):
    pass


def _root(data):
    try:
        root = parse_xml(data).getroot()
    except GatewayError:
        raise
    except Exception as exc:
        raise ReviewError(f"not XML: {exc}") from None
    if etree.QName(root).namespace != NS:
        raise ReviewError("not a review document")
    return root
'''

# A channel that raises on every transport error, and simply declares no failure cases.
RAISING_CHANNEL = HEADER + '''
class Raiser(Channel):
    type_name = "raiser"

    async def send(self, message):
        if self.settings.get("down"):
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return Accepted(message.transport_id or message.message_id)


@asynccontextmanager
async def working(scratch):
    yield {}


@hookimpl
def register_channels(registry):
    registry.add_channel(ChannelType(
        "raiser", Raiser, "raises instead of classifying its errors",
        contract=ChannelContract(working=working),
    ))
'''

# A format whose encode is not deterministic: a fresh UUID (and so fresh bytes) each time.
JITTERY_FORMAT = HEADER + '''
class Jittery(Format):
    key = "jittery:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.OUTBOUND, Direction.INBOUND})
    description = "a new UUID in every encoding"

    def detect(self, doc):
        if doc.root_namespace == NS and doc.root_name == "jittery":
            return Detection.MATCH
        return Detection.NO

    def encode(self, document, context):
        return (f'<jittery xmlns="{NS}" uuid="{uuid.uuid4()}">{document}</jittery>').encode()

    def decode(self, data):
        root = _root(data)
        if etree.QName(root).localname != "jittery":
            raise ReviewError("not jittery")
        return Decoded(root.text)

    def samples(self):
        return [Sample(name="one", document="INV-1")]


@hookimpl
def register_formats(registry):
    registry.add_format(Jittery())
'''

# A format whose decode silently drops the <note>, with a data sample (allowed by Sample).
LOSSY_FORMAT = HEADER + '''
class Lossy(Format):
    key = "lossy:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.INBOUND})
    description = "forgets the note, without a warning"

    def detect(self, doc):
        if doc.root_namespace == NS and doc.root_name == "lossy":
            return Detection.MATCH
        return Detection.NO

    def encode(self, document, context):
        return f'<lossy xmlns="{NS}"><id>{document["id"]}</id></lossy>'.encode()

    def decode(self, data):
        root = _root(data)
        if etree.QName(root).localname != "lossy":
            raise ReviewError("not lossy")
        ident = root.findtext(f"{{{NS}}}id")
        # <note> is readable but never mapped and never warned about.
        return Decoded({"id": ident})

    def samples(self):
        return [Sample(name="with-note", data=(
            f'<lossy xmlns="{NS}"><id>INV-9</id><note>pay to NL91ABNA0417164300</note>'
            "</lossy>").encode())]


@hookimpl
def register_formats(registry):
    registry.add_format(Lossy())
'''


# A channel that raises in its one failure case, and a format whose encoder gives text:
# the kit must say which promise broke, not only show the TypeError or socket error.
RAISES_WHEN_DOWN = HEADER + '''
from gateway.channels import FailureCase


class DownRaiser(Channel):
    type_name = "down-raiser"

    async def send(self, message):
        if self.settings.get("down"):
            raise ConnectionRefusedError("[Errno 111] Connection refused")
        return Accepted(message.transport_id or message.message_id)


@asynccontextmanager
async def working(scratch):
    yield {}


@asynccontextmanager
async def down(scratch):
    yield {"down": True}


@hookimpl
def register_channels(registry):
    registry.add_channel(ChannelType(
        "down-raiser", DownRaiser, "raises when nobody listens",
        contract=ChannelContract(working=working,
                                 failures=(FailureCase("down", down, "retryable"),)),
    ))
'''

# Channels whose declarations do not hold: one that names a format version in what it
# carries, one that carries formats the kit's message is not in, and one whose address
# lookup raises KeyError for an agency it has no address for.
DECLARING_CHANNEL = HEADER + '''
from gateway.channels import FailureCase


class Quiet(Channel):
    type_name = "quiet"

    async def send(self, message):
        if self.settings.get("down"):
            return RetryableError("down")
        return Accepted(message.transport_id or message.message_id)


@asynccontextmanager
async def working(scratch):
    yield {"to": "agency@example.org"}


@asynccontextmanager
async def down(scratch):
    yield {"down": True}


def recipient(channel, settings, agency_oin, directory):
    return settings["to"]


@hookimpl
def register_channels(registry):
    registry.add_channel(ChannelType(
        "NAME", Quiet, "declares what it carries", DECLARATION,
        contract=ChannelContract(working=working,
                                 failures=(FailureCase("down", down, "retryable"),)),
    ))
'''
VERSIONED_CARRIES = DECLARING_CHANNEL.replace("NAME", "versioned").replace(
    "DECLARATION", 'carries=frozenset({"peppol-bis:invoice:3.0"})')
NARROW_CARRIES = DECLARING_CHANNEL.replace("NAME", "narrow").replace(
    "DECLARATION", 'carries=frozenset({"peppol-bis"})')
KEYERROR_RECIPIENT = DECLARING_CHANNEL.replace("NAME", "keyerror").replace(
    "DECLARATION", "recipient=recipient")

TEXT_ENCODER = JITTERY_FORMAT.replace(
    "</jittery>').encode()", "</jittery>')",
).replace('f\'<jittery xmlns="{NS}" uuid="{uuid.uuid4()}">', 'f\'<jittery xmlns="{NS}">')


# A UBL invoice format whose encoder leaves out what the UBL schema requires (IssueDate,
# the parties, the totals), and one whose Schematron layer names a file no standard has.
UNFIT_UBL = HEADER + '''
from gateway.formats import LayerKind, ValidationLayer

UBL = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
MARK = "urn:example:review:unfit"


class Unfit(Format):
    key = "unfit:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.OUTBOUND})
    description = "UBL without the parts UBL requires"
    artifact = "oasis-ubl/ubl-2.1/xsdrt/maindoc/UBL-Invoice-2.1.xsd"

    def layers(self):
        return [ValidationLayer(LayerKind.XSD, "ubl-2.1", self.artifact)]

    def detect(self, doc):
        if doc.root is not None and doc.root.findtext(f"{{{CBC}}}CustomizationID") == MARK:
            return Detection.MATCH
        return Detection.NO

    def encode(self, document, context):
        return (f\'<Invoice xmlns="{UBL}" xmlns:cbc="{CBC}"><cbc:CustomizationID>{MARK}\'
                f"</cbc:CustomizationID><cbc:ID>{document}</cbc:ID></Invoice>").encode()

    def decode(self, data):
        root = parse_xml(data).getroot()
        if root.findtext(f"{{{CBC}}}CustomizationID") != MARK:
            raise ReviewError("not an unfit invoice")
        return Decoded(root.findtext(f"{{{CBC}}}ID"))

    def samples(self):
        return [Sample(name="one", document="INV-1")]


class Unpinned(Unfit):
    key = "unfit:invoice:2"
    artifact = "si-ubl-validation/xsl/si-ubl-2.1.xsl"

    def layers(self):
        return [ValidationLayer(LayerKind.SCHEMATRON, "si-ubl-2.1", self.artifact)]

    def samples(self):
        return []


@hookimpl
def register_formats(registry):
    registry.add_format(Unfit())
    registry.add_format(Unpinned())
'''


# A polling channel whose poller asks about its sent messages and reports on each; with
# WRONG_ID it names them by message id instead of the transport id its send returned.
POLLING_CHANNEL = HEADER + '''
import asyncio
from gateway.channels import StatusCase, StatusReport

WRONG_ID = WRONG


class Poller(Channel):
    type_name = "poller"
    task = None

    async def start(self, context):
        await super().start(context)
        if context.status is not None and context.sent is not None:
            self.task = asyncio.create_task(self._poll(context))

    async def _poll(self, context):
        while True:
            for sent in await context.sent():
                named = sent.message_id if WRONG_ID else sent.transport_id
                await context.status(StatusReport(code="delivered", transport_id=named))
            await asyncio.sleep(0.05)

    async def stop(self):
        if self.task is not None:
            self.task.cancel()
            try:
                await self.task
            except asyncio.CancelledError:
                pass
        await super().stop()

    async def send(self, message):
        return Accepted("T-" + message.message_id)


@asynccontextmanager
async def working(scratch):
    yield {}


@hookimpl
def register_channels(registry):
    registry.add_channel(ChannelType(
        "poller", Poller, "reports what became of what it sent",
        contract=ChannelContract(working=working, status=StatusCase(within=2)),
    ))
'''


# A format of a standard Wissel does not pin: its plugin brings the XSD and its manifest.
PINNED_BY_PLUGIN = HEADER + '''
from pathlib import Path
from gateway.formats import LayerKind, ValidationLayer

PINNED = "urn:example:review:pinned"


class Pinned(Format):
    key = "pinned:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.OUTBOUND})
    description = "a standard whose XSD its plugin pins"

    def layers(self):
        return [ValidationLayer(LayerKind.XSD, "pinned-1", "pinned-1/pinned.xsd")]

    def detect(self, doc):
        return Detection.MATCH if doc.root_name == "Pinned" else Detection.NO

    def encode(self, document, context):
        return f\'<Pinned xmlns="{PINNED}"><ID>{document}</ID></Pinned>\'.encode()

    def decode(self, data):
        root = parse_xml(data).getroot()
        if root.tag != f"{{{PINNED}}}Pinned":
            raise ReviewError("not a pinned invoice")
        return Decoded(root.findtext(f"{{{PINNED}}}ID"))

    def samples(self):
        return [Sample(name="one", document="INV-1")]


@hookimpl
def register_formats(registry):
    registry.add_standards(Path(__file__).with_name("pinned.toml"))
    registry.add_format(Pinned())
'''
PINNED_XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="qualified"
           targetNamespace="urn:example:review:pinned">
  <xs:element name="Pinned">
    <xs:complexType><xs:sequence><xs:element name="ID" type="xs:string"/></xs:sequence>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


# Two plugins: one modest, and a greedy one that claims the modest one's documents too.
# Checked with --plugin modest alone, the greedy format's detection is never run.
MODEST_AND_GREEDY = HEADER + '''
class Modest(Format):
    key = "modest:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.OUTBOUND})
    description = "claims only its own documents"
    local = "modest"

    def detect(self, doc):
        if doc.root_namespace == NS and doc.root_name == self.local:
            return Detection.MATCH
        return Detection.NO

    def encode(self, document, context):
        return f\'<{self.local} xmlns="{NS}">{document}</{self.local}>\'.encode()

    def decode(self, data):
        root = _root(data)
        if etree.QName(root).localname != self.local:
            raise ReviewError(f"not {self.local}")
        return Decoded(root.text)

    def samples(self):
        return [Sample(name="one", document="INV-1")]


class Greedy(Modest):
    key = "greedy:invoice:1"
    local = "greedy"

    def detect(self, doc):
        return Detection.MATCH if doc.root_namespace == NS else Detection.NO


class ModestPlugin:
    @hookimpl
    def register_formats(self, registry):
        registry.add_format(Modest())


class GreedyPlugin:
    @hookimpl
    def register_formats(self, registry):
        registry.add_format(Greedy())


modest = ModestPlugin()
greedy = GreedyPlugin()
'''


def _run_kit(
    tmp_path: Path, name: str, source: str, env: dict[str, str] | None = None,
    also: tuple[str, ...] = (), pytest_args: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Run the kit on plugin ``name``; ``also`` names objects of the module that are each a
    plugin of that name (``name`` among them), for several plugins in one module."""
    module = f"review_{name.replace('-', '_')}_mod"
    dist = tmp_path / f"review_{name.replace('-', '_')}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: review-{name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[wissel.plugins]\n" + "".join(f"{each} = {module}:{each}\n" for each in also)
        if also else f"[wissel.plugins]\n{name} = {module}\n")
    (tmp_path / f"{module}.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "contracts", "--plugin", name,
         "--", "-q", "-rfE", "-p", "no:randomly", *pytest_args],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]), **(env or {})},
    )


@pytest.mark.parametrize(("name", "source"), [
    ("raiser", RAISING_CHANNEL),
    ("jittery", JITTERY_FORMAT),
    ("lossy", LOSSY_FORMAT),
])
def test_kit_fails_a_plugin_that_breaks_its_promise(
    tmp_path: Path, name: str, source: str,
) -> None:
    result = _run_kit(tmp_path, name, source)
    assert "passed" in result.stdout or "failed" in result.stdout, result.stdout + result.stderr
    assert result.returncode != 0, (
        f"the contract kit passed the broken plugin {name!r}:\n{result.stdout[-1500:]}")


def test_the_raising_channel_really_raises() -> None:
    """The raiser is not a straw man: the core has to catch what it throws."""
    import asyncio

    namespace: dict[str, object] = {}
    exec(RAISING_CHANNEL, namespace)
    channel = namespace["Raiser"]("r", {"down": True})  # type: ignore[operator]
    from gateway.channels import OutboundMessage
    from gateway.kinds import DocumentKind

    message = OutboundMessage("m", "00000099003214345001", DocumentKind.INVOICE, "x:y:1", b"<x/>")
    with pytest.raises(ConnectionRefusedError):
        asyncio.run(channel.send(message))


@pytest.mark.parametrize(("name", "source", "said"), [
    ("raiser-down", RAISES_WHEN_DOWN,
     "down: send raised ConnectionRefusedError: [Errno 111] Connection refused; "
     "a channel returns RetryableError or FinalError for a transport error, it never raises"),
    ("text-encoder", TEXT_ENCODER, "encode gave str, not bytes"),
    ("versioned", VERSIONED_CARRIES, "carries entry 'peppol-bis:invoice:3.0' is not a "
     "standard ('ubl-ohnl') or a standard and document ('ubl-ohnl:invoice') in lower case, "
     "without a version"),
    ("narrow", NARROW_CARRIES, "the kit's message is in format contract:invoice:1, which "
     "carries (peppol-bis) leaves out"),
    ("keyerror", KEYERROR_RECIPIENT, "recipient raised KeyError for an agency it has no "
     "address for: 'to'; it raises ValueError"),
])
def test_kit_says_which_promise_a_plugin_broke(
    tmp_path: Path, name: str, source: str, said: str,
) -> None:
    result = _run_kit(tmp_path, name, source)
    assert result.returncode != 0, result.stdout[-1500:]
    # A declaration the registry refuses stops the kit before any test, on stderr.
    assert said in result.stdout + result.stderr, result.stdout[-3000:] + result.stderr[-1500:]


def test_kit_validates_samples_against_the_formats_own_layers(
    tmp_path: Path, installed_standards: Path,
) -> None:
    """A format whose every document its receiver would refuse must not pass the kit, nor
    one naming a validation artifact the gateway can never install."""
    result = _run_kit(tmp_path, "unfit", UNFIT_UBL, {STANDARDS_DIR_ENV: str(installed_standards)})
    assert result.returncode != 0, result.stdout[-1500:]
    assert "sample one fails the format's own layers" in result.stdout, result.stdout[-3000:]
    assert "IssueDate" in result.stdout, result.stdout[-3000:]
    assert ("artifact si-ubl-validation/xsl/si-ubl-2.1.xsl is not in the standards manifest"
            in result.stdout), result.stdout[-3000:]


def test_kit_fails_a_format_whose_samples_another_installed_format_claims_too(
    tmp_path: Path,
) -> None:
    """At run time every such document would be 'matches several formats': the kit, run on
    the one plugin, must say so even though the other plugin is the greedy one."""
    result = _run_kit(tmp_path, "modest", MODEST_AND_GREEDY, also=("modest", "greedy"))
    assert result.returncode != 0, result.stdout[-1500:]
    assert "matches several formats (greedy:invoice:1, modest:invoice:1)" in result.stdout, (
        result.stdout[-3000:])


def test_kit_passes_a_format_whose_plugin_pins_its_own_xsd(tmp_path: Path) -> None:
    """The kit checks layers against Wissel's manifest and those plugins add, and validates
    the samples with the plugin's own file."""
    import hashlib

    (tmp_path / "pinned.toml").write_text(f"""manifest_version = 1
[[artifact]]
id = "pinned-1"
version = "1"
title = "Pinned XSD"
licence = "test fixture"
source = "Wissel's tests"
base_url = ""
root = "pinned-1"
note = "A test fixture."
[[artifact.file]]
path = "pinned-1/pinned.xsd"
sha256 = "{hashlib.sha256(PINNED_XSD).hexdigest()}"
size = {len(PINNED_XSD)}
""")
    standards = tmp_path / "standards"
    (standards / "pinned-1").mkdir(parents=True)
    (standards / "pinned-1" / "pinned.xsd").write_bytes(PINNED_XSD)
    result = _run_kit(tmp_path, "pinned", PINNED_BY_PLUGIN, {STANDARDS_DIR_ENV: str(standards)},
                      pytest_args=("-rs",))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1500:]
    # The samples were validated with the plugin's XSD, not skipped as not installed.
    skipped = [line for line in result.stdout.splitlines() if line.startswith("SKIPPED")]
    assert not [line for line in skipped if "test_format_contract" in line], skipped
    assert "passed" in result.stdout, result.stdout[-3000:]


@pytest.mark.parametrize("wrong", [False, True])
def test_kit_waits_for_a_pollers_report_on_what_it_sent(tmp_path: Path, wrong: bool) -> None:
    """A poller naming its messages by anything but the transport id leaves every one of
    them 'sent' for good in the gateway: the kit must notice."""
    source = POLLING_CHANNEL.replace("WRONG_ID = WRONG", f"WRONG_ID = {wrong}")
    result = _run_kit(tmp_path, "poller", source, pytest_args=("-k", "reports_what_became"))
    if wrong:
        assert result.returncode != 0, result.stdout[-1500:]
        assert "no status report named the message sent under transport id T-" in (
            result.stdout), result.stdout[-3000:]
    else:
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1500:]
        assert "1 passed" in result.stdout, result.stdout[-3000:]
