"""Read the TOML configuration file into a checked :class:`GatewayConfig`.

Every problem becomes a :class:`~gateway.errors.ConfigError` that names the
file, the line and the key, because the person reading it is an operator
with an editor open, not a developer with a debugger. Unknown keys are
errors, with the closest known key suggested, since a misspelt optional key
would otherwise be ignored without a word.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Collection, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, TypeVar

from gateway.channels import CHANNEL_NAME_RE
from gateway.config.locate import KeyLocator, PathPart, format_key_path
from gateway.config.model import (
    API_SCOPES,
    DEFAULT_MAX_REQUEST_BYTES,
    UNRECEIVED_ORDERS,
    UNRECEIVED_TIMECARDS,
    Address,
    Agency,
    ApiSettings,
    ApiToken,
    ChannelConfig,
    Contact,
    DispatchTable,
    DocumentRoute,
    ErpSettings,
    GatewayConfig,
    GatewaySettings,
    SupplierIdentity,
    Unreceived,
    ValidationTable,
)
from gateway.errors import ConfigError, redact_url
from gateway.formats import Format, FormatKey
from gateway.identifiers import (
    OIN,
    InvalidIdentifier,
    KvKNumber,
    PeppolParticipantId,
    VATNumber,
    Vestigingsnummer,
)
from gateway.kinds import DocumentKind
from gateway.paths import default_config_path, default_data_dir
from gateway.scheduling import DEFAULT_POLICY, POLICIES

DEFAULT_LISTEN = "127.0.0.1:8780"
DEFAULT_DATABASE_FILE = "gateway.db"
DEFAULT_AUDIT_FILE = "audit.jsonl"

TOP_LEVEL_KEYS = ("gateway", "supplier", "channels", "agencies", "erp", "dispatch", "api",
                  "validation")
GATEWAY_KEYS = (
    "listen", "public_url", "data_dir", "database", "token", "token_env", "audit_log",
    "standards_dir", "scheduling",
)
SUPPLIER_KEYS = (
    "name", "kvk", "vestigingsnummer", "vat", "oin", "peppol_id", "contact", "address",
)
CONTACT_KEYS = ("name", "role", "email", "telephone")
ADDRESS_KEYS = ("street", "building_number", "postal_code", "city", "country")
CHANNEL_CORE_KEYS = ("type", "enabled")
AGENCY_KEYS = (
    "name", "short_name", "peppol_id", "email", "contacts", "default_channel",
    "fallback_channel", "format_pins", "documents", "supplier_number", "unreceived_timecards",
    "unreceived_orders",
)
# Options a format reads from its route (EncodeContext.settings) because the canonical
# document does not carry them: the G-account of the nlcius-gaccount formats.
ROUTE_SETTING_KEYS = ("gaccount_iban", "gaccount_percentage")
DOCUMENT_KEYS = ("channel", "format", "fallback_channel", *ROUTE_SETTING_KEYS)
API_KEYS = ("max_request_bytes", "tokens")
API_TOKEN_KEYS = ("token", "token_env", "scopes")
# Below this not even a small order fits; above it one request could exhaust memory.
MIN_REQUEST_BYTES = 4 * 1024
MAX_REQUEST_BYTES = 512 * 1024 * 1024
ERP_KEYS = (
    "delivery", "webhook_url", "webhook_secret_env", "webhook_timeout", "folder", "include_raw",
    "max_attempts",
)
ERP_DELIVERIES = ("poll", "webhook", "folder")
MAX_BATCH = 100
"""At most this many messages per claim: a claim reads them whole, payloads included."""
DISPATCH_KEYS = (
    "workers", "batch", "poll_interval", "max_attempts", "backoff_base", "backoff_cap",
    "lease", "send_timeout",
)
VALIDATION_KEYS = ("workers", "time_limit")
MIN_TIME_LIMIT = 30.0
"""The shortest validation time limit: it counts a new worker's start (compiling every
stylesheet a route needs, seconds on a slow machine), and a limit that start can overrun
would end every new worker before its first document."""

# Channel instance names end up in log lines, URLs and CLI arguments.
_CHANNEL_NAME = CHANNEL_NAME_RE
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STANDARD = re.compile(r"^[a-z0-9][a-z0-9.\-]*$")
_VERSION = re.compile(r"^[0-9][0-9a-z.\-]*$")
_KEY_LINE = re.compile(r"""^([A-Za-z0-9_\-."' ]+?)\s*=""")
_TOML_ERROR_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")

_T = TypeVar("_T")


def load_config(path: Path | str | None = None) -> GatewayConfig:
    """Read and check the file at ``path`` (default: ``$GATEWAY_CONFIG``, else ./gateway.toml)."""
    file = Path(path).expanduser() if path is not None else default_config_path()
    file = file.absolute()
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "configuration file not found (set $GATEWAY_CONFIG or pass --config)", file=str(file)
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the configuration file: {exc.strerror}", file=str(file)
        ) from None
    try:
        # utf-8-sig: Windows editors (Notepad, PowerShell) start UTF-8 files with a byte order
        # mark, which tomllib would call an "Invalid statement" on a line that looks fine.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError("the file is not valid UTF-8", file=str(file), line=line) from None
    return parse_config(text, file)


