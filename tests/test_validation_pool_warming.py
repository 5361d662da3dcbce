"""The gateway starts its validation workers warm, for the validated formats its routes name."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from api_support import ERP, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN, make_config

from gateway.api.schemas import COMPONENTS
from gateway.pluginmanager import build_registry, make_plugin_manager
from gateway.service import GatewayService
from gateway.validation.warming import routed_formats, warm_sets

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"
PEPPOL_KEY = "peppol-bis:invoice:3.0"


def test_the_warm_sets_are_the_routed_formats_that_have_layers(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = make_config(tmp_path, invoice_format=PEPPOL_KEY)
    registry = build_registry(make_plugin_manager())
    assert PEPPOL_KEY in routed_formats(config)
    assert "canonical:credit-note:1" in routed_formats(config)
    assert warm_sets(config, registry) == []  # the standards are not installed there

    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    config = make_config(tmp_path, invoice_format=PEPPOL_KEY)
    [warm] = warm_sets(config, registry)
    fmt = registry.format(PEPPOL_KEY)
    assert (warm.format_key, warm.layers) == (PEPPOL_KEY, tuple(fmt.layers()))
    assert warm.document is not None
    assert fmt.decode(warm.document).document.number  # a real invoice of that format
    assert warm_sets(make_config(tmp_path), registry) == []  # canonical formats only


async def _until(service: GatewayService, state: str, within: float) -> list[str]:
    """The /health validation states seen until ``state``."""
    seen: list[str] = []
    deadline = time.monotonic() + within
    while True:
        current = (await service.health())["validation"]
        if not seen or seen[-1] != current:
            seen.append(current)
        if current == state or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.05)


async def test_the_gateway_starts_warm_workers_for_a_validated_route(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    async with running_gateway(tmp_path, invoice_format=PEPPOL_KEY) as gateway:
        pool = gateway.service.validation
        assert pool is not None
        seen = await _until(gateway.service, "warm", within=180)
        assert seen[-1] == "warm", seen
        # The states the OpenAPI document publishes, and from the start never "on demand".
        assert set(seen) <= set(COMPONENTS["Health"]["properties"]["validation"]["enum"])
        assert seen[0] == "warming", seen
        warmth = pool.warmth()
        assert len({worker.pid for worker in warmth}) == pool.workers
        assert all(worker.validated == (PEPPOL_KEY,) for worker in warmth), warmth
        assert all(worker.problems == () for worker in warmth), warmth

        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json("W-1"),
                                             token=ERP)
        assert status == 202, body

        # A worker killed while idle: the next document goes to new workers, and
        # the ERP hears nothing of it.
        os.kill(warmth[0].pid, signal.SIGKILL)
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json("W-2"),
                                             token=ERP)
        assert status == 202, body
        assert pool.second_tries <= 1


async def test_a_gateway_with_canonical_routes_only_starts_no_worker(tmp_path: Path) -> None:
    async with running_gateway(tmp_path) as gateway:
        service = gateway.service
        await asyncio.gather(*service._warming)
        assert service.validation is not None
        assert not service.validation.running
        assert (await service.health())["validation"] == "on demand"


async def test_a_reload_that_routes_to_a_validated_format_warms_it(
    tmp_path: Path, installed_standards: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_STANDARDS_DIR", str(installed_standards))
    async with running_gateway(tmp_path) as gateway:
        service = gateway.service
        await asyncio.gather(*service._warming)
        assert service.validation is not None
        assert not service.validation.running
        text = gateway.config_path.read_text("utf-8")
        gateway.config_path.write_text(
            text.replace('format = "canonical:invoice:1"', f'format = "{PEPPOL_KEY}"', 1),
            "utf-8")
        assert service.config_holder.reload()
        seen = await _until(service, "warm", within=180)
        assert seen[-1] == "warm", seen
        assert {worker.validated for worker in service.validation.warmth()} == {(PEPPOL_KEY,)}
