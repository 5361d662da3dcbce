"""The standards manifest, installer and `gateway standards` commands.

Installs come from ../shared/standards (a full install takes well under a
second, so most tests install everything into their own tmp dir). The URL
tests serve a tmp copy on 127.0.0.1 and never touch the internet.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gateway.cli.standards import standards
from gateway.errors import StandardsError
from gateway.paths import STANDARDS_DIR_ENV
from gateway.standards import installer
from gateway.standards.installer import (
    STAMP_NAME,
    default_standards_dir,
    install_from_dir,
    install_from_url,
    read_stamp,
    standards_path,
    verify,
)
from gateway.standards.manifest import (
    DEFAULT_MANIFEST_PATH,
    Manifest,
    load_manifest,
    render,
    scan,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "standards"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")

UBL_INVOICE = "oasis-ubl/ubl-2.1/xsdrt/maindoc/UBL-Invoice-2.1.xsd"
SI_UBL = "si-ubl-validation/xsl/si-ubl-2.0.xsl"


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest()


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file and folder below ``directory`` with its content, hidden ones included."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(directory.rglob("*"))
    }


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))


def copy_files(manifest: Manifest, ids: list[str], destination: Path) -> None:
    """A source folder holding only the files of ``ids`` (and what they require)."""
    for _, file in manifest.entries(manifest.select(ids)):
        target = destination / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((SHARED / file.path).read_bytes())


# -- the manifest ------------------------------------------------------------


def test_manifest_layout(manifest: Manifest) -> None:
    ids = [a.id for a in manifest.artifacts]
    assert ids == sorted(ids)
    assert {
        "ubl-2.1-xsd", "en16931-ubl-xslt", "peppol-bis-billing-3-xslt",
        "peppol-bis-ordering-3-xslt", "si-ubl-2.0-xslt", "si-ubl-2.0-gaccount-xslt",
        "ubl-ohnl-1.9", "ubl-ohnl-1.8", "setu-ohnl-2.0", "w3c-xmldsig-xsd", "digipoort-wus-1.2",
    } <= set(ids)
    for artifact in manifest.artifacts:
        paths = [f.path for f in artifact.files]
        assert paths == sorted(paths), artifact.id
        assert artifact.licence, artifact.id
        assert artifact.source, artifact.id
        assert artifact.version, artifact.id
    # Run-time files only: no Schematron sources, examples or unit tests.
    for _, file in manifest.entries():
        lowered = file.path.lower()
        assert not lowered.endswith(".sch"), file.path
        assert "/examples/" not in lowered, file.path
        assert "unit-tests" not in lowered, file.path
        assert "/xml/" not in lowered, file.path


def test_manifest_file_is_exactly_what_the_generator_writes(manifest: Manifest) -> None:
    assert render(manifest.artifacts) == DEFAULT_MANIFEST_PATH.read_text(encoding="utf-8")


@needs_shared
def test_manifest_is_in_sync_with_the_shared_standards(manifest: Manifest) -> None:
    for _, file in manifest.entries():
        source = SHARED / file.path
        assert source.is_file(), f"{file.path} is not in {SHARED}"
        data = source.read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (file.size, file.sha256), file.path
    # Regenerating gives the same manifest: no upstream file was added or changed.
    assert render(scan(SHARED)) == DEFAULT_MANIFEST_PATH.read_text(encoding="utf-8")


def test_official_addresses(manifest: Manifest) -> None:
    ubl = manifest.artifact("ubl-2.1-xsd")
    assert ubl.url_for(manifest.file(UBL_INVOICE)) == (
        "https://raw.githubusercontent.com/kduvekot/ubl-release-package/"
        "69d9f20189fe7fa551dcc59f17d8480e70cda970/xsdrt/maindoc/UBL-Invoice-2.1.xsd"
    )
    digipoort = manifest.artifact("digipoort-wus-1.2")
    wsdl = manifest.file("digipoort-wus/AanleverService_V1_2.wsdl")
    assert digipoort.url_for(wsdl) == (
        "https://raw.githubusercontent.com/OpenSBR/DigipoortWusConnection/"
        "2e2adf784061bac3169e594faac9a8b9d8eb20a7/"
        "Connected%20Services/ServiceReferenceAanleveren/1.wsdl"
    )
    billing = manifest.artifact("peppol-bis-billing-3-xslt")
    assert billing.url_for(billing.files[0]) is None
    assert "--from DIR" in billing.note


def test_select_adds_required_artifacts(manifest: Manifest) -> None:
    assert [a.id for a in manifest.select(["setu-ohnl-2.0"])] == [
        "setu-ohnl-2.0", "w3c-xmldsig-xsd",
    ]
    with pytest.raises(StandardsError, match=r"unknown artifact 'nope'.*ubl-2\.1-xsd"):
        manifest.select(["nope"])


GOOD_ARTIFACT = """
manifest_version = 1

