"""Who is calling, and may they: bearer tokens with scopes.

``[gateway] token`` / ``token_env`` is the operator's token with every scope;
``[api.tokens.<name>]`` tables give a caller (an ERP, a dashboard) only the
scopes it needs. With no token configured at all the API answers loopback
callers only: a gateway on a developer's machine needs no secret, one that
listens on a network does.

Tokens are compared in constant time and never logged; a reloaded
configuration takes effect at the next request.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Collection
from urllib.parse import urlsplit

import attrs
from aiohttp import web

from gateway.api.problems import Problem
from gateway.config.model import API_SCOPES, GatewayConfig
from gateway.errors import ConfigError
from gateway.hosts import is_loopback, names_this_machine

log = logging.getLogger(__name__)

SUBMIT, READ, OPERATE = API_SCOPES
ALL_SCOPES = frozenset(API_SCOPES)
GATEWAY_TOKEN_NAME = "gateway"
LOCAL_NAME = "local"


@attrs.frozen
class Principal:
    """The caller: the name of its token (or ``local``) and what it may do."""

    name: str
    scopes: frozenset[str]


@attrs.frozen
class _Entry:
    name: str
    secret: bytes = attrs.field(repr=False)
    scopes: frozenset[str]


def token_entries(config: GatewayConfig) -> list[_Entry]:
    """Every configured token; raises ConfigError for a token_env naming an unset variable."""
    entries: list[_Entry] = []
    main = config.gateway.api_token()
    if main is not None:
        entries.append(_Entry(GATEWAY_TOKEN_NAME, main.encode("utf-8"), ALL_SCOPES))
    for name, token in sorted(config.api.tokens.items()):
        entries.append(_Entry(name, token.secret().encode("utf-8"), token.scopes))
    return entries


def _still_configured(config: GatewayConfig, entry: _Entry) -> bool:
    """Whether the new configuration still gives ``entry`` (same name, secret and scopes)."""
    try:
        if entry.name == GATEWAY_TOKEN_NAME:
            secret, scopes = config.gateway.api_token(), ALL_SCOPES
        else:
            token = config.api.tokens.get(entry.name)
            if token is None:
                return False
            secret, scopes = token.secret(), token.scopes
    except ConfigError:
        return False
    return (secret is not None and secret.encode("utf-8") == entry.secret
            and scopes == entry.scopes)


# Headers a reverse proxy adds for the caller it relays.
_RELAYED = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-IP", "Via")


def not_local(request: web.Request) -> str | None:
    """Why ``request`` is not from a caller on this machine itself; None when it is."""
    if not is_loopback(request.remote):
        return "the connection is not from this machine"
    relayed = [name for name in _RELAYED if name in request.headers]
    if relayed:
        return f"a proxy relays it for another host ({', '.join(relayed)})"
    if "Origin" in request.headers:
        return "a web page sent it (it has an Origin header)"
    # A page of a DNS name rebound to 127.0.0.1 sends that name as Host, and no Origin
    # when it only reads.
    try:
        host = urlsplit(f"//{request.headers.get('Host', '')}").hostname or ""
    except ValueError:
        host = ""
    if not names_this_machine(host):
        return "its Host header names neither localhost nor a loopback address"
    return None


class Authenticator:
    """Checks the ``Authorization`` header against the tokens of the current configuration."""

    def __init__(self, config: Callable[[], GatewayConfig]) -> None:
        self._config = config
        self._source: GatewayConfig | None = None
        self._entries: list[_Entry] | None = None
        self.error: str | None = None
        self.refresh()

    def refresh(self) -> None:
        """Read the tokens again if the configuration changed."""
        config = self._config()
        if config is self._source:
            return
        self._source = config
        try:
            entries = token_entries(config)
        except ConfigError as exc:
            # The operator asked for a token that is not there. Falling back to "no
            # token" would open the API; keep the previous tokens, or lock it.
            self.error = str(exc)
            if self._entries is not None:
                # Keep only the previous tokens the new file still grants: a token the
                # operator removed or changed (revoked) must stop working now. An
                # empty list would mean "no token" (loopback opens): lock instead.
                kept = [e for e in self._entries if _still_configured(config, e)]
                self._entries = kept or None
            log.error("API tokens cannot be read, %s: %s", "the previous ones still "
                      "configured stay in force" if self._entries is not None
                      else "the API refuses every call", exc)
            return
        self._entries, self.error = entries, None

    def authenticate(self, request: web.Request) -> Principal:
        self.refresh()
        if self._entries is None:
            raise Problem(503, "tokens-unavailable", "The API tokens cannot be read",
                          f"{self.error}; set it and restart the gateway")
        if not self._entries:
            why = not_local(request)
            if why is None:
                return Principal(LOCAL_NAME, ALL_SCOPES)
            raise Problem(
                403, "local-only", "Only local callers",
                "no API token is configured, so the gateway answers callers on this machine "
                f"only, and this request is not one: {why}; set [gateway] token_env or "
                "[api.tokens.<name>] to allow others")
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        # aiohttp decodes header bytes that are no UTF-8 as lone surrogates; surrogateescape
        # gives those bytes back, so they are compared (and refused) instead of raising.
        presented = value.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() != "bearer" or not presented:
            raise Problem(401, "unauthenticated", "Authentication required",
                          "send the API token as 'Authorization: Bearer <token>'",
                          headers={"WWW-Authenticate": 'Bearer realm="wissel"'})
        found: _Entry | None = None
        # Compare with every entry, so the time taken says nothing about which one matched.
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.secret) and found is None:
                found = entry
        if found is None:
            raise Problem(401, "invalid-token", "Authentication failed",
                          "the API token is not valid",
                          headers={"WWW-Authenticate": 'Bearer realm="wissel", '
                                                       'error="invalid_token"'})
        return Principal(found.name, found.scopes)


def require(principal: Principal, scopes: Collection[str], what: str) -> None:
    """Raise 403 unless ``principal`` has one of ``scopes``."""
    if scopes and not principal.scopes & set(scopes):
        needed = " or ".join(sorted(scopes))
        raise Problem(403, "insufficient-scope", "Not allowed",
                      f"{what} needs the {needed} scope; token {principal.name!r} has "
                      f"{', '.join(sorted(principal.scopes))}",
                      extra={"required_scopes": sorted(scopes)})
