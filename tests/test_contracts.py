"""The contract kit catches plugins that break the contract, and passes good ones."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gateway.paths import STANDARDS_DIR_ENV

REPO = Path(__file__).resolve().parents[1]

BAD_PLUGIN = '''
from gateway.channels import Accepted, Channel, ChannelContract, ChannelType, FailureCase
from gateway.formats import Decoded, Detection, Format, Sample
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from contextlib import asynccontextmanager


class Greedy(Format):
    key = "greedy:invoice:1"
    kind = DocumentKind.INVOICE
    directions = frozenset({Direction.OUTBOUND})
    description = "claims every document it sees"

    def detect(self, doc):
        return Detection.MATCH

    def encode(self, document, context):
        return b"<greedy/>"

    def decode(self, data):
        return Decoded(None)

    def samples(self):
        return [Sample(name="one", data=b"<greedy/>")]


class Forgetful(Channel):
    type_name = "forgetful"

    async def send(self, message):
        # A new id on every attempt: retries would look like new documents.
        import uuid
        return Accepted(uuid.uuid4().hex)


@asynccontextmanager
async def nothing(scratch):
    yield {}


@hookimpl
def register_formats(registry):
    registry.add_format(Greedy())


@hookimpl
def register_channels(registry):
    registry.add_channel(ChannelType(
        "forgetful", Forgetful, "forgets its transport ids",
        contract=ChannelContract(working=nothing,
                                 failures=(FailureCase("never fails", nothing, "final"),)),
    ))
'''


def _run_kit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    dist = tmp_path / "bad_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[wissel.plugins]\nbad = bad_plugin_mod\n")
    (tmp_path / "bad_plugin_mod.py").write_text(BAD_PLUGIN)
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "contracts", *args, "--", "-q", "-rf",
         "-p", "no:randomly"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )


def test_kit_fails_a_plugin_that_breaks_the_contract(tmp_path: Path) -> None:
    result = _run_kit(tmp_path, "--plugin", "bad")
    assert result.returncode == 1, result.stdout + result.stderr
    failed = {line.split("::")[1].split("[")[0] for line in result.stdout.splitlines()
              if line.startswith("FAILED")}
    assert {
        "test_never_claims_a_foreign_document",  # greedy detection
        "test_round_trip",  # decode gives nothing back
        "test_decoding_foreign_input_fails_cleanly",  # decodes anything without a word
        "test_starts_sends_and_stops_cleanly",  # new transport id on retry
        "test_failures_are_classified",  # "never fails" case is accepted
    } <= failed, result.stdout


def test_kit_passes_the_built_in_plugins_and_the_example(tmp_path: Path) -> None:
    plugins = ["folder", "canonical-json"]
    if "wissel-plugin-http" in subprocess.run(
        [sys.executable, "-m", "pip", "list"], capture_output=True, text=True
    ).stdout:
        plugins.append("http-post")
    args = [arg for name in plugins for arg in ("--plugin", name)]
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "contracts", *args, "--", "-q"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_kit_names_a_plugin_it_cannot_check_in_one_line(tmp_path: Path) -> None:
    """An unknown plugin name (or one that registered nothing) is the integrator's first
    mistake; the answer must be the reason, not pytest's collection traceback per module."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "contracts", "--plugin", "no-such-plugin"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "no-such-plugin registered no format or channel" in output, output
    assert "Traceback" not in output, output
    assert "site-packages" not in output, output


def test_kit_skips_a_channel_that_needs_uninstalled_standards(tmp_path: Path) -> None:
    """Run from a plugin's own folder with no standards installed, Digipoort cannot start
    (its koppelvlak XSD is missing): a skip naming the file, as for a format's validation,
    not a failure an integrator would take for their own."""
    empty = tmp_path / "no-standards"
    empty.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "contracts", "--plugin", "digipoort",
         "--", "-q", "-rs", "-p", "no:randomly"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, STANDARDS_DIR_ENV: str(empty)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "digipoort cannot start without the standards: koppelvlak XSD not found" in output, (
        output[-3000:])
