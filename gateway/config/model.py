"""The configuration as the rest of the gateway sees it: frozen, typed, checked.

These classes are built only by :mod:`gateway.config.loader`, which has
already checked every value, so code that holds a :class:`GatewayConfig` can
trust it without re-validating.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from gateway.config.locate import KeyLocator, PathPart, format_key_path
from gateway.errors import ConfigError
from gateway.identifiers import (
    OIN,
    KvKNumber,
    PeppolParticipantId,
    VATNumber,
    Vestigingsnummer,
)
from gateway.kinds import DocumentKind
from gateway.paths import standards_dir
from gateway.scheduling import DEFAULT_POLICY


@attrs.frozen
class Contact:
    """A person to call or mail: the supplier's contact, or an agency's first-line support."""

    name: str
    role: str | None = None
    email: str | None = None
    telephone: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return attrs.asdict(self)


@attrs.frozen
class Address:
    street: str
    postal_code: str
    city: str
    building_number: str | None = None
    country: str = "NL"

    def to_dict(self) -> dict[str, str | None]:
        return attrs.asdict(self)


@attrs.frozen
class SupplierIdentity:
    """Who we are towards every agency: the ``[supplier]`` table."""

    name: str
    kvk: KvKNumber
    vestigingsnummer: Vestigingsnummer
    oin: OIN
    peppol_id: PeppolParticipantId
    vat: VATNumber | None = None
    contact: Contact | None = None
    address: Address | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kvk": str(self.kvk),
            "vestigingsnummer": str(self.vestigingsnummer),
            "oin": str(self.oin),
            "peppol_id": str(self.peppol_id),
            "vat": None if self.vat is None else str(self.vat),
            "contact": None if self.contact is None else self.contact.to_dict(),
            "address": None if self.address is None else self.address.to_dict(),
        }


@attrs.frozen
class GatewaySettings:
    """The ``[gateway]`` table: how the service runs and where it keeps things."""

    listen: str
    data_dir: Path
    database: str
    audit_log: Path
    public_url: str | None = None
    standards_dir: Path | None = None
    scheduling: str = DEFAULT_POLICY
    """How ``gateway run`` has Linux schedule its threads (see :mod:`gateway.scheduling`)."""
    # Kept out of repr so a logged config never shows the secret.
    token: str | None = attrs.field(default=None, repr=False)
    token_env: str | None = None

    @property
    def standards_path(self) -> Path:
        """``standards_dir``, else ``$GATEWAY_STANDARDS_DIR``, else ``<data_dir>/standards``."""
        return standards_dir(self.data_dir, self.standards_dir)

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def sqlite_path(self) -> Path | None:
        """The database file for ``sqlite:///...`` URLs, None for a server database."""
        if not self.database.startswith("sqlite:///"):
            return None
        # Options such as ?synchronous=normal belong to the store, not to the file name.
        return Path(self.database.removeprefix("sqlite:///").partition("?")[0])

    def api_token(self) -> str | None:
        """The API token from ``token`` or from the variable ``token_env`` names.

        None when neither is configured (the API then accepts local calls
        only, a decision for the server). A ``token_env`` naming an unset or
        empty variable is an error: the operator asked for a token and would
        otherwise silently run without one.
        """
        if self.token is not None:
            return self.token
        if self.token_env is None:
            return None
        value = os.environ.get(self.token_env, "")
        if not value:
            raise ConfigError(
                f"the environment variable {self.token_env} named by [gateway] token_env "
                "is not set or empty",
                key="gateway.token_env",
            )
        return value


API_SCOPES = ("submit", "read", "operate")
# A whole document (the intake limit) plus room for the HTTP request around it.
DEFAULT_MAX_REQUEST_BYTES = 20 * 1024 * 1024 + 64 * 1024


