"""Pull inbound documents from Digipoort's OphaalService, for suppliers without an endpoint.

``getNieuweBerichten`` hands over what Digipoort has not handed over before,
and from then on Digipoort counts those as fetched: its answer is the only
copy. So the answer is written to a spool file in the data directory before
any document of it is handed to the gateway, and a spool file is removed
only when all its documents are stored; a round cut off half-way (the
gateway stopped, the store failed) is finished from the spool at the start
of the next one.

As a second net, a round that failed is followed by a catch-up, and so is
every start: ``getBerichten`` from the last moment up to which everything is
known to be stored (the watermark, also in the data directory). Digipoort
filters that on its own time stamps, so it covers a lost spool only within
the overlap.
Documents seen twice are no problem: the inbound pipeline knows a delivery
by channel and kenmerk and stores it once. A document the gateway refuses
outright (larger than it takes) would get the same answer every round and
hold its spool, and with it all fetching, for good: it is kept in
``digipoort/refused/`` of the data directory with the reason beside it, for
a person, and the rest of the answer goes on.

Several gateway instances on one database (decision, see the README):

* Only the call to Digipoort needs the turn (:class:`gateway.channels.Turn`,
  purpose ``ophaal``): every instance uses the supplier's one certificate,
  so what one fetches the others never get as new, and N callers would only
  ask N times. Finishing the spool is local work without a call, and the
  spool is the only copy of what Digipoort handed over: every instance
  finishes the spool files in its data directory each round, turn or no
  turn, and before it asks for the turn (an instance that cannot store what
  it holds should not fetch more, and lets its turn run out).
* The catch-up after a cut-off call cannot wait for the instance that was
  cut off: losing the turn is what cuts a call off (``Turn.keep`` cancels
  it), and an instance that stopped may never come back. So the holder
  leaves its watermark in the database, as the turn's note
  (:meth:`gateway.channels.Turn.leave_note`), after every round that stored
  everything, and an instance that takes the turn (each instance does at
  its start) catches up first, from the earlier of its own watermark and
  the note. What a holder fetched and lost is stamped after that, less the
  overlap for the clocks: the note is where the last holder had stored
  everything up to, and what the holders before it lost, the catch-ups that
  holder made when it took the turn recovered. Its own watermark stands in
  for a note that is missing (never left, or not written while the
  database was away). Asking for more than was lost costs only repeats,
  stored once. With neither, an instance that saw another hold the turn
  asks for everything Digipoort still keeps; one that saw nobody starts
  the installation and asks for what is new. Before that first call it
  leaves the note "from the start": should it die in that call before any
  round stored everything, the next holder, even one that saw nobody, asks
  for everything Digipoort still keeps as well.
* A call does not end with its turn. The holder before may have been in a
  call when its lease ran out, and a busy Digipoort may hand over to that
  call after this instance's catch-up: the caller finds its turn gone only
  at its next renewal and cuts the call off (or it stops), and the answer
  reaches nobody. So the instance that took the turn catches up once more,
  from the same moment, once that call is over for certain: a turn's time
  to live or the call time-out, whichever is longer, after taking the turn
  (the call began before, under the other's lease, and its time-out ends
  it; Digipoort handing over even later loses an answer to a single
  instance as well). Until then the note it leaves stays where the first
  catch-up started, so that an instance taking the turn from it meanwhile
  asks from there too.
* Instances may share a data directory (several on one machine, with one
  ``GATEWAY_DATA_DIR``): each answer gets a spool file of its own name, so
  one instance never overwrites another's, and whoever finishes a spool
  file removes it only once it stored every document in it. Two instances
  finishing the same file store each document once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from gateway.channels import DocumentRefused, InboundDocument, InboundSink, Turn, TurnLost, Turns
from gateway.errors import GatewayError
from gateway.fileio import write_atomically
from gateway.tasks import cancel_and_wait
from gateway.xmlsafe import parse_xml

from .aflever import inbound_document
from .settings import DigipoortSettings
from .wus.client import WusClient
from .wus.envelope import MAX_ENVELOPE_BYTES
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
# A watermark before any Digipoort: a catch-up from it asks for everything Digipoort keeps.
FROM_THE_START = datetime(2000, 1, 1, tzinfo=UTC)
TURN_PURPOSE = "ophaal"
# Kenmerken name the refused documents' files; anything else in one becomes "_".
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")


class _SeesOthers:
    """The channel's turns, noting when another instance held the turn this one asked for."""

    def __init__(self, turns: Turns) -> None:
        self.turns = turns
        self.others_held = False

    async def take(self, purpose: str, ttl: timedelta) -> bool:
        mine = await self.turns.take(purpose, ttl)
        # Not a store that could not answer (that raises): the turn is someone else's.
        self.others_held = self.others_held or not mine
        return mine

    async def give_up(self, purpose: str) -> None:
        await self.turns.give_up(purpose)

    async def read_note(self, purpose: str) -> str | None:
        return await self.turns.read_note(purpose)

    async def leave_note(self, purpose: str, note: str) -> bool:
        return await self.turns.leave_note(purpose, note)


