"""A real gateway process for the reliability tests, killed and restarted by them.

    python tests/reliability_gateway.py CONFIG [--workers N] [--lease S] [--max-attempts N]

Runs the real :class:`GatewayService` on CONFIG (HTTP API, dispatcher,
channels) with one extra plugin: the ``recorder`` channel type, which stands
in for a receiving system. Each send appends one JSON line (business key,
transport id, message id, pid) to the file named by the channel's ``record``
setting before it answers Accepted, so what the receiver saw survives the
process being killed with SIGKILL.

Prints ``ready HOST PORT`` on stdout when the service is up; SIGTERM stops it
cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

from gateway import eventloop
from gateway.channels import Accepted, Channel, ChannelType, OutboundMessage, SendOutcome
from gateway.hookspecs import hookimpl
from gateway.pipeline import DispatchSettings, OutboundSettings
from gateway.pluginmanager import make_plugin_manager
from gateway.registry import Registry
from gateway.service import GatewayService
from gateway.store.model import DEFAULT_MAX_ATTEMPTS


class FileRecorder(Channel):
    """The receiving side: one appended line per message it took.

    ``gate`` (a path) holds every send until that file exists, so several
    gateway processes can be started before any of them sends; ``delay``
    (seconds) makes each send take that long, as a real transport does.
    The transport id on the wire is the one the gateway gave (stable across
    retries), else the message id: what an Idempotency-Key header carries.
    """

    type_name = "recorder"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        super().__init__(name, settings)
        self.path = Path(settings["record"])
        self.gate = Path(settings["gate"]) if "gate" in settings else None
        self.delay = float(settings.get("delay", 0))

    async def send(self, message: OutboundMessage) -> SendOutcome:
        # The gate is a file another process creates: nothing to await but its appearance.
        while self.gate is not None and not self.gate.exists():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        if self.delay:
            await asyncio.sleep(self.delay)
        transport_id = message.transport_id or message.message_id
        line = json.dumps({
            "business_key": message.business_key, "transport_id": transport_id,
            "message_id": message.message_id, "attempt": message.attempt, "pid": os.getpid(),
        }) + "\n"
        # One write() on an O_APPEND descriptor: a kill leaves whole lines only, and
        # several processes may append to the same file.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return Accepted(transport_id, detail="recorded")


class RecorderPlugin:
    @hookimpl
    def register_channels(self, registry: Registry) -> None:
        registry.add_channel(ChannelType("recorder", FileRecorder, "appends sends to a file"))


async def main(args: argparse.Namespace) -> None:
    dispatch = DispatchSettings(
        workers=args.workers, batch=args.batch, lease=timedelta(seconds=args.lease),
        idle_poll=0.05, backoff_base=timedelta(milliseconds=50),
        backoff_cap=timedelta(milliseconds=200), quick_tries=1, stop_grace=1.0,
    )
    service = GatewayService(
        args.config, make_plugin_manager(plugins=[("recorder", RecorderPlugin())]),
        dispatch=dispatch, outbound=OutboundSettings(max_attempts=args.max_attempts))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await service.start()
    try:
        assert service.address is not None
        print("ready", *service.address, flush=True)
        await stop.wait()
    finally:
        await service.stop()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--max-attempts", type=int, default=DEFAULT_MAX_ATTEMPTS)
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    # The loop `gateway run` uses, so the kill -9 runs exercise the production loop.
    eventloop.run(main(parse(sys.argv[1:])))