@attrs.frozen
class ApiToken:
    """One ``[api.tokens.<name>]`` table: a token for one caller, limited to ``scopes``."""

    name: str
    scopes: frozenset[str]
    token: str | None = attrs.field(default=None, repr=False)
    token_env: str | None = None

    def secret(self) -> str:
        """The token itself; an unset or empty ``token_env`` variable is an error."""
        if self.token is not None:
            return self.token
        value = os.environ.get(self.token_env or "", "")
        if not value:
            raise ConfigError(
                f"the environment variable {self.token_env} named by [api.tokens.{self.name}] "
                "token_env is not set or empty",
                key=f"api.tokens.{self.name}.token_env",
            )
        return value


@attrs.frozen
class ApiSettings:
    """The ``[api]`` table: request limits and the named tokens with their scopes."""

    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    tokens: Mapping[str, ApiToken] = attrs.field(factory=dict)


@attrs.frozen
class ChannelConfig:
    """One ``[channels.<name>]`` table: a channel instance of some plugin type."""

    name: str
    type: str
    enabled: bool = True
    # Everything but ``type`` and ``enabled``, for the channel plugin to interpret.
    settings: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class DocumentRoute:
    """Where one document kind for one agency goes, with defaults already applied."""

    kind: DocumentKind
    channel: str
    format: str
    fallback_channel: str | None = None
    # Whether the value came from the agency's default_channel / fallback_channel
    # rather than the document's own table; routing explains the difference.
    channel_is_default: bool = False
    fallback_is_default: bool = False
    # Options for the format (gaccount_iban, peppol_profile, ...), handed to its encoder.
    settings: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": self.kind.value,
            "channel": self.channel,
            "format": self.format,
            "fallback_channel": self.fallback_channel,
        }
        if self.settings:
            data["settings"] = dict(self.settings)
        return data


class Unreceived(enum.StrEnum):
    """What intake does with an invoice that names a document the agency never sent us.

    ``refuse`` it (422), ``warn`` on its timeline and send it, or check nothing
    (``off``). The document may well exist: received before the gateway ran.
    """

    REFUSE = "refuse"
    WARN = "warn"
    OFF = "off"


# The defaults of Agency.unreceived_timecards and unreceived_orders (see there).
UNRECEIVED_TIMECARDS = Unreceived.WARN
UNRECEIVED_ORDERS = Unreceived.OFF


@attrs.frozen
class Agency:
    """One government body we trade with, keyed by its OIN."""

    oin: OIN
    name: str
    peppol_id: PeppolParticipantId
    short_name: str | None = None
    email: str | None = None
    contacts: tuple[Contact, ...] = ()
    default_channel: str | None = None
    fallback_channel: str | None = None
    # standard -> version, e.g. {"ubl-ohnl": "1.9"}: every route of this agency
    # in that standard must use that version (checked when loading).
    format_pins: Mapping[str, str] = attrs.field(factory=dict)
    documents: Mapping[DocumentKind, DocumentRoute] = attrs.field(factory=dict)
    # Our account number in the agency's books (leveranciersnummer), which
    # some formats must carry (UBL-OHNL's CustomerAssignedAccountID).
    supplier_number: str | None = None
    # An invoice naming a timecard this agency's inbox never held.
    unreceived_timecards: Unreceived = UNRECEIVED_TIMECARDS
    # An invoice whose order reference names no order this agency sent us. Off unless
    # asked for: many orders reach a supplier outside the gateway, and the look-up
    # would cost every invoice a read of the store (a quarter of intake's throughput).
    unreceived_orders: Unreceived = UNRECEIVED_ORDERS

    @property
    def label(self) -> str:
        """``00000001003214345000 (Ministerie van X)``, as used in messages."""
        return f"{self.oin} ({self.name})"

    def directory_metadata(self) -> dict[str, str]:
        """What a channel learns of the agency from the directory (``OutboundMessage.metadata``):
        its e-mail address, where it has one, and its Peppol participant id."""
        found = {"agency_peppol_id": str(self.peppol_id)}
        if self.email:
            found["agency_email"] = self.email
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "oin": str(self.oin),
            "name": self.name,
            "short_name": self.short_name,
            "peppol_id": str(self.peppol_id),
            "email": self.email,
            "contacts": [c.to_dict() for c in self.contacts],
            "default_channel": self.default_channel,
            "fallback_channel": self.fallback_channel,
            "format_pins": dict(self.format_pins),
            "supplier_number": self.supplier_number,
            "unreceived_timecards": self.unreceived_timecards.value,
            "unreceived_orders": self.unreceived_orders.value,
            "documents": {k.value: r.to_dict() for k, r in self.documents.items()},
        }