def parse_config(text: str, path: Path | str) -> GatewayConfig:
    """Check ``text`` as if it were the file at ``path`` (relative paths resolve against it)."""
    file = Path(path).absolute()
    if text.startswith("\ufeff"):
        # load_config drops the mark; a caller that edits the text itself (switch_route) must
        # not be told it parsed, so say plainly what is in the way.
        raise ConfigError(
            "the file starts with a UTF-8 byte order mark; save it as UTF-8 without one",
            file=str(file), line=1,
        )
    if not text.strip():
        # Left by a failed save or a wrong redirect; "missing [supplier]" would send the
        # operator looking for a typo.
        raise ConfigError(
            "the file is empty: it needs at least a [supplier] table", file=str(file)
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(exc, text, file) from None
    return _Reader(text, file).read(data)


def check_against_registry(
    config: GatewayConfig, format_keys: Collection[str] | Mapping[str, Format],
    channel_types: Collection[str],
) -> list[ConfigError]:
    """Errors for routes whose format, or channels whose type, no installed plugin provides.

    Kept apart from loading because the registry depends on which plugins are
    installed, while the file's own consistency does not. Disabled channels
    are skipped: a channel is often disabled precisely because its plugin is
    not installed on this machine. Given the formats themselves (the registry's
    ``formats`` mapping) rather than only their keys, a route whose format sends
    another kind of document, or sends nothing, is an error too: intake would
    refuse every such document.
    """
    errors: list[ConfigError] = []
    for name, channel in config.channels.items():
        if channel.enabled and channel.type not in channel_types:
            errors.append(config.error(
                f"channel type {channel.type!r} of [channels.{name}] is not provided by any "
                f"installed plugin{_did_you_mean(channel.type, channel_types)}"
                f" (installed: {_listing(channel_types)})",
                ("channels", name, "type"),
            ))
    for oin, agency in config.agencies.items():
        for kind, route in agency.documents.items():
            at = ("agencies", str(oin), "documents", kind.value, "format")
            if route.format not in format_keys:
                errors.append(config.error(
                    f"format {route.format!r} is not provided by any installed plugin"
                    f"{_did_you_mean(route.format, format_keys)}",
                    at,
                ))
            elif isinstance(format_keys, Mapping):
                problem = _route_misfit(format_keys[route.format], kind, format_keys)
                if problem:
                    errors.append(config.error(problem, at))
    return errors


def _route_misfit(
    fmt: Format, kind: DocumentKind, formats: Mapping[str, Format]
) -> str | None:
    """Why ``fmt`` does not fit ``kind`` documents, with the formats that do; None if it fits.

    Only the kind is compared: a route may name what the agency sends us (an order
    in the format we read), as well as what we send it.
    """
    if fmt.serves(kind):
        return None
    fitting = sorted(key for key, other in formats.items() if other.serves(kind))
    return (f"format {fmt.key!r} is for {fmt.kind.value} documents, not {kind.value} "
            f"(formats for {kind.value}: {_listing(fitting)})")


def _did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listing(choices: Collection[str]) -> str:
    return ", ".join(sorted(choices)) or "none"


def _type_name(value: object) -> str:
    # bool before int: True is an int to Python but a boolean to TOML.
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, datetime | date | time):
        return "a date/time"
    return type(value).__name__


def _syntax_error(exc: tomllib.TOMLDecodeError, text: str, file: Path) -> ConfigError:
    message = str(exc)
    line: int | None = None
    match = _TOML_ERROR_POSITION.search(message)
    if match:
        line = int(match.group(1))
        message = f"{message[: match.start()]} (column {match.group(2)})"
    return ConfigError(
        f"invalid TOML: {message}", file=str(file), line=line, key=_key_on_line(text, line),
    )


