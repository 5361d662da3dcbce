"""Processes as /proc shows them: for tests that check what a stopped process left running."""

from __future__ import annotations

import signal
from pathlib import Path


def with_ctrl_c() -> None:
    """Popen's ``preexec_fn`` for a child a test stops with SIGINT: Ctrl-C's default.

    A suite started in the background of a script (``make test &``) runs with
    SIGINT ignored, every child inherits that, and Python then keeps it
    ignored: the test's Ctrl-C would never arrive.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stat(pid: int | str) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first); None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def descendants(pid: int) -> set[int]:
    found = children(pid)
    for child in list(found):
        found |= descendants(child)
    return found


def alive(pid: int) -> bool:
    """Running, not a zombie: an orphan's zombie stays until its new parent reaps it."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def session(sid: int) -> list[int]:
    """The live processes (not zombies) of session ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(entry.name)
            if fields is not None and int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return sorted(found)
