"""[gateway] scheduling: `gateway run`'s threads as SCHED_BATCH, its validation workers not.

The policies are read from the kernel (sched_getscheduler of each thread and
process), of a real `gateway run` and of real validation workers. What
changes a process's policy runs in a child process, so the suite's own
threads keep theirs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest
from api_support import free_port, invoice_json
from pipeline_support import AGENCY_OIN
from process_support import children, with_ctrl_c

from gateway.config import parse_config
from gateway.config.changes import start_only_changes
from gateway.config.model import GatewayConfig
from gateway.errors import ConfigError

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling only")

REPO = Path(__file__).resolve().parents[1]
TOKEN = "scheduling-token-0123456789"
POLICY_NAMES = {getattr(os, name): name for name in ("SCHED_OTHER", "SCHED_BATCH", "SCHED_IDLE")}


def _config_text(tmp_path: Path, gateway: str = "", *, port: int = 0,
                 standards: Path | None = None) -> str:
    invoice_format = "canonical:invoice:1" if standards is None else "peppol-bis:invoice:3.0"
    standards_line = "" if standards is None else f"standards_dir = {str(standards)!r}"
    return f"""
[gateway]
listen = "127.0.0.1:{port}"
data_dir = {str(tmp_path / "data")!r}
token = "{TOKEN}"
{standards_line}
{gateway}

[supplier]
name = "Naam Leverancier BV"
kvk = "30097265"
vestigingsnummer = "000018727409"

[validation]
workers = 1

[channels.folder]
type = "folder"
path = {str(tmp_path / "out")!r}

[agencies."{AGENCY_OIN}"]
name = "Naam Overheidsorganisatie"
default_channel = "folder"

[agencies."{AGENCY_OIN}".documents.invoice]
format = "{invoice_format}"
"""


def _parse(tmp_path: Path, gateway: str) -> GatewayConfig:
    path = tmp_path / "gateway.toml"
    path.write_text(_config_text(tmp_path, gateway), "utf-8")
    return parse_config(path.read_text("utf-8"), path)


def _policy(tid: int) -> str:
    return POLICY_NAMES.get(os.sched_getscheduler(tid), str(os.sched_getscheduler(tid)))


def _thread_policies(pid: int) -> dict[int, str]:
    found = {}
    for entry in Path(f"/proc/{pid}/task").iterdir():
        try:
            found[int(entry.name)] = _policy(int(entry.name))
        except ProcessLookupError:
            continue  # ended meanwhile
    return found


# -- the setting ---------------------------------------------------------------------------------


def test_batch_is_the_default_and_inherit_the_other_choice(tmp_path: Path) -> None:
    assert _parse(tmp_path, "").gateway.scheduling == "batch"
    assert _parse(tmp_path, 'scheduling = "inherit"').gateway.scheduling == "inherit"


@pytest.mark.parametrize(("line", "words"), [
    ('scheduling = "fifo"', "scheduling must be one of batch, inherit; got 'fifo'"),
    ('scheduling = "bach"', "did you mean 'batch'?"),
    ("scheduling = 1", "scheduling"),
])
def test_a_wrong_scheduling_is_named(tmp_path: Path, line: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(tmp_path, line)
    assert caught.value.key == "gateway.scheduling"
    assert words in str(caught.value)


def test_a_reload_cannot_change_it(tmp_path: Path) -> None:
    # Applied once, by `gateway run` as it starts: a reload reports it as waiting for a
    # restart, as it does [validation] and listen.
    started = _parse(tmp_path, "")
    edited = _parse(tmp_path, 'scheduling = "inherit"')
    assert start_only_changes(started, edited) == {"gateway": ["scheduling"]}


# -- the policies, in a child process ------------------------------------------------------------


def _run(script: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.split()


THREADS = """
    import os, threading
    from gateway.scheduling import schedule_gateway

    names = {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch", os.SCHED_IDLE: "idle"}
    found = {}
    go = threading.Event()

    def sit(name):
        found[name] = threading.get_native_id()
        go.wait()

    before = threading.Thread(target=sit, args=("before",))
    idle = threading.Thread(target=sit, args=("idle",))
    before.start(); idle.start()
    while len(found) < 2:
        pass
    os.sched_setscheduler(found["idle"], os.SCHED_IDLE, os.sched_param(0))
    moved = schedule_gateway("%s")
    after = threading.Thread(target=sit, args=("after",))
    after.start()
    while len(found) < 3:
        pass
    print(moved, *(f"{name}={names[os.sched_getscheduler(tid)]}"
                   for name, tid in [("main", 0), *sorted(found.items())]))
    go.set()
"""


def test_batch_moves_every_thread_and_those_started_later_inherit_it() -> None:
    moved, *policies = _run(THREADS % "batch")
    assert policies == ["main=batch", "after=batch", "before=batch", "idle=idle"]
    # The main thread and the one started before; the idle one was set by someone who
    # meant it, and the one after inherited.
    assert moved == "2"


def test_inherit_moves_nothing() -> None:
    moved, *policies = _run(THREADS % "inherit")
    assert policies == ["main=other", "after=other", "before=other", "idle=idle"]
    assert moved == "0"


WORKER = """
    import os
    from gateway.scheduling import schedule_worker

    names = {os.SCHED_OTHER: "other", os.SCHED_BATCH: "batch"}
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))  # as inherited
    schedule_worker("%s")
    print(names[os.sched_getscheduler(0)])
