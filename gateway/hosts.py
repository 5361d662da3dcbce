"""Whether an address or host name is this machine: loopback, or localhost by name."""

from __future__ import annotations

import ipaddress


def is_loopback(address: str | None) -> bool:
    """Whether ``address`` is a loopback IP address (an IPv6 zone or brackets allowed)."""
    if not address:
        return False
    try:
        return ipaddress.ip_address(address.strip("[]").split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def names_this_machine(host: str) -> bool:
    """Whether ``host`` names this machine: ``localhost``, ``*.localhost`` or a loopback
    address. Names that resolve here otherwise (the machine's own host name) do not count:
    what they resolve to can change."""
    return host == "localhost" or host.endswith(".localhost") or is_loopback(host)
