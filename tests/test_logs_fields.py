"""What the structured log keeps: the transport id of a status for no known message."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from gateway.channels import StatusReport
from gateway.logs import JsonFormatter, TextFormatter
from gateway.pipeline.status import StatusDesk
from gateway.store import open_store


async def test_a_status_for_no_known_message_names_its_transport_id(tmp_path: Path) -> None:
    # status.py logs the unknown transport id as extra={"transport_id": ...}, and logs.py
    # writes a fixed list of extras: without it there, the operator reads "status 0100
    # from channel digipoort names no known message" and cannot tell which one.
    async with open_store(f"sqlite:///{tmp_path / 'gateway.db'}") as store:
        await store.migrate()
        desk = StatusDesk(store, lambda: "30097265")
        lines = {}
        for name, formatter in (("json", JsonFormatter()), ("text", TextFormatter())):
            out = io.StringIO()
            handler = logging.StreamHandler(out)
            handler.setFormatter(formatter)
            logger = logging.getLogger("gateway.pipeline.status")
            logger.addHandler(handler)
            try:
                assert await desk.record("digipoort", StatusReport(
                    code="0100", transport_id="kenmerk-7f3a9c")) is None
            finally:
                logger.removeHandler(handler)
            lines[name] = out.getvalue()
    for name, line in lines.items():
        assert "names no known message" in line, (name, line)
        assert "kenmerk-7f3a9c" in line, (name, line)
