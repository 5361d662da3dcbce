"""The koppelvlak 1.2 bodies as typed values, validated against the Logius XSD.

Each class has ``to_element()`` (build the body element, children in the XSD's
sequence order, then validate it) and ``from_element()`` (validate, then read).
``parse_body`` picks the class from the element name. The XSD is the installed
``digipoort-wus/digipoort-koppelvlak-1.2.xsd`` under
``gateway.paths.standards_dir()``, compiled once per path. A body that does not
match raises ``KoppelvlakError`` naming the element and the XSD's complaint; an
XSD that is not installed raises ``KoppelvlakXsdMissing``, a ``StandardsError`` too.

``inhoud`` is carried as ``bytes`` here and base64 on the wire. Timestamps are
timezone-aware ``datetime`` values.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Final, Protocol, TypeVar

import attrs
from lxml import etree

from gateway.errors import StandardsError
from gateway.paths import standards_dir

from .ns import KV

XSD_RELATIVE: Final = Path("digipoort-wus") / "digipoort-koppelvlak-1.2.xsd"

_schemas: dict[Path, etree.XMLSchema] = {}
_schema_lock = threading.Lock()
# The configured folders of the running channels, latest last: one process, one set.
_standards_dirs: list[Path] = []


class KoppelvlakError(ValueError):
    """A body that does not match the koppelvlak XSD; the message names the element."""


class KoppelvlakXsdMissing(KoppelvlakError, StandardsError):
    """The koppelvlak XSD is not installed.

    A StandardsError, so a caller that asks about the installation (the
    contract kit, a channel's start) sees it as one; and still a
    KoppelvlakError, so a server that checks bodies answers its caller with a
    fault naming the missing file and the install command, not a bare 500.
    """


def use_standards_dir(folder: Path) -> None:
    """Find the XSD in ``folder``, the configured one, until :func:`release_standards_dir`.

    One folder per process: the bodies validate themselves wherever they are
    built, with no channel at hand to ask.
    """
    _standards_dirs.append(folder)


def release_standards_dir(folder: Path) -> None:
    """A channel that used ``folder`` stopped; the others keep theirs."""
    if folder in _standards_dirs:
        _standards_dirs.remove(folder)


def xsd_path() -> Path:
    return (_standards_dirs[-1] if _standards_dirs else standards_dir()) / XSD_RELATIVE


def schema(path: Path | None = None) -> etree.XMLSchema:
    """The compiled koppelvlak XSD (compiled once per file)."""
    target = (path or xsd_path()).resolve()
    with _schema_lock:
        found = _schemas.get(target)
        if found is None:
            if not target.is_file():
                raise KoppelvlakXsdMissing(
                    f"koppelvlak XSD not found at {target}; run "
                    "`gateway standards install --from DIR` (or --only digipoort-wus-1.2)"
                )
            found = etree.XMLSchema(etree.parse(str(target)))
            _schemas[target] = found
        return found


def validate(element: etree._Element) -> None:
    """Raise ``KoppelvlakError`` unless ``element`` is a valid koppelvlak body."""
    checker = schema()
    if checker.validate(element):
        return
    error = checker.error_log[0] if checker.error_log else None
    name = etree.QName(element).localname
    detail = error.message if error is not None else "invalid"
    path = f" at {error.path}" if error is not None and error.path else ""
    raise KoppelvlakError(f"{name}: {detail}{path}")


def q(name: str) -> str:
    return f"{{{KV}}}{name}"


# --- building -----------------------------------------------------------------


def _root(name: str) -> etree._Element:
    return etree.Element(q(name), nsmap={"kv": KV})


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    child = etree.SubElement(parent, q(name))
    if text is not None:
        child.text = text
    return child


def _opt(parent: etree._Element, name: str, value: str | None) -> None:
    if value is not None:
        _sub(parent, name, value)


def _time(value: datetime) -> str:
    if value.tzinfo is None:
        raise KoppelvlakError(f"timestamp {value!r} has no timezone")
    return value.isoformat()


def _opt_time(parent: etree._Element, name: str, value: datetime | None) -> None:
    if value is not None:
        _sub(parent, name, _time(value))


# --- reading ------------------------------------------------------------------


class _Reader:
    """Walks the children of a validated element in sequence order."""

    def __init__(self, element: etree._Element) -> None:
        self.parent = etree.QName(element).localname
        self.children = [c for c in element if isinstance(c.tag, str)]
        self.index = 0

    def opt(self, name: str) -> etree._Element | None:
        if self.index < len(self.children) and self.children[self.index].tag == q(name):
            self.index += 1
            return self.children[self.index - 1]
        return None

    def req(self, name: str) -> etree._Element:
        found = self.opt(name)
        if found is None:
            raise KoppelvlakError(f"{self.parent}: missing {name}")
        return found

    def text(self, name: str) -> str:
        return (self.req(name).text or "").strip()

    def opt_text(self, name: str) -> str | None:
        found = self.opt(name)
        return None if found is None else (found.text or "").strip()

    def time(self, name: str) -> datetime:
        return _parse_time(self.parent, name, self.text(name))

    def opt_time(self, name: str) -> datetime | None:
        raw = self.opt_text(name)
        return None if raw is None else _parse_time(self.parent, name, raw)

    def many(self, name: str) -> list[etree._Element]:
        found: list[etree._Element] = []
        while (child := self.opt(name)) is not None:
            found.append(child)
        return found


def _parse_time(parent: str, name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise KoppelvlakError(f"{parent}/{name}: not a dateTime: {raw!r}") from exc
    # xsd:dateTime may omit the zone; Digipoort's are UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- shared types -------------------------------------------------------------


class _Part(Protocol):
    """A koppelvlak type that writes itself as a child element."""

    def add_to(self, parent: etree._Element, name: str) -> None: ...


_P = TypeVar("_P")


def _opt_part(parent: etree._Element, name: str, value: _Part | None) -> None:
    if value is not None:
        value.add_to(parent, name)


def _read_opt_part(reader: _Reader, name: str, read: Callable[[etree._Element], _P]) -> _P | None:
    found = reader.opt(name)
    return None if found is None else read(found)


@attrs.frozen
class Identiteit:
    nummer: str
    type: str

    def add_to(self, parent: etree._Element, name: str) -> None:
        element = _sub(parent, name)
        _sub(element, "nummer", self.nummer)
        _sub(element, "type", self.type)

    @classmethod
    def read(cls, element: etree._Element) -> Identiteit:
        reader = _Reader(element)
        return cls(reader.text("nummer"), reader.text("type"))


@attrs.frozen
class BerichtInhoud:
    mime_type: str
    bestandsnaam: str
    inhoud: bytes = attrs.field(repr=lambda v: f"<{len(v)} bytes>")

    def add_to(self, parent: etree._Element, name: str) -> None:
        element = _sub(parent, name)
        _sub(element, "mimeType", self.mime_type)
        _sub(element, "bestandsnaam", self.bestandsnaam)
        _sub(element, "inhoud", base64.b64encode(self.inhoud).decode("ascii"))

    @classmethod
    def read(cls, element: etree._Element) -> BerichtInhoud:
        reader = _Reader(element)
        mime_type = reader.text("mimeType")
        bestandsnaam = reader.text("bestandsnaam")
        raw = "".join(reader.text("inhoud").split())
        try:
            inhoud = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KoppelvlakError(f"{reader.parent}/inhoud: not base64: {exc}") from exc
        return cls(mime_type, bestandsnaam, inhoud)


def _add_bijlagen(parent: etree._Element, bijlagen: tuple[BerichtInhoud, ...]) -> None:
    if bijlagen:
        element = _sub(parent, "berichtBijlagen")
        for bijlage in bijlagen:
            bijlage.add_to(element, "bijlage")


def _read_bijlagen(reader: _Reader) -> tuple[BerichtInhoud, ...]:
    found = reader.opt("berichtBijlagen")
    if found is None:
        return ()
    return tuple(BerichtInhoud.read(b) for b in _Reader(found).many("bijlage"))


@attrs.frozen
class Fout:
    """foutType: a code and its description (statusFoutcode, and the fault bodies)."""

    foutcode: str
    foutbeschrijving: str

    def add_to(self, parent: etree._Element, name: str) -> None:
        element = _sub(parent, name)
        _sub(element, "foutcode", self.foutcode)
        _sub(element, "foutbeschrijving", self.foutbeschrijving)

    @classmethod
    def read(cls, element: etree._Element) -> Fout:
        reader = _Reader(element)
        return cls(reader.text("foutcode"), reader.text("foutbeschrijving"))


@attrs.frozen
class Constatering:
    code: str
    beschrijving: str


def _nonempty(
    _instance: object, attribute: attrs.Attribute[str], value: str
) -> None:
    if not value or not value.strip():
        raise KoppelvlakError(f"{attribute.name} must not be empty")


# --- aanleveren ---------------------------------------------------------------


@attrs.frozen
class AanleverRequest:
    ELEMENT: ClassVar[str] = "aanleverRequest"

    berichtsoort: str = attrs.field(validator=_nonempty)
    identiteit_belanghebbende: Identiteit
    rol_belanghebbende: str
    bericht_inhoud: BerichtInhoud
    kenmerk: str | None = None
    aanleverkenmerk: str | None = None
    eerder_aanleverkenmerk: str | None = None
    identiteit_ontvanger: Identiteit | None = None
    rol_ontvanger: str | None = None
    bijlagen: tuple[BerichtInhoud, ...] = ()
    autorisatie_adres: str | None = None

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        _opt(root, "kenmerk", self.kenmerk)
        _sub(root, "berichtsoort", self.berichtsoort)
        _opt(root, "aanleverkenmerk", self.aanleverkenmerk)
        _opt(root, "eerderAanleverkenmerk", self.eerder_aanleverkenmerk)
        self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _sub(root, "rolBelanghebbende", self.rol_belanghebbende)
        _opt_part(root, "identiteitOntvanger", self.identiteit_ontvanger)
        _opt(root, "rolOntvanger", self.rol_ontvanger)
        self.bericht_inhoud.add_to(root, "berichtInhoud")
        _add_bijlagen(root, self.bijlagen)
        _opt(root, "autorisatieAdres", self.autorisatie_adres)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> AanleverRequest:
        _expect(element, cls.ELEMENT)
        r = _Reader(element)
        kenmerk = r.opt_text("kenmerk")
        berichtsoort = r.text("berichtsoort")
        aanleverkenmerk = r.opt_text("aanleverkenmerk")
        eerder = r.opt_text("eerderAanleverkenmerk")
        belanghebbende = Identiteit.read(r.req("identiteitBelanghebbende"))
        rol = r.text("rolBelanghebbende")
        ontvanger = _read_opt_part(r, "identiteitOntvanger", Identiteit.read)
        rol_ontvanger = r.opt_text("rolOntvanger")
        inhoud = BerichtInhoud.read(r.req("berichtInhoud"))
        bijlagen = _read_bijlagen(r)
        return cls(
            berichtsoort=berichtsoort,
            identiteit_belanghebbende=belanghebbende,
            rol_belanghebbende=rol,
            bericht_inhoud=inhoud,
            kenmerk=kenmerk,
            aanleverkenmerk=aanleverkenmerk,
            eerder_aanleverkenmerk=eerder,
            identiteit_ontvanger=ontvanger,
            rol_ontvanger=rol_ontvanger,
            bijlagen=bijlagen,
            autorisatie_adres=r.opt_text("autorisatieAdres"),
        )


@attrs.frozen
class AanleverResponse:
    ELEMENT: ClassVar[str] = "aanleverResponse"

    kenmerk: str
    berichtsoort: str
    tijdstempel_aangeleverd: datetime
    identiteit_belanghebbende: Identiteit
    rol_belanghebbende: str
    aanleverkenmerk: str | None = None
    eerder_aanleverkenmerk: str | None = None
    identiteit_ontvanger: Identiteit | None = None
    rol_ontvanger: str | None = None
    autorisatie_adres: str | None = None
    statuscode: str | None = None
    tijdstempel_status: datetime | None = None
    statusomschrijving: str | None = None
    status_foutcode: Fout | None = None
    statusdetails: str | None = None

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        _sub(root, "kenmerk", self.kenmerk)
        _sub(root, "berichtsoort", self.berichtsoort)
        _opt(root, "aanleverkenmerk", self.aanleverkenmerk)
        _opt(root, "eerderAanleverkenmerk", self.eerder_aanleverkenmerk)
        _sub(root, "tijdstempelAangeleverd", _time(self.tijdstempel_aangeleverd))
        self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _sub(root, "rolBelanghebbende", self.rol_belanghebbende)
        _opt_part(root, "identiteitOntvanger", self.identiteit_ontvanger)
        _opt(root, "rolOntvanger", self.rol_ontvanger)
        _opt(root, "autorisatieAdres", self.autorisatie_adres)
        _opt(root, "statuscode", self.statuscode)
        _opt_time(root, "tijdstempelStatus", self.tijdstempel_status)
        _opt(root, "statusomschrijving", self.statusomschrijving)
        _opt_part(root, "statusFoutcode", self.status_foutcode)
        _opt(root, "statusdetails", self.statusdetails)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> AanleverResponse:
        _expect(element, cls.ELEMENT)
        r = _Reader(element)
        kenmerk = r.text("kenmerk")
        berichtsoort = r.text("berichtsoort")
        aanleverkenmerk = r.opt_text("aanleverkenmerk")
        eerder = r.opt_text("eerderAanleverkenmerk")
        aangeleverd = r.time("tijdstempelAangeleverd")
        belanghebbende = Identiteit.read(r.req("identiteitBelanghebbende"))
        rol = r.text("rolBelanghebbende")
        return cls(
            kenmerk=kenmerk,
            berichtsoort=berichtsoort,
            tijdstempel_aangeleverd=aangeleverd,
            identiteit_belanghebbende=belanghebbende,
            rol_belanghebbende=rol,
            aanleverkenmerk=aanleverkenmerk,
            eerder_aanleverkenmerk=eerder,
            identiteit_ontvanger=_read_opt_part(r, "identiteitOntvanger", Identiteit.read),
            rol_ontvanger=r.opt_text("rolOntvanger"),
            autorisatie_adres=r.opt_text("autorisatieAdres"),
            statuscode=r.opt_text("statuscode"),
            tijdstempel_status=r.opt_time("tijdstempelStatus"),
            statusomschrijving=r.opt_text("statusomschrijving"),
            status_foutcode=_read_opt_part(r, "statusFoutcode", Fout.read),
            statusdetails=r.opt_text("statusdetails"),
        )


# --- afleveren (and the OphaalService's BerichtResultaat, same fields) --------


@attrs.frozen
class AfleverRequest:
    """afleverRequest; also the OphaalService's ``BerichtResultaat`` (same sequence)."""

    ELEMENT: ClassVar[str] = "afleverRequest"

    kenmerk: str
    berichtsoort: str
    berichtkenmerk: str
    tijdstempel_aangeleverd: datetime
    identiteit_belanghebbende: Identiteit
    rol_belanghebbende: str
    bericht_inhoud: BerichtInhoud
    aanleverkenmerk: str | None = None
    eerder_aanleverkenmerk: str | None = None  # BerichtResultaat only
    identiteit_aanleveraar: str | None = None
    identiteit_ontvanger: Identiteit | None = None
    rol_ontvanger: str | None = None
    bijlagen: tuple[BerichtInhoud, ...] = ()
    constateringen: tuple[Constatering, ...] = ()
    additionele_elementen: tuple[tuple[str, str], ...] = ()

    def to_element(self) -> etree._Element:
        if self.eerder_aanleverkenmerk is not None:
            raise KoppelvlakError("afleverRequest has no eerderAanleverkenmerk")
        root = _root(self.ELEMENT)
        self.fill(root, with_eerder=False)
        validate(root)
        return root

    def fill(self, root: etree._Element, *, with_eerder: bool) -> None:
        _sub(root, "kenmerk", self.kenmerk)
        _sub(root, "berichtsoort", self.berichtsoort)
        _sub(root, "berichtkenmerk", self.berichtkenmerk)
        _opt(root, "aanleverkenmerk", self.aanleverkenmerk)
        if with_eerder:
            _opt(root, "eerderAanleverkenmerk", self.eerder_aanleverkenmerk)
        _sub(root, "tijdstempelAangeleverd", _time(self.tijdstempel_aangeleverd))
        self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _sub(root, "rolBelanghebbende", self.rol_belanghebbende)
        _opt(root, "identiteitAanleveraar", self.identiteit_aanleveraar)
        _opt_part(root, "identiteitOntvanger", self.identiteit_ontvanger)
        _opt(root, "rolOntvanger", self.rol_ontvanger)
        self.bericht_inhoud.add_to(root, "berichtInhoud")
        _add_bijlagen(root, self.bijlagen)
        if self.constateringen:
            lijst = _sub(root, "constateringenLijst")
            for item in self.constateringen:
                constatering = _sub(lijst, "constatering")
                _sub(constatering, "code", item.code)
                _sub(constatering, "beschrijving", item.beschrijving)
        if self.additionele_elementen:
            lijst = _sub(root, "additioneleElementenLijst")
            for naam, waarde in self.additionele_elementen:
                element = _sub(lijst, "element")
                _sub(element, "naam", naam)
                _sub(element, "waarde", waarde)

    @classmethod
    def from_element(cls, element: etree._Element) -> AfleverRequest:
        _expect(element, cls.ELEMENT)
        return cls.read(element)

    @classmethod
    def read(cls, element: etree._Element) -> AfleverRequest:
        r = _Reader(element)
        kenmerk = r.text("kenmerk")
        berichtsoort = r.text("berichtsoort")
        berichtkenmerk = r.text("berichtkenmerk")
        aanleverkenmerk = r.opt_text("aanleverkenmerk")
        eerder = r.opt_text("eerderAanleverkenmerk")
        aangeleverd = r.time("tijdstempelAangeleverd")
        belanghebbende = Identiteit.read(r.req("identiteitBelanghebbende"))
        rol = r.text("rolBelanghebbende")
        aanleveraar = r.opt_text("identiteitAanleveraar")
        ontvanger = _read_opt_part(r, "identiteitOntvanger", Identiteit.read)
        rol_ontvanger = r.opt_text("rolOntvanger")
        inhoud = BerichtInhoud.read(r.req("berichtInhoud"))
        bijlagen = _read_bijlagen(r)
        constateringen: tuple[Constatering, ...] = ()
        found = r.opt("constateringenLijst")
        if found is not None:
            items = []
            for c in _Reader(found).many("constatering"):
                cr = _Reader(c)
                items.append(Constatering(cr.text("code"), cr.text("beschrijving")))
            constateringen = tuple(items)
        extra: tuple[tuple[str, str], ...] = ()
        found = r.opt("additioneleElementenLijst")
        if found is not None:
            pairs = []
            for e in _Reader(found).many("element"):
                er = _Reader(e)
                pairs.append((er.text("naam"), er.text("waarde")))
            extra = tuple(pairs)
        return cls(
            kenmerk=kenmerk,
            berichtsoort=berichtsoort,
            berichtkenmerk=berichtkenmerk,
            tijdstempel_aangeleverd=aangeleverd,
            identiteit_belanghebbende=belanghebbende,
            rol_belanghebbende=rol,
            bericht_inhoud=inhoud,
            aanleverkenmerk=aanleverkenmerk,
            eerder_aanleverkenmerk=eerder,
            identiteit_aanleveraar=aanleveraar,
            identiteit_ontvanger=ontvanger,
            rol_ontvanger=rol_ontvanger,
            bijlagen=bijlagen,
            constateringen=constateringen,
            additionele_elementen=extra,
        )


@attrs.frozen
class AfleverResponse:
    ELEMENT: ClassVar[str] = "afleverResponse"

    kenmerk: str
    berichtkenmerk: str
    tijdstempel_afgeleverd: datetime
    berichtsoort: str | None = None
    statuscode: str | None = None
    tijdstempel_status: datetime | None = None
    statusomschrijving: str | None = None
    status_foutcode: Fout | None = None
    statusdetails: str | None = None

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        _sub(root, "kenmerk", self.kenmerk)
        _opt(root, "berichtsoort", self.berichtsoort)
        _sub(root, "berichtkenmerk", self.berichtkenmerk)
        _sub(root, "tijdstempelAfgeleverd", _time(self.tijdstempel_afgeleverd))
        _opt(root, "statuscode", self.statuscode)
        _opt_time(root, "tijdstempelStatus", self.tijdstempel_status)
        _opt(root, "statusomschrijving", self.statusomschrijving)
        _opt_part(root, "statusFoutcode", self.status_foutcode)
        _opt(root, "statusdetails", self.statusdetails)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> AfleverResponse:
        _expect(element, cls.ELEMENT)
        r = _Reader(element)
        kenmerk = r.text("kenmerk")
        berichtsoort = r.opt_text("berichtsoort")
        berichtkenmerk = r.text("berichtkenmerk")
        return cls(
            kenmerk=kenmerk,
            berichtkenmerk=berichtkenmerk,
            tijdstempel_afgeleverd=r.time("tijdstempelAfgeleverd"),
            berichtsoort=berichtsoort,
            statuscode=r.opt_text("statuscode"),
            tijdstempel_status=r.opt_time("tijdstempelStatus"),
            statusomschrijving=r.opt_text("statusomschrijving"),
            status_foutcode=_read_opt_part(r, "statusFoutcode", Fout.read),
            statusdetails=r.opt_text("statusdetails"),
        )


# --- statusinformatie ---------------------------------------------------------

STATUS_PROCES_OPERATIONS: Final = ("getStatussenProces", "getNieuweStatussenProces")


@attrs.frozen
class StatusRequest:
    """getStatussenProcesRequest, or with ``nieuw=True`` getNieuweStatussenProcesRequest."""

    kenmerk: str
    autorisatie_adres: str | None = None
    vanaf: datetime | None = None
    tot: datetime | None = None
    nieuw: bool = False

    @property
    def operation(self) -> str:
        return STATUS_PROCES_OPERATIONS[1 if self.nieuw else 0]

    def to_element(self) -> etree._Element:
        root = _root(f"{self.operation}Request")
        _sub(root, "kenmerk", self.kenmerk)
        _opt(root, "autorisatieAdres", self.autorisatie_adres)
        _opt_time(root, "tijdstempelVanaf", self.vanaf)
        _opt_time(root, "tijdstempelTot", self.tot)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> StatusRequest:
        name = _expect(element, *(f"{op}Request" for op in STATUS_PROCES_OPERATIONS))
        r = _Reader(element)
        return cls(
            kenmerk=r.text("kenmerk"),
            autorisatie_adres=r.opt_text("autorisatieAdres"),
            vanaf=r.opt_time("tijdstempelVanaf"),
            tot=r.opt_time("tijdstempelTot"),
            nieuw=name.startswith("getNieuwe"),
        )


@attrs.frozen
class NieuweStatussenRequest:
    ELEMENT: ClassVar[str] = "getNieuweStatussenRequest"

    berichtsoort: str
    identiteit_belanghebbende: Identiteit
    autorisatie_adres: str | None = None
    vanaf: datetime | None = None
    tot: datetime | None = None

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        _sub(root, "berichtsoort", self.berichtsoort)
        self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _opt(root, "autorisatieAdres", self.autorisatie_adres)
        _opt_time(root, "tijdstempelVanaf", self.vanaf)
        _opt_time(root, "tijdstempelTot", self.tot)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> NieuweStatussenRequest:
        _expect(element, cls.ELEMENT)
        r = _Reader(element)
        berichtsoort = r.text("berichtsoort")
        return cls(
            berichtsoort=berichtsoort,
            identiteit_belanghebbende=Identiteit.read(r.req("identiteitBelanghebbende")),
            autorisatie_adres=r.opt_text("autorisatieAdres"),
            vanaf=r.opt_time("tijdstempelVanaf"),
            tot=r.opt_time("tijdstempelTot"),
        )


@attrs.frozen
class ProcessenRequest:
    ELEMENT: ClassVar[str] = "getProcessenRequest"

    berichtsoort: str
    identiteit_belanghebbende: Identiteit
    autorisatie_adres: str | None = None

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        _sub(root, "berichtsoort", self.berichtsoort)
        self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _opt(root, "autorisatieAdres", self.autorisatie_adres)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> ProcessenRequest:
        _expect(element, cls.ELEMENT)
        r = _Reader(element)
        berichtsoort = r.text("berichtsoort")
        return cls(
            berichtsoort,
            Identiteit.read(r.req("identiteitBelanghebbende")),
            r.opt_text("autorisatieAdres"),
        )


@attrs.frozen
class BerichtsoortenRequest:
    ELEMENT: ClassVar[str] = "getBerichtsoortenRequest"

    identiteit_belanghebbende: Identiteit
    autorisatie_adres: str | None = None

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _opt(root, "autorisatieAdres", self.autorisatie_adres)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> BerichtsoortenRequest:
        _expect(element, cls.ELEMENT)
        r = _Reader(element)
        identiteit = Identiteit.read(r.req("identiteitBelanghebbende"))
        return cls(identiteit, r.opt_text("autorisatieAdres"))


@attrs.frozen
class StatusResultaat:
    kenmerk: str
    identiteit_belanghebbende: Identiteit
    statuscode: str
    tijdstempel_status: datetime
    statusomschrijving: str
    status_foutcode: Fout | None = None
    statusdetails: str | None = None

    def add_to(self, parent: etree._Element) -> None:
        root = _sub(parent, "StatusResultaat")
        _sub(root, "kenmerk", self.kenmerk)
        self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _sub(root, "statuscode", self.statuscode)
        _sub(root, "tijdstempelStatus", _time(self.tijdstempel_status))
        _sub(root, "statusomschrijving", self.statusomschrijving)
        _opt_part(root, "statusFoutcode", self.status_foutcode)
        _opt(root, "statusdetails", self.statusdetails)

    @classmethod
    def read(cls, element: etree._Element) -> StatusResultaat:
        r = _Reader(element)
        kenmerk = r.text("kenmerk")
        belanghebbende = Identiteit.read(r.req("identiteitBelanghebbende"))
        statuscode = r.text("statuscode")
        tijdstempel = r.time("tijdstempelStatus")
        return cls(
            kenmerk=kenmerk,
            identiteit_belanghebbende=belanghebbende,
            statuscode=statuscode,
            tijdstempel_status=tijdstempel,
            statusomschrijving=r.text("statusomschrijving"),
            status_foutcode=_read_opt_part(r, "statusFoutcode", Fout.read),
            statusdetails=r.opt_text("statusdetails"),
        )


STATUS_RESULT_OPERATIONS: Final = (
    "getStatussenProces",
    "getNieuweStatussenProces",
    "getNieuweStatussen",
)


@attrs.frozen
class StatusResponse:
    """The response of getStatussenProces, getNieuweStatussenProces or getNieuweStatussen."""

    operation: str
    resultaten: tuple[StatusResultaat, ...]

    def to_element(self) -> etree._Element:
        if self.operation not in STATUS_RESULT_OPERATIONS:
            raise KoppelvlakError(f"{self.operation} does not return StatusResultaat")
        root = _root(f"{self.operation}Response")
        wrapper = _sub(root, f"{self.operation}Return")
        for resultaat in self.resultaten:
            resultaat.add_to(wrapper)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> StatusResponse:
        name = _expect(element, *(f"{op}Response" for op in STATUS_RESULT_OPERATIONS))
        operation = name.removesuffix("Response")
        wrapper = _Reader(element).req(f"{operation}Return")
        items = _Reader(wrapper).many("StatusResultaat")
        return cls(operation, tuple(StatusResultaat.read(i) for i in items))


@attrs.frozen
class ProcesResultaat:
    kenmerk: str
    berichtsoort: str
    identiteit_belanghebbende: Identiteit
    identiteit_ontvanger: Identiteit | None = None


@attrs.frozen
class ProcessenResponse:
    ELEMENT: ClassVar[str] = "getProcessenResponse"

    resultaten: tuple[ProcesResultaat, ...]

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        wrapper = _sub(root, "getProcessenReturn")
        for item in self.resultaten:
            element = _sub(wrapper, "ProcesResultaat")
            _sub(element, "kenmerk", item.kenmerk)
            _sub(element, "berichtsoort", item.berichtsoort)
            item.identiteit_belanghebbende.add_to(element, "identiteitBelanghebbende")
            _opt_part(element, "identiteitOntvanger", item.identiteit_ontvanger)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> ProcessenResponse:
        _expect(element, cls.ELEMENT)
        wrapper = _Reader(element).req("getProcessenReturn")
        items = []
        for e in _Reader(wrapper).many("ProcesResultaat"):
            r = _Reader(e)
            kenmerk = r.text("kenmerk")
            berichtsoort = r.text("berichtsoort")
            belanghebbende = Identiteit.read(r.req("identiteitBelanghebbende"))
            ontvanger = _read_opt_part(r, "identiteitOntvanger", Identiteit.read)
            items.append(ProcesResultaat(kenmerk, berichtsoort, belanghebbende, ontvanger))
        return cls(tuple(items))


@attrs.frozen
class BerichtsoortenResponse:
    ELEMENT: ClassVar[str] = "getBerichtsoortenResponse"

    berichtsoorten: tuple[str, ...]

    def to_element(self) -> etree._Element:
        root = _root(self.ELEMENT)
        wrapper = _sub(root, "getBerichtsoortenReturn")
        for name in self.berichtsoorten:
            _sub(wrapper, "berichtsoort", name)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> BerichtsoortenResponse:
        _expect(element, cls.ELEMENT)
        wrapper = _Reader(element).req("getBerichtsoortenReturn")
        return cls(tuple((e.text or "").strip() for e in _Reader(wrapper).many("berichtsoort")))


# --- ophalen ------------------------------------------------------------------

# operation -> fields in sequence order ("identiteit" = identiteitBelanghebbende)
OPHAAL_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "getBerichten": ("berichtsoort?", "identiteit", "autorisatieAdres?", "vanaf?", "tot?"),
    "getNieuweBerichten": ("berichtsoort?", "identiteit", "autorisatieAdres?", "vanaf?", "tot?"),
    "getBerichtenLijst": ("berichtsoort?", "autorisatieAdres?", "vanaf?", "tot?"),
    "getNieuweBerichtenLijst": ("berichtsoort?", "autorisatieAdres?", "vanaf?", "tot?"),
    "getBerichtenKenmerk": ("kenmerk", "autorisatieAdres?", "vanaf?", "tot?"),
    "getNieuweBerichtenKenmerk": ("kenmerk", "autorisatieAdres?", "vanaf?", "tot?"),
}
OPHAAL_LIJST_OPERATIONS: Final = ("getBerichtenLijst", "getNieuweBerichtenLijst")