[[artifact]]
id = "demo"
version = "1"
title = "Demo"
licence = "MIT"
source = "https://example.org/repo @ abc"
base_url = "https://example.org/raw/abc/"
root = "demo"

[[artifact.file]]
path = "demo/a.xsd"
sha256 = "{sha}"
size = 3
"""


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('sha256 = "', 'sha256 = "X'), "artifact 'demo': file 'demo/a.xsd': "
                                                           "sha256 must be 64"),
        (lambda t: t.replace('licence = "MIT"\n', ""), "artifact 'demo': missing field 'licence'"),
        (lambda t: t.replace("demo/a.xsd", "../a.xsd"), "must be a plain relative path"),
        (lambda t: t.replace("demo/a.xsd", "other/a.xsd"), "not below the artifact root"),
        (lambda t: t.replace('root = "demo"', 'root = "demo"\nrequires = ["x"]'),
         "requires unknown artifact 'x'"),
        (lambda t: t.replace("size = 3", "size = -1"), "size must be a non-negative integer"),
        (lambda t: t.replace('base_url = "https://example.org/raw/abc/"', 'base_url = ""'),
         "need a note"),
        (lambda t: t.replace("[[artifact.file]]", "[artifact.file"), "not a valid TOML file"),
        (lambda t: t.replace("manifest_version = 1", "manifest_version = 9"),
         "manifest_version is 9"),
    ],
)
def test_manifest_errors_name_file_and_artifact(
    tmp_path: Path, change: Any, message: str,
) -> None:
    good = GOOD_ARTIFACT.replace("{sha}", "0" * 64)
    path = tmp_path / "standards.toml"
    path.write_text(good, encoding="utf-8")
    assert [a.id for a in load_manifest(path).artifacts] == ["demo"]
    path.write_text(change(good), encoding="utf-8")
    with pytest.raises(StandardsError) as caught:
        load_manifest(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_shared_file_must_be_identical_in_every_set(tmp_path: Path) -> None:
    good = GOOD_ARTIFACT.replace("{sha}", "0" * 64)
    second = good.split("manifest_version = 1", 1)[1].replace('id = "demo"', 'id = "demo2"')
    path = tmp_path / "standards.toml"
    path.write_text(good + second, encoding="utf-8")
    load_manifest(path)
    path.write_text(good + second.replace("0" * 64, "1" * 64), encoding="utf-8")
    with pytest.raises(StandardsError, match=r"'demo2': file 'demo/a\.xsd' differs"):
        load_manifest(path)


# -- installing from a folder ------------------------------------------------


@needs_shared
def test_full_install_from_folder_then_verify(manifest: Manifest, tmp_path: Path) -> None:
    target = tmp_path / "standards"
    started = time.perf_counter()
    report = install_from_dir(manifest, SHARED, target)
    elapsed = time.perf_counter() - started
    entries = manifest.entries()
    assert report.installed == len(entries)
    assert report.bytes_installed == sum(f.size for _, f in entries)
    assert elapsed < 30, f"full install took {elapsed:.1f} s"
    result = verify(manifest, target)
    assert result.ok
    assert result.checked == len(entries)
    assert not [p for p in target.iterdir() if p.name.startswith(".")]  # no staging left
    stamp = read_stamp(target)
    assert stamp is not None
    assert stamp["manifest_sha256"] == manifest.sha256
    assert set(stamp["artifacts"]) == {a.id for a in manifest.artifacts}
    assert stamp["installed_at"]
    # A second run has nothing to copy.
    again = install_from_dir(manifest, SHARED, target)
    assert (again.installed, again.unchanged) == (0, len(entries))


@needs_shared
def test_verify_reports_altered_and_missing_files(manifest: Manifest, tmp_path: Path) -> None:
    target = tmp_path / "standards"
    install_from_dir(manifest, SHARED, target)
    flip_byte(target / SI_UBL)
    (target / UBL_INVOICE).unlink()
    report = verify(manifest, target)
    assert [(p.kind, p.path) for p in report.problems] == [
        ("missing", UBL_INVOICE), ("altered", SI_UBL),
    ]
    assert report.altered[0].artifacts == ("si-ubl-2.0-xslt",)
    assert "sha256" in report.altered[0].detail
    assert verify(manifest, target, only=["ubl-ohnl-1.9"]).ok
    # Reinstalling repairs exactly those two files.
    repaired = install_from_dir(manifest, SHARED, target)
    assert repaired.installed == 2
    assert verify(manifest, target).ok


@needs_shared
def test_corrupted_source_installs_nothing(manifest: Manifest, tmp_path: Path) -> None:
    target = tmp_path / "standards"
    install_from_dir(manifest, SHARED, target, only=["si-ubl-2.0-xslt"])
    # A previous installation with a stale file that a good install would replace.
    flip_byte(target / SI_UBL)
    before = snapshot(target)

    source = tmp_path / "source"
    copy_files(manifest, ["si-ubl-2.0-xslt", "w3c-xmldsig-xsd"], source)
    corrupted = "hr-xml-ohnl/W3C/xmldsig-core-schema.xsd"
    flip_byte(source / corrupted)
    with pytest.raises(StandardsError) as caught:
        install_from_dir(manifest, source, target, only=["si-ubl-2.0-xslt", "w3c-xmldsig-xsd"])
    message = str(caught.value)
    assert "nothing was installed" in message
    assert corrupted in message
    assert "w3c-xmldsig-xsd" in message
    assert "sha256" in message
    assert snapshot(target) == before


@needs_shared
def test_missing_source_file_is_a_clear_error(manifest: Manifest, tmp_path: Path) -> None:
    source = tmp_path / "source"
    copy_files(manifest, ["digipoort-wus-1.2"], source)
    (source / "digipoort-wus/OphaalService_V1_2.wsdl").unlink()
    target = tmp_path / "standards"
    with pytest.raises(StandardsError,
                       match=r"digipoort-wus/OphaalService_V1_2\.wsdl \(artifact digipoort-wus-1"
                             r"\.2\) is missing from"):
        install_from_dir(manifest, source, target, only=["digipoort-wus-1.2"])
    assert not any(target.rglob("*.wsdl"))
    with pytest.raises(StandardsError, match="does not exist"):
        install_from_dir(manifest, tmp_path / "nowhere", target)


@needs_shared
def test_interrupted_install_leaves_previous_tree(
    manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "standards"
    install_from_dir(manifest, SHARED, target, only=["digipoort-wus-1.2"])
    before = snapshot(target)
    real_copy = installer._copy_verified
    calls = 0

    def copy_then_interrupt(*args: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt
        real_copy(*args)

    monkeypatch.setattr(installer, "_copy_verified", copy_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        install_from_dir(manifest, SHARED, target, only=["ubl-ohnl-1.9"])
    assert snapshot(target) == before


def test_unknown_artifact_is_refused(manifest: Manifest, tmp_path: Path) -> None:
    with pytest.raises(StandardsError, match="unknown artifact 'ubl-9'"):
        install_from_dir(manifest, tmp_path, tmp_path / "t", only=["ubl-9"])


# -- run-time look-up --------------------------------------------------------


@needs_shared
def test_standards_path(manifest: Manifest, tmp_path: Path) -> None:
    target = tmp_path / "standards"
    with pytest.raises(StandardsError) as caught:
        standards_path(target, UBL_INVOICE, manifest=manifest)
    message = str(caught.value)
    assert "artifact 'ubl-2.1-xsd' is not installed" in message
    assert "gateway standards install --from DIR" in message

    install_from_dir(manifest, SHARED, target, only=["ubl-2.1-xsd"])
    assert standards_path(target, UBL_INVOICE, manifest=manifest) == target / UBL_INVOICE

    (target / UBL_INVOICE).write_bytes(b"<truncated/>")
    with pytest.raises(StandardsError, match=r"'ubl-2\.1-xsd' is altered"):
        standards_path(target, UBL_INVOICE, manifest=manifest)
    with pytest.raises(StandardsError, match="not listed in the standards manifest"):
        standards_path(target, "oasis-ubl/nothing.xsd", manifest=manifest)


def test_standards_dir_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STANDARDS_DIR_ENV, str(tmp_path / "mine"))
    assert default_standards_dir() == tmp_path / "mine"
    monkeypatch.delenv(STANDARDS_DIR_ENV)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "data"))
    assert default_standards_dir() == tmp_path / "data" / "standards"


# -- installing over HTTP ----------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    # The default backlog of 5 makes parallel downloads wait for SYN retries.
    request_queue_size = 64


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An http server on 127.0.0.1 serving a tmp folder: (base address, folder)."""
    root = tmp_path / "mirror"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


