"""The running gateway: configuration, plugins, store, pipeline, channels and the HTTP server.

``gateway run`` builds one :class:`GatewayService` and runs it until it is
told to stop. Channel and format problems found at start-up (a route naming a
format no plugin provides, a channel that fails to start) do not stop the
service: the rest keeps working, and ``/health`` reports them as degraded so an
operator sees them at once.

The store is opened (and migrated) before any channel starts, because a
channel may hand over an inbound document the moment it runs; the dispatcher
stops before the channels, so no send is cut off by its channel closing.

An instance in the ``intake`` role takes the ERP's submissions only (checks,
routing, encoding, validation, store) and serves the rest of the API; it runs
no channel and no worker. One Python process keeps to about one core (the
GIL), so a second process taking submissions leaves the full instance's core
to sending. On PostgreSQL the intake instance says what it stored with a
NOTIFY, and a full instance listening wakes its workers at once; the poll
interval stays the guarantee (on SQLite the only way) for whatever a
notification misses.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

import pluggy
from aiohttp import web

from gateway import __version__
from gateway.api.app import make_app
from gateway.api.auth import token_entries
from gateway.channels import SERVER_STOP_TIMEOUT, Channel, ChannelContext, InboundDocument
from gateway.config import ConfigHolder, check_against_registry
from gateway.config.audit import StoreAuditor
from gateway.config.changes import start_only_changes
from gateway.config.fit import refuse_unfit_routes
from gateway.config.model import ChannelConfig, GatewayConfig
from gateway.delivery import DeliveryWorker
from gateway.errors import ConfigError, GatewayError, StandardsError
from gateway.hosts import names_this_machine
from gateway.instruments import observe_store
from gateway.kinds import Direction
from gateway.pipeline import (
    Dispatcher,
    DispatchSettings,
    InboundPipeline,
    OutboundPipeline,
    OutboundSettings,
)
from gateway.pipeline.inbound import keep_recovering
from gateway.pipeline.status import StatusDesk
from gateway.pipeline.turns import TURN_PREFIX, HolderName, StoreTurns, channel_turn
from gateway.pipeline.workers import QueuedNotice, own_instance_name
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.standards.installer import standards_path
from gateway.store import Store, StoreError, open_store
from gateway.store.base import OVERDUE_CAP
from gateway.store.model import CLAIMABLE_STATES, utc_now
from gateway.validation.pool import ValidationPool
from gateway.validation.warming import routed_formats, warm_sets

log = logging.getLogger(__name__)

CHANNEL_START_TIMEOUT = 60.0
"""How long a channel's start() may take before the gateway goes on without it."""

INTAKE_DISPATCH_KEYS = ("max_attempts",)
"""The [dispatch] settings an intake instance reads (OutboundSettings); it sends nothing."""


class Role(StrEnum):
    """What one gateway process runs; several share one database."""

    FULL = "full"
    """Everything: the API with submissions, channels, dispatch, delivery to the ERP."""
    INTAKE = "intake"
    """The API with submissions, but no channel and no worker: a full instance sends."""


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise GatewayError(f"unknown gateway role {value!r}: expected one of "
                           f"{', '.join(repr(r.value) for r in Role)}") from None


# Queued outbound messages due this long and unclaimed make /health degraded (see
# GatewayService._overdue_problem): a dispatcher takes a due message within its poll.
OVERDUE_AFTER = timedelta(minutes=5)
OVERDUE_AFTER_TEXT = "5 min"