@attrs.frozen
class ErpSettings:
    """The ``[erp]`` table: how inbound documents reach the supplier's ERP.

    ``poll`` pushes nothing: the ERP fetches and acknowledges through the API.
    """

    delivery: str = "poll"
    webhook_url: str | None = None
    webhook_secret_env: str | None = None
    webhook_timeout: float = 10.0
    folder: Path | None = None
    include_raw: bool = False
    max_attempts: int = 8

    def webhook_secret(self) -> bytes:
        """The HMAC key from the variable ``webhook_secret_env`` names; unset is an error."""
        value = os.environ.get(self.webhook_secret_env or "", "")
        if not value:
            raise ConfigError(
                f"the environment variable {self.webhook_secret_env} named by [erp] "
                "webhook_secret_env is not set or empty",
                key="erp.webhook_secret_env",
            )
        return value.encode("utf-8")


@attrs.frozen
class DispatchTable:
    """The ``[dispatch]`` table: how hard and how often outbound sends are tried.

    Durations are in seconds.
    """

    workers: int = 2
    batch: int = 1
    """Messages a worker claims at once and then sends one after the other."""
    poll_interval: float = 1.0
    max_attempts: int = 8
    backoff_base: float = 30.0
    backoff_cap: float = 3600.0
    lease: float = 300.0
    send_timeout: float = 300.0
    """How long one send of a channel may take before it counts as a failed attempt."""


@attrs.frozen
class ValidationTable:
    """The ``[validation]`` table: the worker processes that run the XSD and Schematron checks.

    Read at start; a change takes effect at the next start.
    """

    workers: int | None = None
    """Worker processes; None: one per core this process may use."""
    time_limit: float = 300.0
    """Seconds one task may run in a worker before the worker is ended as hung."""


@attrs.frozen
class GatewayConfig:
    """The whole configuration file, as loaded from ``path``."""

    path: Path
    gateway: GatewaySettings
    supplier: SupplierIdentity
    channels: Mapping[str, ChannelConfig] = attrs.field(factory=dict)
    agencies: Mapping[OIN, Agency] = attrs.field(factory=dict)
    erp: ErpSettings = attrs.field(factory=ErpSettings)
    dispatch: DispatchTable = attrs.field(factory=DispatchTable)
    api: ApiSettings = attrs.field(factory=ApiSettings)
    validation: ValidationTable = attrs.field(factory=ValidationTable)
    # Where each key sits in the file, so later checks can still point at a line.
    locator: KeyLocator | None = attrs.field(default=None, eq=False, repr=False)

    def agency(self, oin: OIN | str) -> Agency | None:
        """The agency with this OIN, or None. Raises InvalidIdentifier for a malformed OIN."""
        key = oin if isinstance(oin, OIN) else OIN(oin)
        return self.agencies.get(key)

    def error(self, message: str, path: tuple[PathPart, ...]) -> ConfigError:
        """A ConfigError about ``path`` in this file, with its line when known."""
        line = self.locator.line_of(path) if self.locator is not None else None
        return ConfigError(message, file=str(self.path), line=line, key=format_key_path(path))


__all__ = [
    "Address",
    "Agency",
    "ApiSettings",
    "ApiToken",
    "ChannelConfig",
    "Contact",
    "DispatchTable",
    "DocumentRoute",
    "ErpSettings",
    "GatewayConfig",
    "GatewaySettings",
    "SupplierIdentity",
    "ValidationTable",
]