MIRRORED = ["digipoort-wus-1.2", "setu-ohnl-2.0", "peppol-bis-billing-3-xslt"]


@needs_shared
def test_install_from_mirror(
    manifest: Manifest, tmp_path: Path, mirror: tuple[str, Path],
) -> None:
    base, root = mirror
    copy_files(manifest, MIRRORED, root)
    target = tmp_path / "standards"
    report = install_from_url(manifest, target, base=base, only=MIRRORED, timeout=10)
    assert set(report.artifacts) == {*MIRRORED, "w3c-xmldsig-xsd"}
    assert verify(manifest, target, only=MIRRORED).ok
    stamp = read_stamp(target)
    assert stamp is not None
    assert stamp["source"] == f"mirror {base}"


@needs_shared
def test_bad_download_installs_nothing(
    manifest: Manifest, tmp_path: Path, mirror: tuple[str, Path],
) -> None:
    base, root = mirror
    copy_files(manifest, MIRRORED, root)
    target = tmp_path / "standards"
    install_from_dir(manifest, SHARED, target, only=["digipoort-wus-1.2"])
    flip_byte(target / "digipoort-wus/digipoort-koppelvlak-1.2.xsd")
    before = snapshot(target)

    flip_byte(root / "hr-xml-ohnl/ohnl-2.0/TimeCard/TimeCard.xsd")
    (root / "hr-xml-ohnl/W3C/xml.xsd").unlink()
    with pytest.raises(StandardsError) as caught:
        install_from_url(manifest, target, base=base, only=MIRRORED, timeout=10)
    message = str(caught.value)
    assert "hr-xml-ohnl/ohnl-2.0/TimeCard/TimeCard.xsd (artifact setu-ohnl-2.0)" in message
    assert "HTTP 404" in message
    assert snapshot(target) == before