"""


@pytest.mark.parametrize(("policy", "wanted"), [("batch", "other"), ("inherit", "batch")])
def test_a_worker_leaves_the_batch_policy_it_inherited(policy: str, wanted: str) -> None:
    assert _run(WORKER % policy) == [wanted]


# -- `gateway run` ---------------------------------------------------------------------------------


def _start_gateway(tmp_path: Path, gateway: str, standards: Path,
                   *, as_batch: bool = False) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    config = tmp_path / "gateway.toml"
    config.write_text(_config_text(tmp_path, gateway, port=port, standards=standards), "utf-8")

    def prepare() -> None:
        with_ctrl_c()
        if as_batch:  # started under `chrt --batch`, as an operator may
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))

    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli.main", "--config", str(config), "run",
         "--log-format", "text"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
        preexec_fn=prepare)
    return process, f"http://127.0.0.1:{port}"


def _submit_validated(base: str, process: subprocess.Popen[str]) -> None:
    """One invoice through intake, so a validation worker has started and checked it."""
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[1][-2000:]
        try:
            urllib.request.urlopen(f"{base}/health", timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.1)
    request = urllib.request.Request(
        f"{base}/api/v1/outbound/{AGENCY_OIN}", data=invoice_json("SCHED-1"), method="POST",
        headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=120) as answer:
        assert answer.status == 202


def _workers(pid: int) -> set[int]:
    """The validation workers: the forkserver's (or, with spawn, the gateway's) children
    that are not multiprocessing's helpers."""
    found = set()
    for child in children(pid):
        command = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"forkserver" in command:
            found |= children(child)
        elif b"resource_tracker" not in command:
            found.add(child)
    return found


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.communicate(timeout=30)


def test_gateway_run_schedules_its_threads_as_batch_and_its_workers_not(
    tmp_path: Path, installed_standards: Path,
) -> None:
    process, base = _start_gateway(tmp_path, "", installed_standards)
    try:
        _submit_validated(base, process)
        threads = _thread_policies(process.pid)
        # The store's writer and readers, the executors, the loop: all of them.
        assert len(threads) > 3
        assert set(threads.values()) == {"SCHED_BATCH"}, threads
        workers = _workers(process.pid)
        assert workers
        assert {_policy(worker) for worker in workers} == {"SCHED_OTHER"}
    finally:
        _stop(process)


def test_inherit_leaves_the_policy_the_gateway_was_started_with(
    tmp_path: Path, installed_standards: Path,
) -> None:
    process, base = _start_gateway(tmp_path, 'scheduling = "inherit"', installed_standards,
                                   as_batch=True)
    try:
        _submit_validated(base, process)
        assert set(_thread_policies(process.pid).values()) == {"SCHED_BATCH"}
        workers = _workers(process.pid)
        assert workers
        assert {_policy(worker) for worker in workers} == {"SCHED_BATCH"}
    finally:
        _stop(process)
