"""The event loop the gateway process runs on: uvloop where installed, else asyncio's own.

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
