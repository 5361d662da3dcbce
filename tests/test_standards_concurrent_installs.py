"""Installs running at the same time into one standards folder keep every artifact's stamp.

Two gateways starting on one data directory, or an operator's `gateway
standards install --only X` beside a start, each write ``installed.json``:
read it, add their artifacts, write it back. Done at once, one install's
artifacts went missing from the stamp (the other wrote over them), or its
write failed on the temporary file the other had just moved into place.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from gateway.standards.installer import STAMP_NAME, install_from_dir
from gateway.standards.manifest import default_manifest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "standards"
SMALL = ["digipoort-wus-1.2", "w3c-xmldsig-xsd", "peppol-bis-billing-3-xslt",
         "en16931-ubl-xslt", "si-ubl-2.0-xslt", "si-ubl-2.0-gaccount-xslt"]

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is not present")


def _install(artifact: str, target: Path, start: threading.Barrier,
             errors: list[BaseException]) -> None:
    start.wait()
    try:
        install_from_dir(default_manifest(), SHARED, target, only=[artifact])
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def test_concurrent_installs_of_different_artifacts_all_reach_the_stamp(
    tmp_path: Path,
) -> None:
    target = tmp_path / "standards"
    install_from_dir(default_manifest(), SHARED, target, only=SMALL)
    for round_number in range(25):
        # The files are in place; each install only records its artifact in the stamp.
        (target / STAMP_NAME).unlink()
        start = threading.Barrier(len(SMALL))
        errors: list[BaseException] = []
        threads = [threading.Thread(target=_install, args=(artifact, target, start, errors))
                   for artifact in SMALL]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        stamp = json.loads((target / STAMP_NAME).read_text(encoding="utf-8"))
        assert sorted(stamp["artifacts"]) == sorted(SMALL), (
            f"round {round_number}: the stamp lists {sorted(stamp['artifacts'])}")
    assert not list(target.glob(f"{STAMP_NAME}*.tmp")), "a temporary stamp was left behind"
