"""Pull inbound documents from Digipoort's OphaalService, for suppliers without an endpoint.

``getNieuweBerichten`` hands over what Digipoort has not handed over before,
and from then on Digipoort counts those as fetched: its answer is the only
copy. So the answer is written to a spool file in the data directory before
any document of it is handed to the gateway, and the spool is emptied only
when all are stored; a round cut off half-way (the gateway stopped, the
store failed) is finished from the spool at the start of the next one.

As a second net, a round that failed is followed by a catch-up:
``getBerichten`` from the last moment up to which everything is known to be
stored (the watermark, also in the data directory). Digipoort filters that
on its own time stamps, so it covers a lost spool only within the overlap.
Documents seen twice are no problem: the inbound pipeline knows a delivery
by channel and kenmerk and stores it once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from gateway.channels import InboundSink
from gateway.errors import GatewayError
from gateway.fileio import write_atomically
from gateway.tasks import cancel_and_wait
from gateway.xmlsafe import parse_xml

from .aflever import inbound_document
from .settings import DigipoortSettings
from .wus.client import WusClient
from .wus.koppelvlak import (
    Identiteit,
    KoppelvlakError,
    OphaalRequest,
    OphaalResponse,
    parse_as,
)
from .wus.ns import request_action

log = logging.getLogger(__name__)

# Digipoort's clock and ours differ a little; ask a bit further back than needed.
_OVERLAP = timedelta(minutes=5)


class OphaalPoller:
    def __init__(self, channel: str, config: DigipoortSettings, client: WusClient,
                 inbound: InboundSink, belanghebbende: Identiteit,
                 data_dir: str | None) -> None:
        if config.ophaal_url is None:
            raise ValueError(f"channel {channel!r}: ophaal needs ophaal_url")
        self.channel = channel
        self.config = config
        self.url = config.ophaal_url
        self.client = client
        self.inbound = inbound
        self.belanghebbende = belanghebbende
        self.state_file = (None if data_dir is None
                           else Path(data_dir) / "digipoort" / f"{channel}-ophaal.json")
        # What getNieuweBerichten handed over and the gateway has not yet stored: Digipoort
        # counts it as fetched from the moment it answered, so it is kept here first.
        self.spool_file = (None if data_dir is None
                           else Path(data_dir) / "digipoort" / f"{channel}-ophaal-spool.xml")
        self._spooled: bytes | None = None
        self.watermark = self._load_watermark()
        # After a start the last round may have been cut off: catch up first.
        self.catch_up = self.watermark is not None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"digipoort-ophaal:{self.channel}")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None

    async def poll_once(self) -> int:
        """Fetch and store one batch; returns how many documents were handed over."""
        stored = await self._hand_over_spool()
        started = datetime.now(UTC)
        operation = "getBerichten" if self.catch_up else "getNieuweBerichten"
        request = OphaalRequest(
            operation=operation, identiteit_belanghebbende=self.belanghebbende,
            berichtsoort=self.config.ophaal_berichtsoort,
            autorisatie_adres=self.config.autorisatie_adres,
            vanaf=None if not self.catch_up or self.watermark is None
            else self.watermark - _OVERLAP)
        answer = await self.client.call(self.url, request_action("ophaal", operation),
                                        request.to_element(), timeout=self.config.request_timeout)
        response = parse_as(answer, OphaalResponse)
        if response.berichten:
            self._write_spool(etree.tostring(answer))
        try:
            for bericht in response.berichten:
                await self.inbound(inbound_document(self.channel, bericht))
                stored += 1
        except BaseException:
            self.catch_up = True  # the spool keeps the rest; ask again by time as well
            raise
        self._write_spool(None)
        self.catch_up = False
        self._save_watermark(started)
        return stored

    async def _hand_over_spool(self) -> int:
        """Store what a cut-off round left in the spool; repeats are known by their kenmerk."""
        spooled = self._read_spool()
        if spooled is None:
            return 0
        try:
            response = parse_as(parse_xml(spooled).getroot(), OphaalResponse)
        except (GatewayError, KoppelvlakError) as exc:
            # Never happens with an atomic write; if it does, keep the file for a person
            # and let the catch-up by time ask Digipoort again.
            kept = self._set_aside()
            log.error("channel %s: the OphaalService spool cannot be read (%s); kept as %s, "
                      "catching up by time", self.channel, exc, kept)
            self.catch_up = True
            return 0
        for bericht in response.berichten:
            await self.inbound(inbound_document(self.channel, bericht))
        self._write_spool(None)
        # The spool is written before any hand-over, and a round starts only once the
        # last one's is gone: a spool holds all the cut-off round fetched.
        self.catch_up = False
        return len(response.berichten)

    def _set_aside(self) -> Path | None:
        self._spooled = None
        if self.spool_file is None:
            return None
        kept = self.spool_file.with_name(
            f"{self.spool_file.name}.unreadable-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        self.spool_file.replace(kept)
        return kept

    def _read_spool(self) -> bytes | None:
        if self.spool_file is None:
            return self._spooled
        try:
            return self.spool_file.read_bytes()
        except FileNotFoundError:
            return None

    def _write_spool(self, data: bytes | None) -> None:
        self._spooled = data
        if self.spool_file is None:
            return
        if data is None:
            self.spool_file.unlink(missing_ok=True)
        else:
            write_atomically(self.spool_file, data)

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except Exception as exc:
                log.warning("channel %s: OphaalService round failed: %s", self.channel, exc)
            await asyncio.sleep(self.config.ophaal_poll_interval)

    def _load_watermark(self) -> datetime | None:
        if self.state_file is None or not self.state_file.is_file():
            return None
        try:
            value = json.loads(self.state_file.read_text("utf-8"))["stored_until"]
            return datetime.fromisoformat(value)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("channel %s: ignoring unreadable %s (%s); catching up from the start",
                        self.channel, self.state_file, exc)
            return datetime(2000, 1, 1, tzinfo=UTC)

    def _save_watermark(self, moment: datetime) -> None:
        self.watermark = moment
        if self.state_file is not None:
            write_atomically(self.state_file, json.dumps(
                {"stored_until": moment.isoformat()}).encode())
