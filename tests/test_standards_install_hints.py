"""Where the koppelvlak XSD is missing, the hint is a command that works.

A plain `gateway standards install` refuses (the Peppol XSLT files have no
download address), so a hint to run it sent the operator into a second error.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.paths import STANDARDS_DIR_ENV
from plugins.digipoort.wus import koppelvlak

REPO = Path(__file__).resolve().parents[1]


def test_the_channel_names_the_install_from_a_folder(tmp_path: Path) -> None:
    with pytest.raises(koppelvlak.KoppelvlakXsdMissing) as caught:
        koppelvlak.schema(tmp_path / "digipoort-koppelvlak-1.2.xsd")
    assert "gateway standards install --from DIR" in str(caught.value)


def test_conformance_names_the_install_from_a_folder(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text("", "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "--config", str(tmp_path / "gateway.toml"),
         "conformance", "--report", str(tmp_path / "report.md")],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
        env={**os.environ, STANDARDS_DIR_ENV: str(tmp_path / "standards")})
    assert done.returncode != 0
    assert "gateway standards install --from DIR" in done.stderr, done.stderr