class OphaalPoller:
    def __init__(self, channel: str, config: DigipoortSettings, client: WusClient,
                 inbound: InboundSink, belanghebbende: Identiteit,
                 data_dir: str | None, turns: Turns | None = None) -> None:
        if config.ophaal_url is None:
            raise ValueError(f"channel {channel!r}: ophaal needs ophaal_url")
        self.channel = channel
        self.config = config
        self.url = config.ophaal_url
        self.client = client
        self.inbound = inbound
        self.belanghebbende = belanghebbende
        self.folder = None if data_dir is None else Path(data_dir) / "digipoort"
        self.state_file = None if self.folder is None else self.folder / f"{channel}-ophaal.json"
        # Without a data directory the spool lives in memory, gone with the process.
        self._spooled: dict[str, bytes] = {}
        self._others = None if turns is None else _SeesOthers(turns)
        self.turn = Turn(self._others, TURN_PURPOSE, config.ophaal_poll_interval,
                         who=f"channel {channel}: OphaalService")
        self.watermark = self._load_watermark()
        self.catch_up = False
        self._spool_covers = False
        # Taking the turn ends with reading the note: a store that could not answer then
        # leaves it for the next round.
        self._taking_over = False
        # Where the catch-up on taking the turn asked from (None: everything Digipoort
        # keeps), and the time.monotonic() from which it is made once more (module
        # docstring); until then catch-ups and the note start there.
        self._taken_from: datetime | None = None
        self._again_at: float | None = None
        self._again_after = max(self.turn.ttl.total_seconds(), config.request_timeout)
        # Set when this holder starts the installation: its first call needs a note first.
        self._first_call = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"digipoort-ophaal:{self.channel}")

    async def stop(self) -> None:
        await cancel_and_wait([self._task])
        self._task = None
        # Another instance fetches from its next try on, not only once the turn expired.
        await self.turn.give_up()

    async def poll_once(self) -> int:
        """One round; returns how many documents were handed over.

        This instance's spool first (local, turn or no turn), then, while it
        has the turn, one call to Digipoort and the hand-over of its answer.
        Raises TurnLost when another instance took the turn during the call.
        """
        stored = await self._finish_spools()
        if not await self.turn.take():
            return stored
        if self.turn.new:
            self._taking_over = True
        if self._taking_over:
            await self._take_over()
        # Once the call of the holder before is over for certain (module docstring).
        again = self._again_at is not None and time.monotonic() >= self._again_at
        if again:
            self._must_catch_up()
        if self._first_call:
            await self._leave_note(FROM_THE_START)
            self._first_call = False
        started, spooled = await self.turn.keep(self._fetch())
        if spooled is not None:
            try:
                stored += await self._hand_over(spooled)
            except BaseException:
                if not self.catch_up:  # the spool keeps the rest; ask again by time as well
                    self.catch_up = self._spool_covers = True
                raise
        self.catch_up = self._spool_covers = False
        if again:
            self._again_at = None
        self._save_watermark(started)
        await self._leave_watermark()
        return stored

    async def _take_over(self) -> None:
        """Catch up on what the holders before may have lost (see the module docstring)."""
        note = self._read_note(await self.turn.read_note())
        self._taking_over = False
        others_held = self._others is not None and self._others.others_held
        if self._others is not None:
            self._others.others_held = False
        marks = [mark for mark in (self.watermark, note) if mark is not None]
        if not marks and not others_held:
            # Nobody held the turn before, as far as anything shows: this holder starts
            # the installation.
            self._first_call = True
            return
        self._taken_from = min(marks, default=None)
        self._again_at = time.monotonic() + self._again_after
        self._must_catch_up()

    def _catch_up_from(self) -> datetime | None:
        """Where a catch-up asks from, less the overlap; None: everything Digipoort keeps."""
        return self.watermark if self._again_at is None else self._taken_from

    def _read_note(self, note: str | None) -> datetime | None:
        if note is None:
            return None
        try:
            moment = datetime.fromisoformat(note)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            log.warning("channel %s: ignoring the unreadable OphaalService watermark %r the "
                        "holder before left; catching up from the start", self.channel, note)
            return FROM_THE_START
        return moment

    async def _leave_watermark(self) -> None:
        moment = self._catch_up_from()
        if moment is not None:
            await self._leave_note(moment)

    async def _leave_note(self, moment: datetime) -> None:
        try:
            await self.turn.leave_note(moment.isoformat())
        except Exception as exc:
            # What is fetched is stored; the next holder only asks from further back.
            log.warning("channel %s: could not leave the OphaalService watermark for the "
                        "next holder of the turn: %s", self.channel, exc)

    async def _fetch(self) -> tuple[datetime, str | None]:
        """Ask Digipoort once; the moment asked and the spool holding the answer (None: empty)."""
        started = datetime.now(UTC)
        operation = "getBerichten" if self.catch_up else "getNieuweBerichten"
        since = self._catch_up_from() if self.catch_up else None
        request = OphaalRequest(
            operation=operation, identiteit_belanghebbende=self.belanghebbende,
            berichtsoort=self.config.ophaal_berichtsoort,
            autorisatie_adres=self.config.autorisatie_adres,
            vanaf=None if since is None else since - _OVERLAP)
        try:
            answer = await self.client.call(self.url, request_action("ophaal", operation),
                                            request.to_element(),
                                            timeout=self.config.request_timeout)
            response = parse_as(answer, OphaalResponse)
            spooled = self._write_spool(etree.tostring(answer)) if response.berichten else None
        except BaseException:
            # Digipoort may have answered and counted it all as fetched (an answer lost on
            # the way back or refused, the turn lost or the gateway stopping meanwhile).
            self._must_catch_up()
            raise
        return started, spooled

    def _must_catch_up(self) -> None:
        self.catch_up = True
        self._spool_covers = False

    async def _finish_spools(self) -> int:
        """Store what cut-off rounds left in the spool; repeats are known by their kenmerk."""
        names = self.spools()
        stored = 0
        for name in names:
            stored += await self._hand_over(name)
        if names and self._spool_covers:
            # The spool is written before any hand-over, and a round calls only once every
            # spool is gone: a spool holds all the cut-off round fetched.
            self.catch_up = self._spool_covers = False
        return stored

    async def _hand_over(self, name: str) -> int:
        spooled = self._read_spool(name)
        if spooled is None:
            return 0  # another instance sharing the data directory finished it
        try:
            # The body of an answer parse_envelope took: its base64 documents may be
            # text nodes of more than 10 MB.
            response = parse_as(parse_xml(spooled, max_bytes=MAX_ENVELOPE_BYTES,
                                          large_text=True).getroot(), OphaalResponse)
        except (GatewayError, KoppelvlakError) as exc:
            # Never happens with an atomic write; if it does, keep the file for a person
            # and let the catch-up by time ask Digipoort again.
            kept = self._set_aside(name)
            log.error("channel %s: the OphaalService spool cannot be read (%s); kept as %s, "
                      "catching up by time", self.channel, exc, kept)
            self._must_catch_up()
            return 0
        stored = 0
        for bericht in response.berichten:
            document = inbound_document(self.channel, bericht)
            try:
                await self.inbound(document)
            except DocumentRefused as exc:
                self._keep_refused(document, exc)
            else:
                stored += 1
        self._remove_spool(name)
        return stored

    def refused(self) -> list[Path]:
        """The refused documents kept for a person (see the module docstring), by name."""
        if self.folder is None:
            return []
        try:
            return sorted(p for p in (self.folder / "refused").iterdir()
                          if not p.name.endswith(".error.json"))
        except FileNotFoundError:
            return []

    def _keep_refused(self, document: InboundDocument, refusal: DocumentRefused) -> None:
        """Keep a document the gateway will never take where a person finds it, with why."""
        kenmerk = document.transport_id or "zonder-kenmerk"
        kept: Path | None = None
        if self.folder is not None:
            suffix = Path(document.filename or "").suffix or ".bin"
            kept = self.folder / "refused" / _UNSAFE_IN_NAME.sub(
                "_", f"{self.channel}-{kenmerk}{suffix}")
            note = {"channel": self.channel, "kenmerk": kenmerk, "reason": str(refusal),
                    "sender": document.sender, "filename": document.filename,
                    **document.metadata}
            # The reason first: whoever watches the folder never finds a file without it.
            write_atomically(kept.with_name(kept.name + ".error.json"),
                             json.dumps(note, indent=2, ensure_ascii=False).encode())
            write_atomically(kept, document.data)
        log.error("channel %s: the OphaalService handed over document %s, which the gateway "
                  "refuses (%s); %s", self.channel, kenmerk, refusal,
                  f"kept as {kept}" if kept is not None
                  else "not kept: the channel has no data directory")

    def spools(self) -> list[str]:
        """The names of the spool files waiting in the data directory, oldest first."""
        if self.folder is None:
            return sorted(self._spooled)
        legacy = f"{self.channel}-ophaal-spool.xml"  # the one name of earlier versions
        prefix = f"{self.channel}-ophaal-spool-"
        try:
            found = [p.name for p in self.folder.iterdir()
                     if p.name == legacy or (p.name.startswith(prefix) and p.suffix == ".xml")]
        except FileNotFoundError:
            return []
        return sorted(found, key=lambda n: (n != legacy, n))

    def _set_aside(self, name: str) -> Path | None:
        self._spooled.pop(name, None)
        if self.folder is None:
            return None
        spool = self.folder / name
        kept = spool.with_name(f"{name}.unreadable-{datetime.now(UTC):%Y%m%dT%H%M%S}")
        spool.replace(kept)
        return kept

    def _read_spool(self, name: str) -> bytes | None:
        if self.folder is None:
            return self._spooled.get(name)
        try:
            return (self.folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def _write_spool(self, data: bytes) -> str:
        # A name of its own (time first, for the order): instances sharing the data
        # directory must never write over each other's spool.
        name = (f"{self.channel}-ophaal-spool-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-"
                f"{os.urandom(4).hex()}.xml")
        if self.folder is None:
            self._spooled[name] = data
        else:
            write_atomically(self.folder / name, data)
        return name

    def _remove_spool(self, name: str) -> None:
        self._spooled.pop(name, None)
        if self.folder is not None:
            (self.folder / name).unlink(missing_ok=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except TurnLost:
                pass  # logged by the turn; the holder now catches up, as this one will
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
            return FROM_THE_START

    def _save_watermark(self, moment: datetime) -> None:
        self.watermark = moment
        if self.state_file is not None:
            write_atomically(self.state_file, json.dumps(
                {"stored_until": moment.isoformat()}).encode())
