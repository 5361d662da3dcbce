"""A reroute to a channel of another type says that type in the message's routing.

The routing kept the type of the channel it left: a message rerouted from
Peppol to Digipoort read "channel digipoort, channel_type peppol".
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
"""


async def test_a_reroute_records_the_type_of_the_new_channel(tmp_path: Path) -> None:
    async with running_gateway(tmp_path, extra=TOKENS + SPARE) as gateway:
        gateway.plugin.instances["recorder"].script = [FinalError("agency refuses for good")]
        status, _, body = await gateway.call("POST", SUBMIT, data=invoice_json())
        assert status == 202, body
        await until_state(gateway, body["id"], {TransportState.FAILED})
        status, _, message = await gateway.call(
            "POST", f"/api/v1/messages/{body['id']}/reroute", token=OPERATOR,
            json_body={"reason": "agency collects files now", "channel": "spare"})
        assert status == 200, message
        assert message["routing"]["channel"] == "spare"
        assert message["routing"]["channel_type"] == "folder"