class GatewayService:
    def __init__(
        self, config_path: Path, pm: pluggy.PluginManager | None = None, *,
        dispatch: DispatchSettings | None = None, outbound: OutboundSettings | None = None,
        role: Role | str = Role.FULL,
    ) -> None:
        # Checked before anything is read, so a wrong role is the error a caller sees.
        self.role = parse_role(role)
        self.config_path = config_path
        self.pm = pm or make_plugin_manager()
        self.registry: Registry = build_registry(self.pm)
        # A route its channel cannot carry is refused like a broken file: at the start, and
        # at a reload, which keeps the configuration in force (and /health names the route).
        self.config_holder = ConfigHolder(config_path, check=self._refuse_unfit_routes)
        config = self.config_holder.current()
        self.data_dir = config.gateway.data_dir
        # Explicit settings (tests) win over the [dispatch] table of the file.
        self.dispatch_settings = dispatch or DispatchSettings.from_table(config.dispatch)
        self.outbound_settings = outbound or OutboundSettings.from_table(config.dispatch)
        self.store: Store | None = None
        self.validation: ValidationPool | None = None
        self.outbound: OutboundPipeline | None = None
        self.inbound: InboundPipeline | None = None
        self.dispatcher: Dispatcher | None = None
        self.delivery: DeliveryWorker | None = None
        self.auditor: StoreAuditor | None = None
        # An intake instance's: tells the full instances on the database what it stored.
        self.notice: QueuedNotice | None = None
        # The name the channels' turns are held under; made when the first channel starts.
        self._turn_holder: HolderName | None = None
        self._background: list[asyncio.Task[None]] = []
        # Not cancelled at stop but awaited: a worker start cut short would outlive the pool.
        self._warming: list[asyncio.Task[None]] = []
        self.status_desk: StatusDesk | None = None
        self.channels: dict[str, Channel] = {}
        self.channel_problems: dict[str, str] = {}
        self.unavailable: set[str] = set()
        # What each running channel was built from: a reload does not rebuild a running
        # channel, so an edit of its table waits for a restart, and /health says so.
        self._channel_configs: dict[str, ChannelConfig] = {}
        self.restart_needed: dict[str, str] = {}
        # The channels whose routes the API mounted at start: the router is fixed then,
        # so a channel a reload starts later sends and polls, but serves no route yet.
        self.routes_served: frozenset[str] | None = None
        # Settings read once at start (the [dispatch] and [validation] tables, where to
        # listen, the store) that a reload changed: by table, what waits for a restart.
        self._started_config: GatewayConfig = config
        self.start_only_edits: dict[str, str] = {}
        self.started_at: float | None = None
        self.stopping = False
        self._runner: web.AppRunner | None = None
        self.address: tuple[str, int] | None = None

    @property
    def config(self) -> Any:
        return self.config_holder.current()

    @property
    def intake_only(self) -> bool:
        return self.role is Role.INTAKE

    def _refuse_unfit_routes(self, config: GatewayConfig) -> None:
        refuse_unfit_routes(config, self.registry.channels, formats=self.registry.formats)

    def config_problems(self) -> list[str]:
        config = self.config
        channel_types = set(self.registry.channels)
        if self.intake_only:
            # No channel runs here: a channel plugin this machine lacks is the full
            # instance's concern, and /health there names it.
            channel_types |= {channel.type for channel in config.channels.values()}
        return [
            str(problem)
            for problem in check_against_registry(
                config, self.registry.formats, channel_types
            )
        ]

    async def receive(self, document: InboundDocument) -> str:
        """The inbound sink handed to every channel: the raw bytes are stored when it returns."""
        if self.inbound is None:
            raise GatewayError("the gateway is not started: no store to receive documents into")
        return await self.inbound.receive(document)

    async def _open_pipeline(self) -> None:
        config = self.config
        store = open_store(config.gateway.database)
        await store.migrate()
        self.store = store
        self.auditor = StoreAuditor(store, self.config_holder,
                                    instance=self.instance_name)
        await self.auditor.start()
        # Worker processes start warm, in the background (see start()), when a route
        # names a validated format; otherwise on the first document that has layers.
        self.validation = ValidationPool(config.gateway.standards_path,
                                         workers=config.validation.workers,
                                         time_limit=config.validation.time_limit,
                                         scheduling=config.gateway.scheduling,
                                         manifest=self.registry.manifest)
        if self.intake_only:
            # Nothing here sends or delivers, so there is nothing local to wake: the full
            # instances are told instead, and find the work at their next poll regardless.
            notice = QueuedNotice(store)
            self.notice = notice
            self.outbound = OutboundPipeline(
                store, self.config_holder.current, self.registry, self.validation,
                self.outbound_settings,
                on_queued=lambda _record: notice.queued(Direction.OUTBOUND))
            self.inbound = InboundPipeline(
                store, self.registry, max_attempts=lambda: self.config.erp.max_attempts,
                on_decoded=lambda _record: notice.queued(Direction.INBOUND),
                agency_known=self._agency_known)
            return
        # Under the data directory's name, so that after a kill the next start here
        # takes this process's claims back at once (see _take_back_claims).
        instance = self._holder(own_instance_name()).worker_instance()
        dispatcher = Dispatcher(store, self.channels, self.registry, self.dispatch_settings,
                                instance=instance, metadata=self._message_metadata,
                                idle_channels=self._idle_channels)
        self.dispatcher = dispatcher
        self.outbound = OutboundPipeline(store, self.config_holder.current, self.registry,
                                         self.validation, self.outbound_settings,
                                         on_queued=lambda _record: dispatcher.wake())
        delivery = DeliveryWorker(store, self.config_holder.current, self.dispatch_settings,
                                  instance=instance)
        self.delivery = delivery
        self.inbound = InboundPipeline(store, self.registry,
                                       max_attempts=lambda: self.config.erp.max_attempts,
                                       on_decoded=lambda _record: delivery.wake(),
                                       agency_known=self._agency_known)
        self.status_desk = StatusDesk(store, lambda: str(self.config.supplier.kvk))

    def _agency_known(self, oin: str) -> bool:
        return self.config.agency(oin) is not None

    def _unknown_agencies(self) -> dict[str, dict[str, Any]]:
        """Per OIN outside the directory, the documents decoded here from it lately."""
        if self.inbound is None:
            return {}
        return {oin: {"documents": seen.documents, "first": seen.first.isoformat(),
                      "last": seen.last.isoformat()}
                for oin, seen in self.inbound.unknown_agencies.lately(self._agency_known).items()}

    async def _start_channels(self) -> None:
        config = self.config
        for name, channel_config in sorted(config.channels.items()):
            await self._start_channel(config, name, channel_config)

    async def _start_channel(
        self, config: GatewayConfig, name: str, channel_config: ChannelConfig,
    ) -> None:
        if not channel_config.enabled or name in self.channels:
            return
        if channel_config.type not in self.registry.channels:
            # config_problems() already names the missing plugin with file and line.
            self.unavailable.add(name)
            return
        channel_type = self.registry.channel_type(channel_config.type)
        desk = self.status_desk
        assert desk is not None
        assert self.store is not None
        assert self.dispatcher is not None
        turns = StoreTurns(self.store, name, self._holder(self.dispatcher.instance).name)
        try:
            channel = channel_type.factory(name, channel_config.settings)
            await asyncio.wait_for(channel.start(ChannelContext(
                name, inbound=self.receive, data_dir=str(self.data_dir),
                supplier=config.supplier,
                status=functools.partial(desk.record, name),
                sent=functools.partial(desk.waiting, name),
                store=self.store, standards_dir=str(config.gateway.standards_path),
                turns=turns,
            )), timeout=CHANNEL_START_TIMEOUT)
        except TimeoutError:
            self.channel_problems[name] = (
                f"failed to start: still starting after {CHANNEL_START_TIMEOUT:.0f} s "
                f"(plugin {self.registry.owner('channel', channel_config.type)!r})")
            log.error("channel %s did not finish starting", name)
            return
        except Exception as exc:
            self.channel_problems[name] = f"failed to start: {type(exc).__name__}: {exc}"
            log.exception("channel %s failed to start", name)
            return
        self.channel_problems.pop(name, None)
        self.unavailable.discard(name)
        self.channels[name] = channel
        self._channel_configs[name] = channel_config

    def _channels_without_routes(self) -> list[str]:
        """Running channels that offer routes the API has not mounted (started by a reload)."""
        if self.routes_served is None:
            return []
        return [name for name, channel in sorted(self.channels.items())
                if name not in self.routes_served and channel.web_routes()]

    def channel_route_gap(self, name: str) -> str | None:
        """Why this instance serves no routes of channel ``name``; None when it would."""
        if self.intake_only:
            return ("this instance runs in the intake role and runs no channel: call a full "
                    "instance on the same database for channel routes")
        if name in self._channels_without_routes():
            return (f"channel {name} started after the gateway did (a configuration reload): "
                    "its routes are served once the gateway restarts")
        if name in self.config.channels and name not in self.channels:
            return (f"channel {name} does not run on this instance (disabled, failed to start "
                    "or its plugin missing; /health says which)")
        return None

    def _note_edited_channels(self, new: GatewayConfig) -> None:
        """A reload that edits a running channel's table: it keeps running as it started."""
        for name, started in sorted(self._channel_configs.items()):
            if new.channels.get(name) == started:
                if self.restart_needed.pop(name, None) is not None:
                    log.info("channel %s: its table is as the channel started again", name)
                continue
            if name not in new.channels:
                if name not in self.restart_needed:
                    log.warning("channel %s: removed from the configuration; it runs until the "
                                "gateway restarts", name)
                # After the restart what is still routed to it is retried and dead-lettered:
                # said now, while the operator can still reroute it.
                self.restart_needed[name] = (
                    "removed from the configuration; it runs until the gateway restarts, and "
                    "messages still routed to it are then retried and dead-lettered: "
                    "reroute them (gateway messages reroute)")
                continue
            if not new.channels[name].enabled:
                # Routing reads the new file, the running channel does not: say both, or
                # "runs with the settings it started with" reads as if the edit did nothing.
                note = ("disabled in the configuration: new documents take their route's "
                        "fallback channel now, and are refused where the route has none; the "
                        "channel runs, and sends what is queued for it, until the gateway "
                        "restarts")
            elif (refused := self._settings_refused(name, new.channels[name])) is not None:
                # Found now, while the channel still runs on its old settings, rather than
                # at the restart, when the channel would not start.
                note = ("its table in the configuration changed, and its plugin refuses the "
                        f"new settings ({refused}); it runs with the settings it started with "
                        "until the gateway restarts, and would not start with these")
            else:
                note = ("its table in the configuration changed; it runs with the settings it "
                        "started with until the gateway restarts")
            if self.restart_needed.get(name) != note:
                log.warning("channel %s: %s", name, note)
            self.restart_needed[name] = note

    def _settings_refused(self, name: str, channel: ChannelConfig) -> str | None:
        """Why the channel type's factory refuses ``channel``'s settings; None if it takes them.

        A factory only reads its settings (README, "Writing a plugin"; the
        hookspec) and refuses them with ValueError; it is called here in the
        process that will start the channel, so settings that name environment
        variables are checked against the right environment. Called from
        whichever thread noticed the edit: any other error says nothing about
        the settings (a factory may, say, want the event loop), so it is no verdict.
        """
        try:
            channel_type = self.registry.channel_type(channel.type)
        except GatewayError:
            return None  # the type is gone: config_problems() names that already
        try:
            channel_type.factory(name, channel.settings)
        except ValueError as exc:
            return str(exc) or type(exc).__name__
        except Exception:
            log.debug("channel %s: its edited settings could not be checked", name,
                      exc_info=True)
        return None

    def _note_start_only_edits(self, new: GatewayConfig) -> None:
        """A reload that changes settings read at start only: said in the log and on /health."""
        changes = start_only_changes(self._started_config, new)
        if self.intake_only and "dispatch" in changes:
            # Of [dispatch] an intake instance reads only the attempts each message it
            # stores gets: the rest is the full instances', and waits for no restart here.
            kept = [key for key in changes.pop("dispatch") if key in INTAKE_DISPATCH_KEYS]
            if kept:
                changes["dispatch"] = kept
        edits = {section: f"{', '.join(keys)} changed; in force when the gateway restarts"
                 for section, keys in changes.items()}
        for section, note in sorted(edits.items()):
            if self.start_only_edits.get(section) != note:
                log.warning("[%s]: %s", section, note)
        for section in sorted(set(self.start_only_edits) - set(edits)):
            log.info("[%s]: as the gateway started again", section)
        self.start_only_edits = edits

    def _start_new_channels(self, loop: asyncio.AbstractEventLoop, new: GatewayConfig) -> None:
        """A reload that enables or adds a channel: start it, so routes switched to it work."""
        wanted = [(n, c) for n, c in sorted(new.channels.items())
                  if c.enabled and n not in self.channels]
        if not wanted or self.stopping or loop.is_closed():
            return

        def spawn() -> None:
            async def start_all() -> None:
                for name, channel_config in wanted:
                    await self._start_channel(new, name, channel_config)
            task = asyncio.create_task(start_all(), name="channel-start")
            self._background.append(task)

        loop.call_soon_threadsafe(spawn)

    async def start(self, listen: str | None = None) -> None:
        await self._open_pipeline()
        loop = asyncio.get_running_loop()
        if not self.intake_only:
            await self._start_workers(loop)
        assert self.auditor is not None
        self._background.append(asyncio.create_task(self.auditor.watch(), name="config-watch"))
        self._warm_validation(None)
        self.config_holder.subscribe(
            lambda old, new, _version: self._warm_new_routes(loop, old, new))
        self.config_holder.subscribe(
            lambda _old, new, _version: self._note_start_only_edits(new))
        settings = self.config.gateway
        host, port = (listen.rsplit(":", 1) if listen else
                      (settings.listen_host, str(settings.listen_port)))
        self.routes_served = frozenset(self.channels)
        self._runner = web.AppRunner(make_app(self), access_log=None,
                                     shutdown_timeout=SERVER_STOP_TIMEOUT)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host.strip("[]"), int(port))
        try:
            await site.start()
        except OSError as exc:  # the port is taken, or the address is not this machine's
            raise GatewayError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.address = sockets[0].getsockname()[:2] if sockets else (host, int(port))
        self.started_at = time.monotonic()
        log.info("gateway listening on %s:%s", *self.address)
        self._warn_if_open_without_token(host.strip("[]"))

    async def _start_workers(self, loop: asyncio.AbstractEventLoop) -> None:
        """What a full instance runs beyond intake: channels, sending, delivery, recovery.

        The message counts behind the ``wissel.messages`` gauge are taken here
        too: they are the whole store's, the same from every instance, and an
        intake instance counting them as well would only add to the database's load.
        """
        await self._start_channels()
        await self._take_back_claims()
        assert self.dispatcher is not None
        self.dispatcher.start()
        assert self.delivery is not None
        self.delivery.start()
        assert self.store is not None
        self._background.append(asyncio.create_task(observe_store(self.store),
                                                    name="message-counts"))
        assert self.inbound is not None
        self._background.append(asyncio.create_task(keep_recovering(self.inbound),
                                                    name="inbound-recovery"))
        self._background.append(asyncio.create_task(self.store.listen_queued(self._wake),
                                                    name="listen-queued"))
        self.config_holder.subscribe(
            lambda _old, new, _version: self._start_new_channels(loop, new))
        self.config_holder.subscribe(lambda _old, new, _version: self._note_edited_channels(new))

    async def _take_back_claims(self) -> None:
        """End at once the claims an earlier process on this data directory left behind.

        That process is gone (it held the name's lock while it lived), so what
        it was sending or delivering need not wait out its lease: the workers
        take it over at their first round, as they take over any expired claim.
        """
        assert self.store is not None
        prefix = self._holder(own_instance_name()).claims_prefix
        if prefix is None:
            return
        try:
            taken = await self.store.expire_claims(prefix)
        except StoreError:
            log.exception("the claims an earlier run left cannot be taken back now; they "
                          "are taken over when their leases expire")
            return
        if taken:
            log.warning("%d message(s) claimed by an earlier run on this data directory (%s) "
                        "that stopped without finishing them are taken over now", taken,
                        prefix.rstrip("/"))

    @property
    def instance_name(self) -> str:
        """This instance's name among those on the database: its turns', its claims', its
        reload records' (kept by the data directory across restarts, see HolderName)."""
        return self._holder(own_instance_name()).name

    def _holder(self, fallback: str) -> HolderName:
        if self._turn_holder is None:
            self._turn_holder = HolderName(self.data_dir, fallback)
        return self._turn_holder

    def _wake(self, direction: Direction) -> None:
        """Start this instance's workers of ``direction`` now rather than at their next poll."""
        workers = self.dispatcher if direction is Direction.OUTBOUND else self.delivery
        if workers is not None:
            workers.wake()

    def work_waits(self, direction: Direction) -> None:
        """Work of ``direction`` was committed here (an operator's retry, say): have it taken.

        The workers here take it at once; an intake instance, which has none,
        tells the instances that do.
        """
        if self.notice is not None:
            self.notice.queued(direction)
        else:
            self._wake(direction)

    def _warn_if_open_without_token(self, host: str) -> None:
        """No token means local callers only; a proxy on this machine that names no caller
        makes everyone local."""
        try:
            if token_entries(self.config):
                return
        except ConfigError:
            return  # the API is locked: /health and the log say why already
        if names_this_machine(host):
            return
        log.warning(
            "listening on %s with no API token: the API answers callers on this machine "
            "only, and a reverse proxy on this machine that names no caller (X-Forwarded-For "
            "or the like) would make every caller one of them; "
            "set [gateway] token_env or [api.tokens.<name>]", host)

    async def stop(self) -> None:
        self.stopping = True
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        self._background.clear()
        if self.auditor is not None:
            await self.auditor.flush()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.delivery is not None:
            await self.delivery.stop()
        for name, channel in list(self.channels.items()):
            try:
                await channel.stop()
            except Exception:
                log.exception("channel %s failed to stop cleanly", name)
        self.channels.clear()
        if self._turn_holder is not None:  # the channels gave their turns up
            self._turn_holder.close()
            self._turn_holder = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.notice is not None:  # after the API: no request stores anything now
            await self.notice.close()
        await asyncio.gather(*self._warming, return_exceptions=True)
        if self.validation is not None:
            await asyncio.to_thread(self.validation.close)
        if self.store is not None:
            await self.store.close()

    async def run_forever(self, listen: str | None = None) -> None:
        # stop() also after a start that failed half-way (e.g. the port is taken): the
        # store, channels, workers and background tasks it already started must not leak.
        try:
            await self.start(listen)
            # What start-up built (modules, plugins, configuration) lives as long as the
            # process: out of the collector's sight, each full collection walks a fraction
            # of the objects, and its pauses shrink from tens of milliseconds.
            gc.freeze()
            await asyncio.Event().wait()
        finally:
            await self.stop()

    def _warm_validation(self, keys: list[str] | None) -> None:
        """Start the validation workers warm for the routed formats (or ``keys``), off the loop.

        Only formats with validation layers start workers: a gateway routing
        to canonical formats only starts none.
        """
        pool = self.validation
        if pool is None or self.stopping:
            return

        config = self.config

        async def warm() -> None:
            try:
                sets = await asyncio.to_thread(warm_sets, config, self.registry, keys)
                if sets and not self.stopping:
                    await asyncio.to_thread(pool.start, sets)
            except Exception:  # the workers start on first use instead
                log.exception("validation workers could not be started warm")

        task = asyncio.create_task(warm(), name="validation-warm")
        self._warming.append(task)
        task.add_done_callback(self._warming.remove)

    def _warm_new_routes(self, loop: asyncio.AbstractEventLoop, old: Any, new: Any) -> None:
        """A reloaded configuration: warm the formats it routes to that the old one did not."""
        added = sorted(set(routed_formats(new)) - set(routed_formats(old)))
        if added and not self.stopping and not loop.is_closed():
            loop.call_soon_threadsafe(self._warm_validation, added)

    def _message_metadata(self, record: Any) -> dict[str, str]:
        """What a channel learns at send time (OutboundMessage.metadata): the agency's
        e-mail address and Peppol participant id, whether a reroute re-encoded it or
        cleared its transport id, and its business state."""
        try:
            agency = self.config.agency(record.agency_oin) if record.agency_oin else None
        except ValueError:  # a malformed OIN has no directory entry
            agency = None
        found = {} if agency is None else agency.directory_metadata()
        routing = record.routing or {}
        for flag in ("reencoded", "rerouted"):
            if routing.get(flag):
                found[flag] = "true"
        # What the agency's side said so far (a retry keeps it): a channel that reuses its
        # transport id on retries learns that an earlier send got through, so the same id
        # again would be taken for a repeat and not travel (Peppol after an MLR rejection).
        found["business_state"] = str(record.business_state)
        return found

    async def _channels_own_problems(self) -> list[str]:
        """What running channels report through ``Channel.problems()`` (e.g. stale portal tasks)."""
        found: list[str] = []
        for name, channel in sorted(self.channels.items()):
            try:
                found += [f"channel {name}: {p}" for p in await channel.problems()]
            except Exception as exc:
                found.append(f"channel {name}: cannot tell its problems: {exc}")
        return found

    async def health(self) -> dict[str, Any]:
        problems = self.config_problems()
        if self.config_holder.last_error is not None:
            problems.insert(0, "configuration edit not applied, the previous version stays in "
                               f"force: {self.config_holder.last_error}")
        try:
            token_entries(self.config)
        except ConfigError as exc:  # the API refuses every call until the variable is set
            problems.append(f"API tokens: {exc}")
        if self.config.erp.delivery == "webhook" and not self.intake_only:
            # Read from this process's environment at every delivery: a switch to webhook
            # in the file applies at once, but a variable set afterwards never arrives.
            try:
                self.config.erp.webhook_secret()
            except ConfigError as exc:
                problems.append(f"[erp]: {exc.message}; set it where the gateway starts "
                                "and restart it")
        problems += [f"channel {n}: {p}" for n, p in sorted(self.channel_problems.items())]
        problems += [f"channel {n}: {p}" for n, p in sorted(self.restart_needed.items())]
        problems += [f"channel {n}: started by a configuration reload; its routes under "
                     f"/api/v1/channels/{n}/ answer 404 until the gateway restarts"
                     for n in self._channels_without_routes()]
        problems += [f"[{s}]: {p}" for s, p in sorted(self.start_only_edits.items())]
        problems += await self._channels_own_problems()
        problems += self._validation_problems()
        if self.auditor is not None:
            problems += self.auditor.problems()
        messages: dict[str, dict[str, int]] = {}
        waiting: dict[str, int] = {}
        turns: list[dict[str, Any]] = []
        if self.store is not None and not self.stopping:
            try:
                messages = await self.store.count_by_state()
                waiting = await self._waiting_for_idle_channels(self.store, messages)
                overdue = await self._overdue_problem(self.store, messages)
                if overdue is not None:
                    problems.append(overdue)
                turns = await self._turns(self.store)
            except GatewayError as exc:
                problems.append(f"message store: {exc}")
        unknown_agencies = self._unknown_agencies()
        problems += [f"agency {oin}: {seen['documents']} document(s) received since "
                     f"{seen['first']} from this OIN, which is not in the agency directory; "
                     f"add it to {self.config_holder.path}"
                     for oin, seen in unknown_agencies.items()]
        # Degraded: nothing sends these unless an operator enables the channel, mends it,
        # or runs it on another instance, and nothing else tells that they wait.
        problems += [self._waiting_problem(name, count) for name, count in sorted(waiting.items())]
        status = "stopping" if self.stopping else ("degraded" if problems else "ok")
        return {
            "status": status,
            "role": self.role.value,
            "version": __version__,
            "uptime_seconds": round(time.monotonic() - self.started_at, 1)
            if self.started_at else 0,
            # Absolute, as the holder reads it: the operator reading this is elsewhere.
            "config": {"file": str(self.config_holder.path),
                       "version": self.config_holder.version},
            "formats": len(self.registry.formats),
            "channels": {
                **{name: "running" for name in sorted(self.channels)},
                **{name: "unavailable" for name in sorted(self.unavailable
                                                           | set(self.channel_problems))},
            },
            "messages": messages,
            "waiting": waiting,
            "turns": turns,
            "unknown_agencies": unknown_agencies,
            "validation": self._validation_state(),
            "problems": problems,
        }

    async def _turns(self, store: Store) -> list[dict[str, Any]]:
        """Which instance holds each channel's turn at its periodic work, and until when.

        Of several instances on one database only the holder polls; without
        this an operator found the holder in the log of whichever had it.
        """
        here = None if self._turn_holder is None else self._turn_holder.name
        found = []
        for lease in await store.leases(TURN_PREFIX):
            channel, purpose = channel_turn(lease.name)
            found.append({"channel": channel, "purpose": purpose, "holder": lease.holder,
                          "until": lease.expires_at.isoformat(), "here": lease.holder == here})
        return found

    async def _overdue_problem(
        self, store: Store, messages: dict[str, dict[str, int]],
    ) -> str | None:
        """Queued outbound messages due for long that no instance has taken, if any.

        An intake instance sends nothing: beside only intake instances (the full
        one stopped, or never started) every accepted message waits, and nothing
        else says so. On a full instance it means its dispatcher is far behind or
        stuck. Messages of channels idle here are left out: counted apart, they
        wait for another instance by design.
        """
        outbound = messages.get("outbound", {})
        if not any(outbound.get(s.value) for s in CLAIMABLE_STATES[Direction.OUTBOUND]):
            return None
        skip = [] if self.intake_only else self._idle_channels()
        count, oldest = await store.overdue_outbound(utc_now() - OVERDUE_AFTER,
                                                     skip_channels=skip)
        if not count or oldest is None:
            return None
        minutes = int((utc_now() - oldest).total_seconds() // 60)
        many = f"{OVERDUE_CAP} or more" if count >= OVERDUE_CAP else str(count)
        why = ("this is an intake instance, which sends nothing: is a full instance running "
               "on this database?" if self.intake_only else
               "this instance's dispatcher is far behind or stuck (see its log)")
        return (f"{many} outbound message(s) due for over {OVERDUE_AFTER_TEXT} wait unclaimed, "
                f"the oldest due {minutes} min ago: {why}")

    def _idle_channels(self) -> list[str]:
        """Channels configured here but not running: disabled, or failed to start."""
        return [name for name in self.config.channels if name not in self.channels]

    async def _waiting_for_idle_channels(
        self, store: Store, messages: dict[str, dict[str, int]],
    ) -> dict[str, int]:
        """Per idle channel (:meth:`_idle_channels`), the outbound messages waiting for it.

        The dispatcher leaves them unclaimed for an instance that runs the
        channel. A channel configured nowhere is not idle: its messages are
        claimed, retried and dead-lettered saying so; once the dispatcher met
        one, what still waits for it is counted here too. At most one query,
        over the claims' index, and none while no outbound message waits at all.
        """
        if self.intake_only:
            # It runs no channel by design, so every channel is idle here and every queued
            # message would be reported; the full instance's /health reports what waits.
            return {}
        idle = self._idle_channels()
        if self.dispatcher is not None:
            # Configured nowhere: claimed and retried until dead-lettered, each attempt
            # pointing here, so here is where they must be counted.
            idle += sorted(name for name in self.dispatcher.missing_channels
                           if name not in self.config.channels and name not in self.channels)
        outbound = messages.get("outbound", {})
        if not idle or not any(outbound.get(s.value) for s in CLAIMABLE_STATES[Direction.OUTBOUND]):
            return {}
        return await store.count_waiting_by_channel(idle)

    def _waiting_problem(self, name: str, count: int) -> str:
        channel = self.config.channels.get(name)
        waits = "1 message waits" if count == 1 else f"{count} messages wait"
        if channel is None:
            return (f"channel {name}: {waits} for it and it is not configured: they are "
                    "retried until dead-lettered; reroute them (gateway messages reroute)")
        if not channel.enabled:
            why = "disabled"
        elif name in self.channel_problems:
            why = "failed to start"  # the reason is the channel's own line
        elif name in self.unavailable:
            why = f"no installed plugin provides its type {channel.type!r}"
        else:
            why = "still starting"  # enabled by a reload, its start() not done yet
        return (f"channel {name}: {waits} for it and it does not run here ({why}); "
                "an instance on the same database that runs it would send them")

    def _validation_problems(self) -> list[str]:
        """Routed formats that cannot be validated, so every document in them is refused.

        The existence and size of each layer's file is cheap to check on every
        call; what only a compile finds (an altered included file) comes from
        the workers' warm-up.
        """
        config = self.config
        formats: dict[str, list[str]] = {}
        for key in routed_formats(config):
            fmt = self.registry.formats.get(key)
            for layer in fmt.layers() if fmt is not None else ():
                try:
                    standards_path(config.gateway.standards_path, layer.artifact,
                                   manifest=self.registry.manifest)
                except StandardsError as exc:
                    formats.setdefault(str(exc), []).append(key)
                    break
        found = [f"validation of {', '.join(keys)} refuses every document: {problem}"
                 for problem, keys in sorted(formats.items())]
        if self.validation is not None and not self.stopping:
            found += sorted({f"validation warm-up: {problem}"
                             for warmth in self.validation.warmth()
                             for problem in warmth.problems})
        return found

    def _validation_state(self) -> str:
        """``warming`` until every worker started warm is, then ``warm``; else ``on demand``.

        A warm-up still working out what to warm counts as warming, so /health
        never says ``on demand`` in the moment before the workers start.
        """
        pool = self.validation
        if pool is None:
            return "on demand"
        if self._warming or pool.warming():
            return "warming"
        return "warm" if pool.warmth() else "on demand"
