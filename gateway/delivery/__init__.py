"""Delivery of inbound documents to the supplier's ERP: webhook, folder, or poll.

``DeliveryWorker`` claims decoded inbound messages and hands each to the
target ``[erp] delivery`` names; ``signing`` holds the webhook signature
scheme the ERP verifies.
"""

from gateway.delivery.signing import SignatureError, signature_header, verify
from gateway.delivery.targets import FolderTarget, WebhookTarget, make_target
from gateway.delivery.worker import DeliveryWorker

__all__ = [
    "DeliveryWorker", "FolderTarget", "SignatureError", "WebhookTarget", "make_target",
    "signature_header", "verify",
]
