"""`gateway channels` prints the settings each channel type understands, as the README says."""

from __future__ import annotations

import subprocess
import sys


def test_gateway_channels_shows_the_settings() -> None:
    result = subprocess.run([sys.executable, "-m", "gateway.cli.main", "channels"],
                            capture_output=True, text=True, check=True)
    for setting in ("smtp_host", "export_dir", "access_point", "server_ca", "poll_interval"):
        assert setting in result.stdout, f"{setting} missing from:\n{result.stdout}"