@attrs.frozen
class OphaalRequest:
    """Any OphaalService request; which fields apply depends on ``operation``."""

    operation: str = attrs.field(validator=attrs.validators.in_(tuple(OPHAAL_FIELDS)))
    identiteit_belanghebbende: Identiteit | None = None
    berichtsoort: str | None = None
    kenmerk: str | None = None
    autorisatie_adres: str | None = None
    vanaf: datetime | None = None
    tot: datetime | None = None

    def to_element(self) -> etree._Element:
        root = _root(f"{self.operation}Request")
        fields = OPHAAL_FIELDS[self.operation]
        given = {
            "kenmerk": self.kenmerk,
            "berichtsoort?": self.berichtsoort,
            "identiteit": self.identiteit_belanghebbende,
        }
        for field, value in given.items():
            if value is not None and field not in fields:
                raise KoppelvlakError(
                    f"{self.operation}Request has no {field.rstrip('?')}"
                )
        if "kenmerk" in fields:
            _sub(root, "kenmerk", self.kenmerk)
        _opt(root, "berichtsoort", self.berichtsoort if "berichtsoort?" in fields else None)
        if "identiteit" in fields:
            if self.identiteit_belanghebbende is None:
                raise KoppelvlakError(f"{self.operation}Request: missing identiteitBelanghebbende")
            self.identiteit_belanghebbende.add_to(root, "identiteitBelanghebbende")
        _opt(root, "autorisatieAdres", self.autorisatie_adres)
        _opt_time(root, "tijdstempelVanaf", self.vanaf)
        _opt_time(root, "tijdstempelTot", self.tot)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> OphaalRequest:
        name = _expect(element, *(f"{op}Request" for op in OPHAAL_FIELDS))
        operation = name.removesuffix("Request")
        r = _Reader(element)
        kenmerk = r.opt_text("kenmerk")
        berichtsoort = r.opt_text("berichtsoort")
        found = r.opt("identiteitBelanghebbende")
        return cls(
            operation=operation,
            identiteit_belanghebbende=None if found is None else Identiteit.read(found),
            berichtsoort=berichtsoort,
            kenmerk=kenmerk,
            autorisatie_adres=r.opt_text("autorisatieAdres"),
            vanaf=r.opt_time("tijdstempelVanaf"),
            tot=r.opt_time("tijdstempelTot"),
        )