def _key_on_line(text: str, line: int | None) -> str | None:
    """Best guess at the key a broken line defines, for syntax errors."""
    if line is None:
        return None
    lines = text.splitlines()
    if not 0 < line <= len(lines):
        return None
    own = lines[line - 1].strip()
    if own.startswith("["):
        return own.strip("[] ") or None
    match = _KEY_LINE.match(own)
    key = match.group(1) if match else ""
    table = ""
    for previous in reversed(lines[: line - 1]):
        if previous.strip().startswith("["):
            table = previous.strip().strip("[] ")
            break
    if table and key:
        return f"{table}.{key}"
    return key or table or None


class _Reader:
    """Turns the dict from tomllib into model objects, one table at a time."""

    def __init__(self, text: str, file: Path) -> None:
        self.file = file
        self.locator = KeyLocator(text)

    # -- errors ----------------------------------------------------------------

    def error(self, message: str, path: tuple[PathPart, ...]) -> ConfigError:
        return ConfigError(
            message, file=str(self.file), line=self.locator.line_of(path),
            key=format_key_path(path),
        )

    @staticmethod
    def where(path: tuple[PathPart, ...]) -> str:
        if not path:
            return "the top level"
        if all(isinstance(p, str) for p in path):
            return f"[{format_key_path(path)}]"
        return format_key_path(path)

    # -- generic checks ----------------------------------------------------------

    def table(self, value: object, path: tuple[PathPart, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(
                f"{format_key_path(path)} must be a table, not {_type_name(value)}", path
            )
        return value

    def known_keys(
        self, table: Mapping[str, Any], path: tuple[PathPart, ...], known: Collection[str]
    ) -> None:
        for key in table:
            if key not in known:
                raise self.error(
                    f"unknown key {key!r} in {self.where(path)}{_did_you_mean(key, known)}"
                    f" (known keys: {', '.join(known)})",
                    (*path, key),
                )

    def typed(
        self, table: Mapping[str, Any], path: tuple[PathPart, ...], key: str,
        expected: type[_T], description: str, *, required: bool = False,
    ) -> _T | None:
        if key not in table:
            if required:
                raise self.error(
                    f"missing required key {key!r} in {self.where(path)}", (*path, key)
                )
            return None
        value = table[key]
        # bool is a subclass of int; "enabled = 1" should not pass as a boolean or vice versa.
        wrong_bool = isinstance(value, bool) and expected is not bool
        if not isinstance(value, expected) or wrong_bool:
            raise self.error(
                f"{key} must be {description}, not {_type_name(value)}", (*path, key)
            )
        return value

    def string(
        self, table: Mapping[str, Any], path: tuple[PathPart, ...], key: str,
        *, required: bool = False,
    ) -> str | None:
        value = self.typed(table, path, key, str, "a string", required=required)
        if value is not None and not value.strip():
            raise self.error(f"{key} must not be empty", (*path, key))
        return value

    def required_string(
        self, table: Mapping[str, Any], path: tuple[PathPart, ...], key: str
    ) -> str:
        value = self.string(table, path, key, required=True)
        assert value is not None
        return value

    def identifier_text(
        self, table: Mapping[str, Any], path: tuple[PathPart, ...], key: str,
        *, required: bool = False,
    ) -> str | None:
        """Identifiers are text: an unquoted number would lose its leading zeros."""
        if key in table and isinstance(table[key], int) and not isinstance(table[key], bool):
            raise self.error(
                f"{key} must be a string, not an integer; quote it: {key} = \"{table[key]}\"",
                (*path, key),
            )
        return self.string(table, path, key, required=required)

    def identifier(
        self, factory: Callable[[str], _T], text: str, path: tuple[PathPart, ...], what: str
    ) -> _T:
        try:
            return factory(text)
        except InvalidIdentifier as exc:
            raise self.error(f"{text!r} is not a valid {what}: {exc.reason}", path) from None

    def file_path(self, text: str) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else (self.file.parent / path)

    def channel_ref(
        self, name: str | None, path: tuple[PathPart, ...], channels: Mapping[str, ChannelConfig]
    ) -> None:
        if name is not None and name not in channels:
            raise self.error(
                f"channel {name!r} is not defined in [channels]"
                f"{_did_you_mean(name, channels)} (defined: {_listing(channels)})",
                path,
            )

    # -- sections ------------------------------------------------------------------

    def read(self, data: dict[str, Any]) -> GatewayConfig:
        self.known_keys(data, (), TOP_LEVEL_KEYS)
        if "supplier" not in data:
            raise self.error("missing required table [supplier]", ("supplier",))
        gateway = self.gateway(self.table(data.get("gateway", {}), ("gateway",)))
        supplier = self.supplier(self.table(data["supplier"], ("supplier",)))
        channels = self.channels(self.table(data.get("channels", {}), ("channels",)))
        agencies = self.agencies(self.table(data.get("agencies", {}), ("agencies",)), channels)
        erp = self.erp(self.table(data.get("erp", {}), ("erp",)), gateway.data_dir)
        dispatch = self.dispatch(self.table(data.get("dispatch", {}), ("dispatch",)))
        api = self.api(self.table(data.get("api", {}), ("api",)))
        validation = self.validation(self.table(data.get("validation", {}), ("validation",)))
        return GatewayConfig(
            path=self.file, gateway=gateway, supplier=supplier, channels=channels,
            agencies=agencies, erp=erp, dispatch=dispatch, api=api, validation=validation,
            locator=self.locator,
        )

    def gateway(self, table: dict[str, Any]) -> GatewaySettings:
        path: tuple[PathPart, ...] = ("gateway",)
        self.known_keys(table, path, GATEWAY_KEYS)

        listen = self.string(table, path, "listen") or DEFAULT_LISTEN
        host, _, port = listen.rpartition(":")
        # Port 0 asks the system for a free port: tests and ad-hoc runs use it.
        if not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
            raise self.error(
                f"listen must be host:port, e.g. {DEFAULT_LISTEN!r}; got {listen!r}",
                (*path, "listen"),
            )

        public_url = self.string(table, path, "public_url")
        if public_url is not None and not public_url.startswith(("http://", "https://")):
            raise self.error(
                f"public_url must start with http:// or https://; got {public_url!r}",
                (*path, "public_url"),
            )

        data_dir_text = self.string(table, path, "data_dir")
        data_dir = self.file_path(data_dir_text) if data_dir_text else default_data_dir()

        database = self.database(table, path, data_dir)

        token = self.string(table, path, "token")
        token_env = self.string(table, path, "token_env")
        if token is not None and token_env is not None:
            raise self.error(
                "give either token or token_env, not both (token_env is preferred: it keeps "
                "the secret out of the file)",
                (*path, "token"),
            )
        if token_env is not None and not _ENV_NAME.match(token_env):
            raise self.error(
                f"token_env must be the name of an environment variable, got {token_env!r}",
                (*path, "token_env"),
            )

        audit_text = self.string(table, path, "audit_log")
        audit_log = self.file_path(audit_text) if audit_text else data_dir / DEFAULT_AUDIT_FILE
        standards_text = self.string(table, path, "standards_dir")
        standards_dir = self.file_path(standards_text) if standards_text else None
        scheduling = self.string(table, path, "scheduling") or DEFAULT_POLICY
        if scheduling not in POLICIES:
            raise self.error(
                f"scheduling must be one of {', '.join(POLICIES)}; got {scheduling!r}"
                f"{_did_you_mean(scheduling, POLICIES)}",
                (*path, "scheduling"),
            )

        return GatewaySettings(
            listen=listen, public_url=public_url, data_dir=data_dir, database=database,
            token=token, token_env=token_env, audit_log=audit_log, standards_dir=standards_dir,
            scheduling=scheduling,
        )

    def database(self, table: dict[str, Any], path: tuple[PathPart, ...], data_dir: Path) -> str:
        text = self.string(table, path, "database")
        if text is None:
            return f"sqlite:///{data_dir / DEFAULT_DATABASE_FILE}"
        if text.startswith("sqlite:///"):
            # As in SQLAlchemy: sqlite:///relative.db, sqlite:////absolute/path.db.
            file = text.removeprefix("sqlite:///")
            if not file:
                raise self.error("database sqlite:/// needs a file name", (*path, "database"))
            return f"sqlite:///{self.file_path(file)}"
        if text.startswith(("postgresql://", "postgresql+")):
            return text
        # The URL may hold the database password: never quoted whole in an error (which
        # reaches the log and /health).
        shown = redact_url(text)
        raise self.error(
            f"database must be sqlite:///<file> or postgresql://...; got {shown!r}",
            (*path, "database"),
        )

    def number(
        self, table: Mapping[str, Any], path: tuple[PathPart, ...], key: str, default: float,
        *, minimum: float = 0.0, maximum: float | None = None, integer: bool = False,
    ) -> float:
        """A number from ``minimum`` to ``maximum`` (seconds, counts); ``default`` when absent."""
        expected: tuple[type[Any], ...] = (int,) if integer else (int, float)
        what = "a whole number" if integer else "a number"
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, expected):
            raise self.error(f"{key} must be {what}, not {_type_name(value)}", (*path, key))
        # TOML allows nan and inf; nan passes every comparison below, and no count, pause or
        # timeout can be infinite.
        if not math.isfinite(value):
            raise self.error(f"{key} must be a finite number, got {value}", (*path, key))
        if value < minimum:
            raise self.error(f"{key} must be at least {minimum:g}, got {value}", (*path, key))
        if maximum is not None and value > maximum:
            raise self.error(f"{key} must be at most {maximum:g}, got {value}", (*path, key))
        return float(value)

    def erp(self, table: dict[str, Any], data_dir: Path) -> ErpSettings:
        path: tuple[PathPart, ...] = ("erp",)
        self.known_keys(table, path, ERP_KEYS)
        delivery = self.string(table, path, "delivery") or "poll"
        if delivery not in ERP_DELIVERIES:
            raise self.error(
                f"delivery must be one of {', '.join(ERP_DELIVERIES)}; got {delivery!r}"
                f"{_did_you_mean(delivery, ERP_DELIVERIES)}",
                (*path, "delivery"),
            )
        url = self.string(table, path, "webhook_url")
        if url is not None and not url.startswith(("http://", "https://")):
            raise self.error(
                f"webhook_url must start with http:// or https://; got {url!r}",
                (*path, "webhook_url"),
            )
        secret_env = self.string(table, path, "webhook_secret_env")
        if secret_env is not None and not _ENV_NAME.match(secret_env):
            raise self.error(
                "webhook_secret_env must be the name of an environment variable, got "
                f"{secret_env!r}",
                (*path, "webhook_secret_env"),
            )
        if delivery == "webhook":
            for key, value in (("webhook_url", url), ("webhook_secret_env", secret_env)):
                if value is None:
                    raise self.error(
                        f"missing required key {key!r} in [erp]: delivery = \"webhook\" needs "
                        "webhook_url and webhook_secret_env (every delivery is signed)",
                        (*path, key),
                    )
        folder_text = self.string(table, path, "folder")
        folder = None
        if folder_text is not None:
            # Relative folders are inside the data directory, as for channels.
            given = Path(folder_text).expanduser()
            folder = given if given.is_absolute() else data_dir / given
        if delivery == "folder" and folder is None:
            raise self.error(
                "missing required key 'folder' in [erp]: delivery = \"folder\" needs a folder",
                (*path, "folder"),
            )
        include_raw = self.typed(table, path, "include_raw", bool, "true or false")
        return ErpSettings(
            delivery=delivery, webhook_url=url, webhook_secret_env=secret_env,
            webhook_timeout=self.number(table, path, "webhook_timeout", 10.0, minimum=0.1),
            folder=folder, include_raw=bool(include_raw),
            max_attempts=int(self.number(table, path, "max_attempts", 8, minimum=1,
                                         integer=True)),
        )

    def dispatch(self, table: dict[str, Any]) -> DispatchTable:
        path: tuple[PathPart, ...] = ("dispatch",)
        self.known_keys(table, path, DISPATCH_KEYS)
        base = self.number(table, path, "backoff_base", 30.0, minimum=0.001)
        cap = self.number(table, path, "backoff_cap", 3600.0, minimum=0.001)
        if cap < base:
            raise self.error(
                f"backoff_cap ({cap:g} s) must not be below backoff_base ({base:g} s)",
                (*path, "backoff_cap"),
            )
        return DispatchTable(
            # None would start no sender and no ERP delivery at all, without a word: an instance
            # that only takes submissions is `gateway run --role intake`.
            workers=int(self.number(table, path, "workers", 2, minimum=1, integer=True)),
            batch=int(self.number(table, path, "batch", 1, minimum=1, maximum=MAX_BATCH,
                                  integer=True)),
            poll_interval=self.number(table, path, "poll_interval", 1.0, minimum=0.01),
            max_attempts=int(self.number(table, path, "max_attempts", 8, minimum=1,
                                         integer=True)),
            backoff_base=base, backoff_cap=cap,
            lease=self.number(table, path, "lease", 300.0, minimum=1.0),
            send_timeout=self.number(table, path, "send_timeout", 300.0, minimum=0.1),
        )

    def validation(self, table: dict[str, Any]) -> ValidationTable:
        path: tuple[PathPart, ...] = ("validation",)
        self.known_keys(table, path, VALIDATION_KEYS)
        workers = (None if "workers" not in table else
                   int(self.number(table, path, "workers", 1, minimum=1, integer=True)))
        return ValidationTable(
            workers=workers,
            time_limit=self.number(table, path, "time_limit", 300.0, minimum=MIN_TIME_LIMIT),
        )

    def contact(self, value: object, path: tuple[PathPart, ...]) -> Contact:
        table = self.table(value, path)
        self.known_keys(table, path, CONTACT_KEYS)
        email = self.string(table, path, "email")
        if email is not None and "@" not in email:
            raise self.error(f"email {email!r} is not an e-mail address", (*path, "email"))
        return Contact(
            name=self.required_string(table, path, "name"),
            role=self.string(table, path, "role"),
            email=email,
            telephone=self.string(table, path, "telephone"),
        )

    def address(self, value: object, path: tuple[PathPart, ...]) -> Address:
        table = self.table(value, path)
        self.known_keys(table, path, ADDRESS_KEYS)
        country = self.string(table, path, "country") or "NL"
        if len(country) != 2 or not country.isalpha() or not country.isupper():
            raise self.error(
                f"country must be a two-letter ISO 3166 code such as 'NL'; got {country!r}",
                (*path, "country"),
            )
        return Address(
            street=self.required_string(table, path, "street"),
            building_number=self.identifier_text(table, path, "building_number"),
            postal_code=self.required_string(table, path, "postal_code"),
            city=self.required_string(table, path, "city"),
            country=country,
        )

    def supplier(self, table: dict[str, Any]) -> SupplierIdentity:
        path: tuple[PathPart, ...] = ("supplier",)
        self.known_keys(table, path, SUPPLIER_KEYS)
        name = self.required_string(table, path, "name")

        kvk_text = self.identifier_text(table, path, "kvk", required=True)
        assert kvk_text is not None
        kvk = self.identifier(KvKNumber, kvk_text, (*path, "kvk"), "KvK number")

        vestiging_text = self.identifier_text(table, path, "vestigingsnummer", required=True)
        assert vestiging_text is not None
        vestigingsnummer = self.identifier(
            Vestigingsnummer, vestiging_text, (*path, "vestigingsnummer"), "vestigingsnummer"
        )

        vat_text = self.identifier_text(table, path, "vat")
        vat = None if vat_text is None else self.identifier(
            VATNumber, vat_text, (*path, "vat"), "VAT number"
        )

        derived = kvk.to_oin()
        oin_text = self.identifier_text(table, path, "oin")
        oin = derived
        if oin_text is not None:
            oin = self.identifier(OIN, oin_text, (*path, "oin"), "OIN")
            if oin != derived:
                raise self.error(
                    f"oin {oin} does not match the OIN derived from kvk {kvk} ({derived}); "
                    "fix one of them, or leave oin out to use the derived one",
                    (*path, "oin"),
                )

        peppol_text = self.string(table, path, "peppol_id") or f"0106:{kvk}"
        peppol_id = self.identifier(
            PeppolParticipantId.parse, peppol_text, (*path, "peppol_id"), "Peppol participant id"
        )

        contact = None
        if "contact" in table:
            contact = self.contact(table["contact"], (*path, "contact"))
        address = None
        if "address" in table:
            address = self.address(table["address"], (*path, "address"))

        return SupplierIdentity(
            name=name, kvk=kvk, vestigingsnummer=vestigingsnummer, oin=oin,
            peppol_id=peppol_id, vat=vat, contact=contact, address=address,
        )

    def channels(self, table: dict[str, Any]) -> dict[str, ChannelConfig]:
        channels: dict[str, ChannelConfig] = {}
        for name, raw in table.items():
            path: tuple[PathPart, ...] = ("channels", name)
            if not _CHANNEL_NAME.fullmatch(name):
                raise self.error(
                    f"channel name {name!r} must be lower case letters, digits, '-' or '_'",
                    path,
                )
            settings = self.table(raw, path)
            channel_type = self.string(settings, path, "type") or name
            if not _CHANNEL_NAME.fullmatch(channel_type):
                raise self.error(
                    f"type {channel_type!r} must be a lower-case channel type name",
                    (*path, "type"),
                )
            enabled = self.typed(settings, path, "enabled", bool, "true or false")
            channels[name] = ChannelConfig(
                name=name,
                type=channel_type,
                enabled=True if enabled is None else enabled,
                settings={k: v for k, v in settings.items() if k not in CHANNEL_CORE_KEYS},
            )
        return channels

    def agencies(
        self, table: dict[str, Any], channels: Mapping[str, ChannelConfig]
    ) -> dict[OIN, Agency]:
        agencies: dict[OIN, Agency] = {}
        for key, raw in table.items():
            path: tuple[PathPart, ...] = ("agencies", key)
            oin = self.identifier(OIN, key, path, "OIN (agencies are keyed by OIN)")
            if oin in agencies:
                raise self.error(f"agency {oin} is defined twice", path)
            # Later checks (registry, routing) name the agency by its normalised OIN.
            self.locator.alias(path, ("agencies", str(oin)))
            agencies[oin] = self.agency(oin, self.table(raw, path), path, channels)
        return agencies

    def agency(
        self, oin: OIN, table: dict[str, Any], path: tuple[PathPart, ...],
        channels: Mapping[str, ChannelConfig],
    ) -> Agency:
        self.known_keys(table, path, AGENCY_KEYS)
        name = self.required_string(table, path, "name")

        peppol_text = self.string(table, path, "peppol_id") or f"0190:{oin}"
        peppol_id = self.identifier(
            PeppolParticipantId.parse, peppol_text, (*path, "peppol_id"), "Peppol participant id"
        )

        email = self.string(table, path, "email")
        if email is not None and "@" not in email:
            raise self.error(f"email {email!r} is not an e-mail address", (*path, "email"))

        contacts_raw = self.typed(
            table, path, "contacts", list, "an array of tables like { name = \"...\" }"
        ) or []
        contacts = tuple(
            self.contact(item, (*path, "contacts", i)) for i, item in enumerate(contacts_raw)
        )

        default_channel = self.string(table, path, "default_channel")
        self.channel_ref(default_channel, (*path, "default_channel"), channels)
        fallback_channel = self.string(table, path, "fallback_channel")
        self.channel_ref(fallback_channel, (*path, "fallback_channel"), channels)

        pins = self.format_pins(table, path)

        documents_table = self.typed(table, path, "documents", dict, "a table") or {}
        documents: dict[DocumentKind, DocumentRoute] = {}
        for kind_key, raw in documents_table.items():
            doc_path = (*path, "documents", kind_key)
            kind = self.kind(kind_key, doc_path)
            documents[kind] = self.document(
                kind, self.table(raw, doc_path), doc_path, default_channel, fallback_channel,
                pins, channels,
            )

        return Agency(
            oin=oin, name=name, peppol_id=peppol_id,
            short_name=self.string(table, path, "short_name"), email=email,
            contacts=contacts, default_channel=default_channel,
            fallback_channel=fallback_channel, format_pins=pins, documents=documents,
            supplier_number=self.string(table, path, "supplier_number"),
            # The model's defaults: an unset key and an absent one mean the same.
            unreceived_timecards=self.unreceived(table, path, "unreceived_timecards",
                                                 UNRECEIVED_TIMECARDS),
            unreceived_orders=self.unreceived(table, path, "unreceived_orders",
                                              UNRECEIVED_ORDERS),
        )

    def unreceived(
        self, table: dict[str, Any], path: tuple[PathPart, ...], key: str, default: Unreceived,
    ) -> Unreceived:
        text = self.string(table, path, key)
        if text is None:
            return default
        choices = [choice.value for choice in Unreceived]
        if text not in choices:
            raise self.error(
                f"{key} must be one of {', '.join(choices)}; got {text!r}"
                f"{_did_you_mean(text, choices)}", (*path, key))
        return Unreceived(text)

    def format_pins(self, table: dict[str, Any], path: tuple[PathPart, ...]) -> dict[str, str]:
        raw = self.typed(
            table, path, "format_pins", dict, "a table of standard = \"version\""
        ) or {}
        pins_path = (*path, "format_pins")
        pins: dict[str, str] = {}
        for standard, version in raw.items():
            if not _STANDARD.match(standard):
                raise self.error(
                    f"{standard!r} is not a standard name (lower case, e.g. 'ubl-ohnl')",
                    (*pins_path, standard),
                )
            if not isinstance(version, str) or not _VERSION.match(version):
                raise self.error(
                    f"the pinned version of {standard} must be a version string such as "
                    f"\"1.9\", not {version!r}",
                    (*pins_path, standard),
                )
            pins[standard] = version
        return pins

    def kind(self, text: str, path: tuple[PathPart, ...]) -> DocumentKind:
        known = [k.value for k in DocumentKind]
        if text not in known:
            raise self.error(
                f"unknown document kind {text!r}{_did_you_mean(text, known)}"
                f" (known kinds: {', '.join(known)})",
                path,
            )
        return DocumentKind(text)

    def document(
        self, kind: DocumentKind, table: dict[str, Any], path: tuple[PathPart, ...],
        default_channel: str | None, default_fallback: str | None,
        pins: Mapping[str, str], channels: Mapping[str, ChannelConfig],
    ) -> DocumentRoute:
        self.known_keys(table, path, DOCUMENT_KEYS)

        format_text = self.required_string(table, path, "format")
        try:
            format_key = FormatKey.parse(format_text)
        except ValueError as exc:
            raise self.error(str(exc), (*path, "format")) from None
        pinned = pins.get(format_key.standard)
        if pinned is not None and pinned != format_key.version:
            raise self.error(
                f"format {format_text!r} has version {format_key.version}, but this agency pins "
                f"{format_key.standard} to {pinned} in format_pins; change the pin too if the "
                "agency has moved to the new version",
                (*path, "format"),
            )

        channel = self.string(table, path, "channel")
        if channel is None and default_channel is None:
            raise self.error(
                f"missing required key 'channel' in {self.where(path)} (the agency has no "
                "default_channel to fall back on)",
                (*path, "channel"),
            )
        self.channel_ref(channel, (*path, "channel"), channels)

        fallback = self.string(table, path, "fallback_channel")
        self.channel_ref(fallback, (*path, "fallback_channel"), channels)

        settings: dict[str, str | int | float] = {}
        for key in ROUTE_SETTING_KEYS:
            if key not in table:
                continue
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise self.error(f"{key} must be a string or a number", (*path, key))
            settings[key] = value

        return DocumentRoute(
            kind=kind,
            channel=channel if channel is not None else str(default_channel),
            format=format_text,
            fallback_channel=fallback if fallback is not None else default_fallback,
            channel_is_default=channel is None,
            fallback_is_default=fallback is None and default_fallback is not None,
            settings=settings,
        )

    def api(self, table: dict[str, Any]) -> ApiSettings:
        path: tuple[PathPart, ...] = ("api",)
        self.known_keys(table, path, API_KEYS)
        limit = self.typed(table, path, "max_request_bytes", int, "a whole number of bytes")
        if limit is not None and not MIN_REQUEST_BYTES <= limit <= MAX_REQUEST_BYTES:
            raise self.error(
                f"max_request_bytes must be between {MIN_REQUEST_BYTES} and "
                f"{MAX_REQUEST_BYTES}; got {limit}",
                (*path, "max_request_bytes"),
            )
        tokens_table = self.typed(table, path, "tokens", dict, "a table of named tokens") or {}
        tokens = {
            name: self.api_token(name, self.table(raw, (*path, "tokens", name)))
            for name, raw in tokens_table.items()
        }
        return ApiSettings(
            max_request_bytes=DEFAULT_MAX_REQUEST_BYTES if limit is None else limit,
            tokens=tokens,
        )

    def api_token(self, name: str, table: dict[str, Any]) -> ApiToken:
        path: tuple[PathPart, ...] = ("api", "tokens", name)
        if not _CHANNEL_NAME.fullmatch(name):
            raise self.error(
                f"token name {name!r} must be lower case letters, digits, '-' or '_'", path
            )
        self.known_keys(table, path, API_TOKEN_KEYS)
        token = self.string(table, path, "token")
        token_env = self.string(table, path, "token_env")
        if (token is None) == (token_env is None):
            raise self.error(
                "give exactly one of token or token_env (token_env is preferred: it keeps "
                "the secret out of the file)",
                (*path, "token_env"),
            )
        if token_env is not None and not _ENV_NAME.match(token_env):
            raise self.error(
                f"token_env must be the name of an environment variable, got {token_env!r}",
                (*path, "token_env"),
            )
        scopes = self.typed(table, path, "scopes", list, 'an array such as ["submit", "read"]',
                            required=True) or []
        if not scopes:
            raise self.error(
                f"scopes must name at least one of {', '.join(API_SCOPES)}", (*path, "scopes")
            )
        for index, scope in enumerate(scopes):
            if not isinstance(scope, str) or scope not in API_SCOPES:
                hint = _did_you_mean(scope, API_SCOPES) if isinstance(scope, str) else ""
                raise self.error(
                    f"unknown scope {scope!r}{hint} (known scopes: {', '.join(API_SCOPES)})",
                    (*path, "scopes", index),
                )
        return ApiToken(name=name, scopes=frozenset(scopes), token=token, token_env=token_env)
