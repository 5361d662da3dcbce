"""An intact set in a read-only standards folder installs again even when its stamp is stale.

The files are what counts (each is checked by sha256); ``installed.json`` is
bookkeeping. A read-only image whose stamp was written by an older Wissel
(another manifest), or that holds no stamp at all (the files copied by a
package), must not make `gateway standards install` on start fail.
"""

from __future__ import annotations

import json
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
SET = "digipoort-wus-1.2"


def _can_unshare() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount --bind /tmp /tmp"],
                           capture_output=True)
    return probe.returncode == 0


pytestmark = [
    pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present"),
    pytest.mark.skipif(not _can_unshare(), reason="needs `unshare -m` and bind mounts"),
]


def install_read_only(target: Path) -> subprocess.CompletedProcess[str]:
    """`gateway standards install` with ``target`` mounted read-only for it alone."""
    folder = shlex.quote(str(target))
    argv = [sys.executable, "-m", "gateway.cli.main", "standards", "install", "--from",
            str(SHARED), "--target", str(target), "--only", SET]
    return subprocess.run(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind {folder} {folder} && mount -o remount,bind,ro {folder} && "
         f"exec {shlex.join(argv)}"],
        capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.mark.parametrize("stamp", ["older-manifest", "none"])
def test_intact_read_only_set_with_a_stale_stamp_installs(tmp_path: Path, stamp: str) -> None:
    target = tmp_path / "standards"
    install_from_dir(default_manifest(), SHARED, target, only=[SET])
    if stamp == "none":
        (target / STAMP_NAME).unlink()
    else:
        data = json.loads((target / STAMP_NAME).read_text())
        data["manifest_sha256"] = data["artifacts"][SET]["manifest_sha256"] = "0" * 64
        (target / STAMP_NAME).write_text(json.dumps(data))
    done = install_read_only(target)
    assert done.returncode == 0, done.stderr
    assert "0 file(s) written" in done.stdout
    assert "5 already up to date" in done.stdout
    assert verify(default_manifest(), target, only=[SET]).ok


def test_a_missing_file_in_a_read_only_folder_is_still_refused(tmp_path: Path) -> None:
    target = tmp_path / "standards"
    install_from_dir(default_manifest(), SHARED, target, only=[SET])
    (target / "digipoort-wus/OphaalService_V1_2.wsdl").unlink()
    done = install_read_only(target)
    assert done.returncode == 1
    assert f"cannot write to the standards directory {target}" in done.stderr
    assert "Read-only file system" in done.stderr
