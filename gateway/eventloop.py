"""The event loop the gateway process runs on (uvloop where installed, else asyncio's own),
and how a signal ends what runs on it (:func:`until_terminated`).

uvloop (libuv underneath) does the same work as asyncio's selector loop with
less CPU per request, per socket read and per thread hand-off
(``call_soon_threadsafe`` from the store's threads and the validation pool):
on the pipeline benchmark the gateway process spends 10-15% less per
document. On two cores that CPU is what the Schematron workers need.
``WISSEL_EVENT_LOOP=asyncio`` keeps the standard loop, e.g. to rule uvloop
out while chasing a problem.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

ENVIRONMENT = "WISSEL_EVENT_LOOP"
CHOICES = ("uvloop", "asyncio")


def loop_name() -> str:
    """The loop :func:`run` will use: the environment's choice, else uvloop when installed."""
    wanted = os.environ.get(ENVIRONMENT, "").strip().lower()
    if wanted and wanted not in CHOICES:
        raise ValueError(f"{ENVIRONMENT} must be one of {', '.join(CHOICES)}, not {wanted!r}")
    if wanted == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        if wanted == "uvloop":
            raise ValueError(f"{ENVIRONMENT}=uvloop but uvloop is not installed") from None
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_name` names."""
    if loop_name() == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    return asyncio.run(main)


def _stop_signals() -> list[signal.Signals]:
    """SIGTERM, and SIGHUP unless it is ignored (``nohup``): the signals that stop the process."""
    found = [signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
        found.append(signal.SIGHUP)
    return found


async def until_terminated(main: Coroutine[Any, Any, None]) -> bool:
    """Run ``main`` until it ends or the process gets SIGTERM or SIGHUP; whether one ended it.

    SIGTERM (systemd, docker, Kubernetes, kill) stops a gateway or simulator
    process as Ctrl-C does: only ``main``'s task is cancelled, and its
    ``finally`` stops the service while everything else still runs. The loop
    takes the signal (``add_signal_handler``): an exception raised from a
    Python signal handler lands in whatever callback runs at that moment, and
    uvloop logs one raised in a transport callback as a fatal transport error
    before the loop stops with every task cancelled at once, the service's
    own included, mid-stop.

    SIGHUP (a closed terminal or ssh session, or an operator who expects a
    reload: the configuration reloads by itself) stops it the same way. Its
    default ends the process on the spot, with no stop at all: sends cut off,
    and a simulator's temporary keys and the pool's folder left in /tmp.
    Under ``nohup`` it stays ignored.

    The signal that started the stop, sent again, ends the process at once;
    the other one is ignored meanwhile: a closed terminal sends SIGHUP to every
    process of its group, and scripts/run-local.sh follows it with SIGTERM.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False
    signals = _stop_signals()

    def terminate(number: signal.Signals) -> None:
        nonlocal terminated
        if terminated:
            return
        terminated = True
        loop.remove_signal_handler(number)
        task.cancel()

    for number in signals:
        loop.add_signal_handler(number, terminate, number)
    try:
        await main
    except asyncio.CancelledError:
        if not terminated:
            raise  # Ctrl-C: the runner cancelled it and turns it into KeyboardInterrupt
        task.uncancel()
    finally:
        for number in signals:
            loop.remove_signal_handler(number)
    return terminated