@needs_shared
def test_unreachable_mirror(manifest: Manifest, tmp_path: Path) -> None:
    target = tmp_path / "standards"
    with pytest.raises(StandardsError, match=r"cannot download http://127\.0\.0\.1:9/"):
        install_from_url(manifest, target, base="http://127.0.0.1:9/",
                         only=["digipoort-wus-1.2"], timeout=5)
    assert not any(target.rglob("*.wsdl"))


def test_no_official_address_fails_before_any_download(
    manifest: Manifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("tried to download")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    with pytest.raises(StandardsError) as caught:
        install_from_url(manifest, tmp_path / "standards",
                         only=["peppol-bis-billing-3-xslt", "ubl-2.1-xsd"])
    message = str(caught.value)
    assert "no official download address for peppol-bis-billing-3-xslt (1 file)" in message
    assert "--from DIR" in message
    assert "--only ubl-2.1-xsd" in message
    with pytest.raises(StandardsError, match="not an http"):
        install_from_url(manifest, tmp_path / "standards", base="file:///etc/")


# -- the CLI -----------------------------------------------------------------


@needs_shared
def test_cli_install_verify_list(tmp_path: Path) -> None:
    runner = CliRunner()
    target = str(tmp_path / "standards")
    result = runner.invoke(standards, ["install", "--from", str(SHARED), "--target", target,
                                       "--only", "ubl-ohnl-1.9", "--only", "setu-ohnl-2.0"])
    assert result.exit_code == 0, result.output
    assert "installed 3 artifact(s)" in result.output

    result = runner.invoke(standards, ["verify", "--target", target, "--only", "ubl-ohnl-1.9"])
    assert result.exit_code == 0, result.output
    assert "match the manifest" in result.output

    result = runner.invoke(standards, ["list", "--target", target])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[3:]}
    assert lines["ubl-ohnl-1.9"].split()[1:3] == ["1.9", "yes"]
    assert lines["ubl-2.1-xsd"].split()[1:3] == ["2.1", "no"]
    assert "EUPL-1.2" in lines["en16931-ubl-xslt"]

    flip_byte(tmp_path / "standards" / "ubl-ohnl/1.9/Order-Schematron-Validation.xsl")
    result = runner.invoke(standards, ["verify", "--target", target])
    assert result.exit_code == 1
    assert "altered: ubl-ohnl/1.9/Order-Schematron-Validation.xsl (ubl-ohnl-1.9)" in result.output
    assert "missing: artifact ubl-2.1-xsd (all 79 files)" in result.output
    assert UBL_INVOICE not in result.output

    result = runner.invoke(standards, ["list", "--target", target])
    assert "no (1 of 54 files missing or altered)" in result.output


