"""An install that fails while moving files into place leaves the earlier install as it was.

And reinstalling a complete set into a read-only folder succeeds: nothing
needs writing.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.standards.installer import STAMP_NAME, install_from_dir, verify
from gateway.standards.manifest import default_manifest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "standards"
SET = "ubl-ohnl-1.9"

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind /tmp /tmp"],
                           capture_output=True)
    return probe.returncode == 0


needs_unshare = pytest.mark.skipif(not _can_unshare(),
                                   reason="needs `unshare -m` and bind mounts")


def gateway(*args: str) -> list[str]:
    return [sys.executable, "-m", "gateway.cli.main", *args]


def run(argv: list[str], read_only: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``argv``; with ``read_only``, that folder is mounted read-only for it alone."""
    if read_only is not None:
        folder = shlex.quote(str(read_only))
        argv = ["unshare", "-m", "sh", "-c",
                f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
                f"exec {shlex.join(argv)}"]
    return subprocess.run(argv, capture_output=True, text=True, cwd=REPO, timeout=120)


def snapshot(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(directory.rglob("*"))}


def previous_release(target: Path) -> None:
    """Make every installed file of SET differ from the manifest, as an older release would."""
    for file in default_manifest().artifact(SET).files:
        path = target / file.path
        path.write_bytes(path.read_bytes() + b"\n<!-- previous release -->\n")


@needs_unshare
def test_a_move_that_fails_half_way_leaves_the_previous_installation(tmp_path: Path) -> None:
    target = tmp_path / "standards"
    install_from_dir(default_manifest(), SHARED, target, only=[SET])
    previous_release(target)
    before = snapshot(target)
    # xsdrt/ sorts after the .xsl files and xsd/: those are moved into place first.
    done = run(gateway("standards", "install", "--from", str(SHARED), "--target", str(target),
                       "--only", SET), read_only=target / "ubl-ohnl/1.9/xsdrt")
    assert done.returncode == 1, done.stdout + done.stderr
    after = snapshot(target)
    changed = sorted(path for path in before if after.get(path) != before[path])
    assert changed == [], (
        f"the install failed ({done.stderr.strip()[:200]}) yet replaced {len(changed)} "
        f"file(s), e.g. {changed[:3]}: the set is now part new release, part old, and "
        f"{STAMP_NAME} still names the old one")


def test_a_folder_in_the_way_half_way_leaves_the_previous_installation(tmp_path: Path) -> None:
    target = tmp_path / "standards"
    install_from_dir(default_manifest(), SHARED, target, only=[SET])
    previous_release(target)
    blocker = target / "ubl-ohnl/1.9/xsdrt/maindoc/Order.xsd"
    blocker.unlink()
    blocker.mkdir()
    (blocker / "keep.txt").write_text("not ours", "utf-8")
    before = snapshot(target)
    done = run(gateway("standards", "install", "--from", str(SHARED), "--target", str(target),
                       "--only", SET))
    assert done.returncode == 1, done.stdout + done.stderr
    after = snapshot(target)
    changed = sorted(path for path in before if after.get(path) != before[path])
    assert changed == [], f"a failed install replaced {len(changed)} file(s), e.g. {changed[:3]}"


@needs_unshare
def test_reinstalling_an_intact_set_into_a_read_only_folder_succeeds(tmp_path: Path) -> None:
    # A container image or a package that ships the standards read-only, and an entry
    # point (or `make run`) that runs the install on every start.
    target = tmp_path / "standards"
    install_from_dir(default_manifest(), SHARED, target, only=[SET])
    assert verify(default_manifest(), target, only=[SET]).ok
    done = run(gateway("standards", "install", "--from", str(SHARED), "--target", str(target),
                       "--only", SET), read_only=target)
    assert done.returncode == 0, done.stderr
    assert "0 file(s) written" in done.stdout
