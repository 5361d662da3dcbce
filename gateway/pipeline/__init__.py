"""The durable pipeline: outbound intake and dispatch, the inbound sink, operator actions.

Outbound: ``OutboundPipeline.submit`` (intake, checks, route, encode,
validate, persist), then the ``Dispatcher`` sends. Inbound:
``InboundPipeline.receive`` (persist raw, detect, decode, deduplicate).
Every step is an event on the message's timeline in the store.
"""

from gateway.pipeline.dispatch import Dispatcher, DispatchSettings
from gateway.pipeline.errors import (
    DocumentRejected,
    DocumentTooLarge,
    NumberTaken,
    OperatorActionError,
    PipelineError,
)
from gateway.pipeline.inbound import InboundPipeline
from gateway.pipeline.outbound import OutboundPipeline, OutboundSettings

__all__ = [
    "DispatchSettings", "Dispatcher", "DocumentRejected", "DocumentTooLarge", "InboundPipeline",
    "NumberTaken", "OperatorActionError", "OutboundPipeline", "OutboundSettings", "PipelineError",
]
