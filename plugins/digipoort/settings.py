"""The ``[channels.<name>]`` table of a digipoort channel, checked when the channel is built.

Every problem names the key, so an operator can fix the file without reading
code. Relative paths are resolved inside the gateway's data directory when
the channel starts (:meth:`DigipoortSettings.resolved`).

The identity types and roles on the envelope are not published for
DigiInkoop (domain.md 3.2). The defaults are our best reading: the supplier
as belanghebbende by its KvK number in the role ``Bedrijf``, the agency as
ontvanger by its OIN. Each is a setting, so a connection whose intake
advises other values needs no code change.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast

import attrs

from .wus.ns import ENVIRONMENTS
from .wus.security import Algorithm

# Our environment names -> the library's endpoint table ("conformance" is the Aansluit Suite).
ENVIRONMENT_ALIASES: Final = {
    "conformance": "cs-bedrijven",
    "preproductie": "preproductie",
    "productie": "productie",
    "preproductie-2026": "preproductie-2026",
    "productie-2026": "productie-2026",
}
SIMULATOR: Final = "simulator"
ENVIRONMENT_NAMES: Final = (SIMULATOR, *ENVIRONMENT_ALIASES)
# Where an aanleverkenmerk may pick a test scenario (domain.md 6).
REHEARSAL_ENVIRONMENTS: Final = (SIMULATOR, "conformance")
ALGORITHMS: Final = ("rsa-sha1", "rsa-sha256")
SUPPLIER_IDENTITIES: Final = ("kvk", "oin")
DEFAULT_AUTORISATIE_ADRES: Final = "http://geenausp.nl"

KNOWN_KEYS: Final = frozenset({
    "type", "enabled", "environment", "aanlever_url", "status_url", "ophaal_url",
    "certificate", "private_key", "private_key_passphrase_env", "server_ca",
    "signature_algorithm", "signature_ca", "signature_ids", "autorisatie_adres",
    "belanghebbende_identity",
    "belanghebbende_nummer",
    "belanghebbende_type", "belanghebbende_rol", "ontvanger_type", "ontvanger_rol",
    "status_poll_interval", "status_batch", "aflever_listen", "aflever_certificate",
    "aflever_private_key", "aflever_client_ca", "aflever_client_ids", "ophaal",
    "ophaal_poll_interval", "ophaal_berichtsoort", "request_timeout", "aanleverkenmerk_scenario",
    "status_deadline",
})
# After a 420, Digipoort tries to deliver for 72 hours before its last word (420 with
# AFS600, domain.md 3.4): a process may rightly say nothing for that long. A day more
# covers a StatusinformatieService away for a night, and still tells an operator within
# the working week.
DEFAULT_STATUS_DEADLINE: Final = 4 * 24 * 60 * 60.0


class SettingsError(ValueError):
    """A channel setting that is missing or wrong; the message names the key."""


@attrs.frozen
class DigipoortSettings:
    environment: str
    aanlever_url: str
    status_url: str
    ophaal_url: str | None
    certificate: Path
    private_key: Path
    private_key_passphrase: bytes | None
    server_ca: Path
    signature_algorithm: Algorithm = "rsa-sha1"
    signature_ca: Path | None = None
    # The subject serialNumbers (OIN) of the certificates that may sign Digipoort's
    # answers: signature_ca vouches for thousands of organisations. Empty: the
    # organisation of the TLS server certificate on the connection the answer came on.
    signature_ids: tuple[str, ...] = ()
    autorisatie_adres: str = DEFAULT_AUTORISATIE_ADRES
    belanghebbende_identity: str = "kvk"
    belanghebbende_nummer: str | None = None
    belanghebbende_type: str = "KvK"
    belanghebbende_rol: str = "Bedrijf"
    ontvanger_type: str = "OIN"
    ontvanger_rol: str | None = None
    status_poll_interval: float = 60.0
    status_batch: int = 200
    status_deadline: float = DEFAULT_STATUS_DEADLINE
    aflever_listen: tuple[str, int] | None = None
    aflever_certificate: Path | None = None
    aflever_private_key: Path | None = None
    aflever_client_ca: Path | None = None
    # The subject serialNumbers (OIN) of the certificates that may deliver: the CA
    # vouches for thousands of organisations, of which only Digipoort may.
    aflever_client_ids: tuple[str, ...] = ()
    ophaal: bool = False
    ophaal_poll_interval: float = 300.0
    ophaal_berichtsoort: str | None = None
    request_timeout: float = 60.0
    aanleverkenmerk_scenario: str | None = None

    def resolved(self, data_dir: str | None) -> DigipoortSettings:
        """The same settings with relative file names inside ``data_dir``."""
        if data_dir is None:
            return self
        base = Path(data_dir)

        def inside(path: Path | None) -> Path | None:
            return path if path is None or path.is_absolute() else base / path

        return attrs.evolve(
            self,
            certificate=base / self.certificate if not self.certificate.is_absolute()
            else self.certificate,
            private_key=base / self.private_key if not self.private_key.is_absolute()
            else self.private_key,
            server_ca=base / self.server_ca if not self.server_ca.is_absolute()
            else self.server_ca,
            signature_ca=inside(self.signature_ca),
            aflever_certificate=inside(self.aflever_certificate),
            aflever_private_key=inside(self.aflever_private_key),
            aflever_client_ca=inside(self.aflever_client_ca),
        )


def parse_settings(channel: str, raw: Mapping[str, Any]) -> DigipoortSettings:
    """Check and read the settings; raises :class:`SettingsError` naming the key."""
    where = f"channel {channel!r}"
    unknown = sorted(set(raw) - KNOWN_KEYS)
    if unknown:
        raise SettingsError(f"{where}: unknown setting(s) {', '.join(unknown)}; known: "
                            f"{', '.join(sorted(KNOWN_KEYS - {'type', 'enabled'}))}")

    def text(key: str, default: str | None = None) -> str | None:
        value = raw.get(key, default)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(f"{where}: {key} must be a non-empty string, not {value!r}")
        return value.strip()

    def required(key: str, why: str) -> str:
        value = text(key)
        if value is None:
            raise SettingsError(f"{where}: {key} is required ({why})")
        return value

    def number(key: str, default: float, minimum: float) -> float:
        value = raw.get(key, default)
        # TOML has nan and inf: nan passes every comparison, and neither is a time.
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value < minimum):
            raise SettingsError(f"{where}: {key} must be a number of at least {minimum}, "
                                f"not {value!r}")
        return float(value)

    def whole(key: str, default: int, minimum: int) -> int:
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise SettingsError(f"{where}: {key} must be a whole number of at least "
                                f"{minimum}, not {value!r}")
        return value

    def choice(key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = text(key, default)
        if value not in allowed:
            raise SettingsError(f"{where}: {key} must be one of {', '.join(allowed)}, "
                                f"not {value!r}")
        return value

    environment = choice("environment", SIMULATOR, ENVIRONMENT_NAMES)
    urls = _urls(where, environment, {k: text(k) for k in
                                      ("aanlever_url", "status_url", "ophaal_url")})
    passphrase = None
    passphrase_env = text("private_key_passphrase_env")
    if passphrase_env is not None:
        secret = os.environ.get(passphrase_env)
        if secret is None:
            raise SettingsError(f"{where}: private_key_passphrase_env names {passphrase_env}, "
                                "which is not set in the environment")
        passphrase = secret.encode()
    ontvanger_rol = text("ontvanger_rol")
    ophaal = raw.get("ophaal", False)
    if not isinstance(ophaal, bool):
        raise SettingsError(f"{where}: ophaal must be true or false, not {ophaal!r}")
    listen = _listen(where, text("aflever_listen"))
    client_ca = text("aflever_client_ca")
    if listen is not None and client_ca is None:
        raise SettingsError(f"{where}: aflever_client_ca is required with aflever_listen "
                            "(the CA bundle whose client certificates may deliver)")
    client_ids = raw.get("aflever_client_ids", [])
    if not isinstance(client_ids, list) or not all(
            isinstance(each, str) and each.strip() for each in client_ids):
        raise SettingsError(f"{where}: aflever_client_ids must be a list of certificate "
                            f"subject serialNumbers, not {client_ids!r}")
    if listen is not None and not client_ids:
        raise SettingsError(f"{where}: aflever_client_ids is required with aflever_listen "
                            "(the subject serialNumbers of Digipoort's client certificates: "
                            "aflever_client_ca also issues certificates to other organisations)")
    signature_ids = _signature_ids(where, raw.get("signature_ids"))
    if ophaal and urls["ophaal"] is None:
        raise SettingsError(f"{where}: ophaal = true needs ophaal_url (environment "
                            f"{environment!r} has no OphaalService address)")
    batch = whole("status_batch", 200, 1)
    scenario = text("aanleverkenmerk_scenario")
    if scenario is not None and environment not in REHEARSAL_ENVIRONMENTS:
        raise SettingsError(f"{where}: aanleverkenmerk_scenario is for rehearsals on the "
                            f"simulator or the Aansluit Suite, not for {environment!r}")
    return DigipoortSettings(
        environment=environment,
        aanlever_url=str(urls["aanlever"]),
        status_url=str(urls["status"]),
        ophaal_url=urls["ophaal"],
        certificate=Path(required("certificate", "the PKIoverheid certificate, PEM")),
        private_key=Path(required("private_key", "the certificate's private key, PEM")),
        private_key_passphrase=passphrase,
        server_ca=Path(required("server_ca", "the CA bundle that Digipoort's server "
                                             "certificate must chain to")),
        signature_algorithm=cast(Algorithm, choice("signature_algorithm", "rsa-sha1",
                                                   ALGORITHMS)),
        signature_ca=_path(text("signature_ca")),
        signature_ids=signature_ids,
        autorisatie_adres=_or(text("autorisatie_adres"),
                                           DEFAULT_AUTORISATIE_ADRES),
        belanghebbende_identity=choice("belanghebbende_identity", "kvk", SUPPLIER_IDENTITIES),
        belanghebbende_nummer=text("belanghebbende_nummer"),
        belanghebbende_type=_or(text("belanghebbende_type"), "KvK"),
        belanghebbende_rol=_or(text("belanghebbende_rol"), "Bedrijf"),
        ontvanger_type=_or(text("ontvanger_type"), "OIN"),
        ontvanger_rol=ontvanger_rol,
        status_poll_interval=number("status_poll_interval", 60.0, 0.01),
        status_batch=batch,
        status_deadline=number("status_deadline", DEFAULT_STATUS_DEADLINE, 1),
        aflever_listen=listen,
        aflever_certificate=_path(text("aflever_certificate")),
        aflever_private_key=_path(text("aflever_private_key")),
        aflever_client_ca=_path(client_ca),
        aflever_client_ids=tuple(each.strip() for each in client_ids),
        ophaal=ophaal,
        ophaal_poll_interval=number("ophaal_poll_interval", 300.0, 0.01),
        ophaal_berichtsoort=text("ophaal_berichtsoort"),
        request_timeout=number("request_timeout", 60.0, 0.01),
        aanleverkenmerk_scenario=scenario,
    )


def _signature_ids(where: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    what = "the subject serialNumbers (OIN) of the certificates Digipoort signs its answers with"
    if not isinstance(value, list):
        raise SettingsError(f"{where}: signature_ids must be a list of {what}, not {value!r}")
    if not value:
        raise SettingsError(f"{where}: signature_ids is empty: name {what}, or leave it out "
                            "to accept the organisation of Digipoort's TLS server certificate")
    for number, each in enumerate(value, 1):
        if not isinstance(each, str) or not each.strip():
            raise SettingsError(f"{where}: signature_ids entry {number} must be a subject "
                                f"serialNumber (a non-empty string), not {each!r}")
    return tuple(each.strip() for each in value)


def _or(value: str | None, default: str) -> str:
    return default if value is None else value


def _path(value: str | None) -> Path | None:
    return None if value is None else Path(value)


def _urls(where: str, environment: str, given: Mapping[str, str | None]) -> dict[str, str | None]:
    for key, value in given.items():
        if value is not None and not value.startswith("https://"):
            raise SettingsError(f"{where}: {key} must be an https:// address, not {value!r}")
    if environment == SIMULATOR:
        known: dict[str, str] = {}
    else:
        known = dict(ENVIRONMENTS[ENVIRONMENT_ALIASES[environment]])
    urls: dict[str, str | None] = {
        service: given[f"{service}_url"] or known.get(service)
        for service in ("aanlever", "status", "ophaal")
    }
    for service in ("aanlever", "status"):
        if urls[service] is None:
            raise SettingsError(
                f"{where}: {service}_url is required with environment {environment!r} "
                "(`gateway simulate digipoort` prints the simulator's addresses)")
    return urls


def _listen(where: str, value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
        raise SettingsError(f"{where}: aflever_listen must be host:port, not {value!r}")
    return host.strip("[]"), int(port)