def test_cli_user_errors_have_no_traceback(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(standards, ["install", "--from", str(tmp_path / "nowhere"),
                                       "--target", str(tmp_path / "t")])
    assert result.exit_code == 1
    assert "Error: source folder" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(standards, ["install", "--from", str(tmp_path), "--only", "nope",
                                       "--target", str(tmp_path / "t")])
    assert result.exit_code == 1
    assert "unknown artifact 'nope'" in result.output


# -- the copying guard -------------------------------------------------------



@needs_shared
def test_no_official_file_is_copied_into_the_repository() -> None:
    official: dict[int, set[str]] = {}
    for path in SHARED.rglob("*"):
        if path.is_file() and path.stat().st_size > 0:
            data = path.read_bytes()
            official.setdefault(len(data), set()).add(hashlib.sha256(data).hexdigest())
    copies = []
    for path in _repository_files(REPO):
        size = path.stat().st_size
        if size in official and hashlib.sha256(path.read_bytes()).hexdigest() in official[size]:
            copies.append(path.relative_to(REPO).as_posix())
    assert not copies, f"official artifacts copied into the repository: {copies}"


def _repository_files(directory: Path) -> Iterator[Path]:
    """Files git tracks or would track: what a commit could carry (as the stop hook sees it)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=directory, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in listed:
        path = directory / name
        if name and path.is_file() and not path.is_symlink():
            yield path


def test_stamp_name_is_not_a_manifest_path(manifest: Manifest) -> None:
    assert all(f.path != STAMP_NAME for _, f in manifest.entries())
