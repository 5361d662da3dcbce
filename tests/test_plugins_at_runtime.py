"""Badly behaved plugins at run time (start-up, detection, sending) do not hang the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gateway.channels import Accepted, Channel, ChannelContext, ChannelType, OutboundMessage
from gateway.errors import PluginError
from gateway.formats import Decoded, Detection, EncodeContext, Format
from gateway.hookspecs import hookimpl
from gateway.kinds import Direction, DocumentKind
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.registry import Registry
from gateway.service import GatewayService
from gateway.sniff import Sniffed

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"


def _config(tmp_path: Path, extra: str = "") -> Path:
    text = EXAMPLE.read_text("utf-8").replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    path = tmp_path / "gateway.toml"
    path.write_text(text + extra, "utf-8")
    return path


# -- a channel whose start never returns --------------------------------------------------------

class Stuck(Channel):
    type_name = "stuck"

    async def start(self, context: ChannelContext) -> None:
        # e.g. waiting for a TCP connect / TLS handshake to a peer that never answers
        await asyncio.Event().wait()

    async def send(self, message: OutboundMessage) -> Any:
        return Accepted("x")


class StuckPlugin:
    @hookimpl
    def register_channels(self, registry: Registry) -> None:
        def factory(name: str, settings: Mapping[str, Any]) -> Channel:
            return Stuck(name, settings)

        registry.add_channel(ChannelType("stuck", factory, "never finishes starting"))


async def test_a_channel_that_never_finishes_starting_does_not_hang_the_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Channels start one after the other: without a bound on channel.start(), the API would
    never listen, the dispatcher never start, /health never answer."""
    monkeypatch.setattr("gateway.service.CHANNEL_START_TIMEOUT", 2.0)
    pm = make_plugin_manager(plugins=[("stuck-plugin", StuckPlugin())])
    service = GatewayService(_config(tmp_path, '\n[channels.stuck]\ntype = "stuck"\n'), pm)
    try:
        try:
            await asyncio.wait_for(service.start(), timeout=20)
        except TimeoutError:
            pytest.fail("GatewayService.start() still waiting for channel 'stuck' after 20 s; "
                        f"address={service.address}, running channels={sorted(service.channels)}")
        assert "stuck" in service.channel_problems
    finally:
        await service.stop()


# -- one format's detect bug hides every other format -------------------------------------------

class Good(Format):
    key = "good:invoice:1"
    kind: ClassVar[DocumentKind] = DocumentKind.INVOICE
    directions: ClassVar[frozenset[Direction]] = frozenset({Direction.INBOUND})
    description = "good"

    def detect(self, doc: Sniffed) -> Detection:
        return Detection.MATCH if doc.root_name == "good" else Detection.NO

    def encode(self, document: Any, context: EncodeContext) -> bytes:
        return b"<good/>"

    def decode(self, data: bytes) -> Decoded:
        return Decoded("good")


class Brittle(Good):
    key = "brittle:invoice:1"
    description = "raises on documents it does not know"

    def detect(self, doc: Sniffed) -> Detection:
        if doc.root_name == "brittle":
            return Detection.MATCH
        # a typical plugin bug: assumes an element every *own* document has
        return Detection.MATCH if doc.root.attrib["version"] == "1" else Detection.NO  # type: ignore[union-attr]


class Pair:
    @hookimpl
    def register_formats(self, registry: Registry) -> None:
        registry.add_format(Good())
        registry.add_format(Brittle())


def test_a_format_that_raises_while_detecting_does_not_hide_the_one_that_matches() -> None:
    """registry.detect says 'a plugin bug must not hide the other formats' and then raises
    at the first exception: a document that another installed format MATCHes is rejected
    (stage 'detect') because an unrelated third-party format has a bug."""
    registry = build_registry(make_plugin_manager(entry_points=False, plugins=[("p", Pair())]))
    try:
        found = registry.detect(b"<good/>")
    except PluginError as exc:
        pytest.fail(f"the good document was not detected: {exc}")
    assert found.format.key == "good:invoice:1"


# -- a channel whose send never returns -----------------------------------------------------------

async def test_a_send_that_never_returns_does_not_keep_the_message_sending_for_ever(
    store: Any, tmp_path: Path,
) -> None:
    """Dispatcher._call awaits channel.send() with no bound while _LeaseKeeper renews the
    claim every lease/3: the message stays 'sending' for ever, no other worker may take it,
    no retry, no dead letter, nothing on /health ('nothing stays silently stuck')."""
    from datetime import timedelta

    import attrs
    from pipeline_support import FAST, make_pipeline

    from gateway.model.samples import example_invoice

    class Hangs(Channel):
        type_name = "recorder"

        async def send(self, message: OutboundMessage) -> Any:
            await asyncio.Event().wait()

    pipe = await make_pipeline(store, tmp_path, settings=attrs.evolve(
        FAST, lease=timedelta(seconds=1.5), send_timeout=3.0))
    pipe.channels["recorder"] = Hangs("recorder", {})
    record = await pipe.submit(example_invoice())
    task = asyncio.create_task(pipe.dispatcher.run_once())
    await asyncio.sleep(8)  # five leases
    during = await pipe.store.get(record.id)
    done = task.done()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert during is not None
    assert done, (f"after 8 s (5 leases) the attempt is still running and the message is "
                  f"{during.transport_state.value}, its claim renewed: the send is unbounded")