@attrs.frozen
class BerichtLijstResultaat:
    berichtsoort: str
    identiteit_belanghebbende: Identiteit
    kenmerk: str


@attrs.frozen
class OphaalResponse:
    """Response of an OphaalService operation.

    ``berichten`` (``AfleverRequest`` values, read from ``BerichtResultaat``) for
    the message operations; ``lijst`` for getBerichtenLijst/getNieuweBerichtenLijst.
    """

    operation: str = attrs.field(validator=attrs.validators.in_(tuple(OPHAAL_FIELDS)))
    berichten: tuple[AfleverRequest, ...] = ()
    lijst: tuple[BerichtLijstResultaat, ...] = ()

    def to_element(self) -> etree._Element:
        root = _root(f"{self.operation}Response")
        wrapper = _sub(root, f"{self.operation}Return")
        if self.operation in OPHAAL_LIJST_OPERATIONS:
            for item in self.lijst:
                element = _sub(wrapper, "BerichtLijstResultaat")
                _sub(element, "berichtsoort", item.berichtsoort)
                item.identiteit_belanghebbende.add_to(element, "identiteitBelanghebbende")
                _sub(element, "kenmerk", item.kenmerk)
        else:
            for bericht in self.berichten:
                bericht.fill(_sub(wrapper, "BerichtResultaat"), with_eerder=True)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> OphaalResponse:
        name = _expect(element, *(f"{op}Response" for op in OPHAAL_FIELDS))
        operation = name.removesuffix("Response")
        wrapper = _Reader(element).req(f"{operation}Return")
        if operation in OPHAAL_LIJST_OPERATIONS:
            lijst = []
            for e in _Reader(wrapper).many("BerichtLijstResultaat"):
                r = _Reader(e)
                berichtsoort = r.text("berichtsoort")
                identiteit = Identiteit.read(r.req("identiteitBelanghebbende"))
                lijst.append(BerichtLijstResultaat(berichtsoort, identiteit, r.text("kenmerk")))
            return cls(operation, lijst=tuple(lijst))
        berichten = tuple(AfleverRequest.read(e) for e in _Reader(wrapper).many("BerichtResultaat"))
        return cls(operation, berichten=berichten)


