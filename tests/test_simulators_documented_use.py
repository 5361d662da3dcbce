"""The simulators work as their READMEs show: default ports apart, paths in the data
directory, the control API's content type, and sample orders for the example supplier."""

from __future__ import annotations

import re
import subprocess
import sys


def _default_listen(simulator: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "simulate", simulator, "--help"],
        capture_output=True, text=True, check=True)
    text = " ".join(result.stdout.split())
    found = re.search(r"--listen HOST:PORT .*?\[default: ([0-9.:]+)", text)
    assert found, text
    return found.group(1)


def test_the_two_simulators_default_to_different_ports() -> None:
    assert _default_listen("digipoort") != _default_listen("peppol")
