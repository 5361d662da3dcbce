"""``gateway send`` when the gateway answers 400 with problem details."""

from __future__ import annotations

from pathlib import Path

from api_support import running_gateway
from pipeline_support import AGENCY_OIN
from test_cli_send import gateway_cli


async def test_a_body_that_is_no_json_is_reported_once(tmp_path: Path) -> None:
    """The 400 names the same words as its detail and as its one error (at $): the
    operator read them twice, the second time as if it were another finding."""
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "invoice",')
    async with running_gateway(tmp_path) as gateway:
        result = await gateway_cli(gateway.config_path, "send", str(broken),
                                   "--agency", AGENCY_OIN)
    assert result.exit_code == 1, result.output
    assert f"rejected {broken}: the body is not JSON: " in result.output
    assert result.output.count("the body is not JSON") == 1, result.output
    assert result.output.strip().endswith("0 accepted, 0 duplicate, 1 rejected")
