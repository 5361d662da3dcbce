"""A misspelt channel setting is an error naming it, for every channel type."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.service import GatewayService

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "gateway.toml"
TYPOS = {
    "folder": ('[channels.folder]\npath = "out"\n', "poll_intervall = 1\n"),
    "portal": ('[channels.portal]\nexport_dir = "portal-export"\n', 'warn_aftr = "1d"\n'),
    "email": ('[channels.email]\nsmtp_host = "localhost"\n', 'bounce_dri = "email/bounces"\n'),
}


@pytest.mark.parametrize("channel", sorted(TYPOS))
async def test_a_misspelt_channel_setting_is_reported(tmp_path: Path, channel: str) -> None:
    table, typo = TYPOS[channel]
    text = EXAMPLE.read_text("utf-8").replace('listen = "127.0.0.1:8780"', 'listen = "127.0.0.1:0"')
    text = text.replace('token_env = "WISSEL_API_TOKEN"', 'token = "test-token"')
    assert table in text
    path = tmp_path / "gateway.toml"
    path.write_text(text.replace(table, table + typo), "utf-8")
    service = GatewayService(path)
    await service.start()
    try:
        report = await service.health()
        key = typo.split(" ")[0]
        assert any(key in problem for problem in report["problems"]), (
            f"[channels.{channel}] {typo.strip()} went unnoticed: channel "
            f"{report['channels'].get(channel)}, problems {report['problems']}")
    finally:
        await service.stop()