# --- faults -------------------------------------------------------------------

FAULT_ELEMENTS: Final = {
    "aanlever": "aanleverFault",
    "status": "statusinformatieFault",
    "ophaal": "ophaalFault",
    "aflever": "afleverFault",
}


@attrs.frozen(auto_exc=True)
class WusFault(Exception):
    """A Digipoort SOAP fault: ``service`` is "aanlever", "status", "ophaal" or "aflever"."""

    service: str
    foutcode: str
    foutbeschrijving: str

    # auto_exc makes attrs compare exceptions by identity; faults compare by value.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WusFault):
            return NotImplemented
        return (self.service, self.foutcode, self.foutbeschrijving) == (
            other.service,
            other.foutcode,
            other.foutbeschrijving,
        )

    def __hash__(self) -> int:
        return hash((self.service, self.foutcode, self.foutbeschrijving))

    def __str__(self) -> str:
        return f"{FAULT_ELEMENTS.get(self.service, self.service)} {self.foutcode}: " + (
            self.foutbeschrijving
        )

    @property
    def retryable(self) -> bool:
        from .codes import retryable

        return retryable(self.foutcode)

    def to_element(self) -> etree._Element:
        root = _root(FAULT_ELEMENTS[self.service])
        _sub(root, "foutcode", self.foutcode)
        _sub(root, "foutbeschrijving", self.foutbeschrijving)
        validate(root)
        return root

    @classmethod
    def from_element(cls, element: etree._Element) -> WusFault:
        by_element = {v: k for k, v in FAULT_ELEMENTS.items()}
        name = _expect(element, *by_element)
        fout = Fout.read(element)
        return cls(by_element[name], fout.foutcode, fout.foutbeschrijving)


