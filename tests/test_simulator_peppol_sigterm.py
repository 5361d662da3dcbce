"""`gateway simulate peppol` stops its validation workers on SIGTERM, as make run stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from api_support import free_port
from process_support import alive, descendants

from gateway.pluginmanager import build_registry, make_plugin_manager
from plugins.peppol.sbdh import participant, wrap


def test_sigterm_takes_the_peppol_simulators_workers_along(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    registry = build_registry(make_plugin_manager())
    fmt = registry.format("peppol-bis:invoice:3.0")
    sample = fmt.samples()[0]
    payload = sample.data or fmt.encode(sample.document, sample.context)
    _, sbdh = wrap(payload, sender=participant("0106:30097265", "sender"),
                   receiver=participant("0190:00000001003227522000", "receiver"))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "simulate", "peppol",
         "--listen", f"127.0.0.1:{port}", "--deliver-dir", str(tmp_path / "inbox")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    workers: set[int] = set()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/outbound", data=sbdh, method="POST",
                    headers={"Content-Type": "application/xml"})
                with urllib.request.urlopen(request, timeout=5):
                    break
            except OSError:
                assert process.poll() is None
                assert time.monotonic() < deadline
                time.sleep(0.2)
        while not workers and time.monotonic() < deadline:
            time.sleep(0.2)
            workers = descendants(process.pid)
        assert workers, "the simulator started no validation workers"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        time.sleep(2)
        left = sorted(pid for pid in workers if alive(pid))
        assert not left, f"SIGTERM left the simulator's workers running: {left}"
    finally:
        if process.poll() is None:
            process.kill()
        for pid in workers:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
