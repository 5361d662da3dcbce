"""A hang-up of the whole process group stops the gateway and its pool's helpers quietly.

Closing the terminal of ``make run`` sends SIGHUP to every process of its
process group: the gateway, and the pool's forkserver, resource tracker and
workers with it. The gateway stops in order on SIGHUP; the helpers must
leave the stop to it, as they do on Ctrl-C.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_lifecycle_gateway import Gateway


@pytest.fixture
def gateway(tmp_path: Path, installed_standards: Path) -> Iterator[Gateway]:
    started = Gateway(tmp_path, installed_standards)
    try:
        yield started
    finally:
        started.kill_all()


def test_a_hang_up_of_the_process_group_stops_without_tracebacks(gateway: Gateway) -> None:
    """The forkserver and the resource tracker died of SIGHUP themselves, and the
    stop then printed KeyError tracebacks into the gateway's log."""
    gateway.wait_warm()
    os.killpg(gateway.process.pid, signal.SIGHUP)
    status = gateway.process.wait(timeout=60)
    output = gateway.output()
    assert status == 0, f"exit status {status}: {output[-2000:]}"
    assert "gateway: stopped" in output
    assert "Traceback" not in output, output
    assert not gateway.left_running(within=5)
    assert sorted(p.name for p in gateway.tmp.iterdir()) == []