# --- dispatch -----------------------------------------------------------------


def _expect(element: etree._Element, *names: str) -> str:
    qname = etree.QName(element)
    if qname.namespace != KV or qname.localname not in names:
        raise KoppelvlakError(
            f"expected {' or '.join('kv:' + n for n in names)}, found {qname.text}"
        )
    validate(element)
    return str(qname.localname)


Body = Any
T = TypeVar("T")

_PARSERS: Final[dict[str, Callable[[etree._Element], Body]]] = {
    "aanleverRequest": AanleverRequest.from_element,
    "aanleverResponse": AanleverResponse.from_element,
    "afleverRequest": AfleverRequest.from_element,
    "afleverResponse": AfleverResponse.from_element,
    "getBerichtsoortenRequest": BerichtsoortenRequest.from_element,
    "getBerichtsoortenResponse": BerichtsoortenResponse.from_element,
    "getProcessenRequest": ProcessenRequest.from_element,
    "getProcessenResponse": ProcessenResponse.from_element,
    "getNieuweStatussenRequest": NieuweStatussenRequest.from_element,
    **{f"{op}Request": StatusRequest.from_element for op in STATUS_PROCES_OPERATIONS},
    **{f"{op}Response": StatusResponse.from_element for op in STATUS_RESULT_OPERATIONS},
    **{f"{op}Request": OphaalRequest.from_element for op in OPHAAL_FIELDS},
    **{f"{op}Response": OphaalResponse.from_element for op in OPHAAL_FIELDS},
    **{name: WusFault.from_element for name in FAULT_ELEMENTS.values()},
}


def parse_body(element: etree._Element) -> Body:
    """The typed value of any koppelvlak body element (validated first)."""
    qname = etree.QName(element)
    parser = _PARSERS.get(qname.localname) if qname.namespace == KV else None
    if parser is None:
        raise KoppelvlakError(f"not a koppelvlak body element: {qname.text}")
    return parser(element)


def parse_as(element: etree._Element, kind: type[T]) -> T:
    """``parse_body`` that also checks the type, e.g. ``parse_as(body, AanleverResponse)``."""
    value = parse_body(element)
    if not isinstance(value, kind):
        raise KoppelvlakError(
            f"expected {kind.__name__}, found {etree.QName(element).localname}"
        )
    return value
