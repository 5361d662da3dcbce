"""The gateway's configuration file: loading, checking, reloading and editing.

One TOML file (``$GATEWAY_CONFIG``, else ``./gateway.toml``) with the tables
``[gateway]``, ``[supplier]``, ``[channels.<name>]`` and
``[agencies."<OIN>"]``. ``examples/gateway.toml`` documents every key.
"""

from gateway.config.audit import AuditLog
from gateway.config.holder import ConfigHolder
from gateway.config.loader import check_against_registry, load_config, parse_config
from gateway.config.model import (
    Address,
    Agency,
    ChannelConfig,
    Contact,
    DocumentRoute,
    GatewayConfig,
    GatewaySettings,
    SupplierIdentity,
)
from gateway.config.switch import switch_route

__all__ = [
    "Address",
    "Agency",
    "AuditLog",
    "ChannelConfig",
    "ConfigHolder",
    "Contact",
    "DocumentRoute",
    "GatewayConfig",
    "GatewaySettings",
    "SupplierIdentity",
    "check_against_registry",
    "load_config",
    "parse_config",
    "switch_route",
]
