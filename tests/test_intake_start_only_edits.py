"""An intake instance reports only the start-only edits it would act on.

An operator who changes `[dispatch] lease` (or workers, batch, backoff) in
every instance's file restarts the full instances, which send. An intake
instance sends nothing and reads none of those: it was left "degraded"
naming the edit until it too was restarted, for no effect. It still names
`max_attempts`, which it writes on every message it stores.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pipeline_support import config_text
from test_intake_role import Instances, instances

from gateway.service import GatewayService, Role

__all__ = ["instances"]  # the fixture, used by the tests here


def write_dispatch(path: Path, dispatch: str) -> None:
    path.write_text(config_text(path.parent) + f"\n[dispatch]\n{dispatch}\n", "utf-8")


async def edit(service: GatewayService, path: Path, dispatch: str) -> None:
    service.config_holder.check_interval = 0
    write_dispatch(path, dispatch)
    assert service.config_holder.current()  # reloads now
    await asyncio.sleep(0.2)  # reload listeners run on the loop


async def test_a_sending_setting_edited_leaves_an_intake_instance_ok(
    tmp_path: Path, instances: Instances,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    intake = await instances.start(path, Role.INTAKE)
    full = await instances.start(path, listen="127.0.0.1:0")

    await edit(intake, path, "lease = 60\nworkers = 4\nbackoff_base = 5")
    report = await intake.health()
    assert (report["status"], report["problems"]) == ("ok", []), report
    await asyncio.sleep(1.2)  # the full instance looks at the file once a second
    report = await full.health()
    assert [p for p in report["problems"] if p.startswith("[dispatch]")] == [
        "[dispatch]: workers, backoff_base, lease changed; in force when the gateway "
        "restarts"], report


async def test_max_attempts_edited_is_named_on_an_intake_instance(
    tmp_path: Path, instances: Instances,
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(config_text(tmp_path), "utf-8")
    intake = await instances.start(path, Role.INTAKE)

    await edit(intake, path, "lease = 60\nmax_attempts = 3")
    report = await intake.health()
    assert report["problems"] == [
        "[dispatch]: max_attempts changed; in force when the gateway restarts"], report
