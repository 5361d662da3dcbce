"""Rerouting to a configured but disabled channel is refused like an unconfigured one.

It answered 409 "not in a state that allows this" without naming the field,
as if the message were at fault; the request is, in its ``channel``.
"""

from __future__ import annotations

from pathlib import Path

from api_support import OPERATOR, TOKENS, invoice_json, running_gateway
from pipeline_support import AGENCY_OIN
from test_api_reroute_format import until_state

from gateway.channels import FinalError
from gateway.store import TransportState

SUBMIT = f"/api/v1/outbound/{AGENCY_OIN}"

SPARE = """
[channels.spare]
type = "folder"
path = "spare-out"
enabled = false
"""


async def test_a_reroute_to_a_disabled_channel_names_the_channel(tmp_path: Path) -> None:
    async with running_gateway(tmp_path, extra=TOKENS + SPARE) as gateway:
        gateway.plugin.instances["recorder"].script = [FinalError("agency refuses for good")]
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json())
        assert status == 202, body
        await until_state(gateway, body["id"], {TransportState.FAILED})
        status, _, problem = await gateway.call(
            "POST", f"/api/v1/messages/{body['id']}/reroute", token=OPERATOR,
            json_body={"reason": "try the spare", "channel": "spare"})
        assert status == 400, problem
        assert problem["errors"][0]["field"] == "$.channel"
        assert "channel spare is disabled" in problem["detail"]
        record = await gateway.store.get(body["id"])
        assert record is not None
        assert record.transport_state is TransportState.FAILED
        assert record.channel == "recorder"
