"""The shape of the model classes, read once from their attrs fields and type hints.

Field checks (:mod:`gateway.model.record`), JSON (:mod:`gateway.model.json`) and
JSON Schema (:mod:`gateway.model.jsonschema`) all walk this one description, so
the three cannot drift apart.

The model keeps to a small set of field types on purpose:

- ``str``, ``bool``, ``int``, ``Decimal``, ``bytes``;
- ``datetime.date``, ``datetime.datetime``, ``datetime.time`` and the union
  ``date | datetime`` (SETU time intervals carry either);
- enums (``enum.StrEnum``) and other model classes;
- ``X | None`` and ``tuple[X, ...]`` of any of the above.

Anything else is a programming error and fails loudly the first time the class
is described.

Constraints that a value must meet beyond its type (a currency pattern, a
non-negative amount) live in the attrs field ``metadata`` under
:data:`CONSTRAINT_KEY`, written with the constants below, e.g.
``currency: str = attrs.field(metadata=CURRENCY_CODE)``.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

CONSTRAINT_KEY = "wissel_constraint"

SCALAR_TYPES: tuple[type, ...] = (str, bool, int, Decimal, bytes, dt.date, dt.datetime, dt.time)


class DateOrDateTime:
    """Marker for fields typed ``date | datetime``: a day, or a moment on a day."""


@attrs.frozen(kw_only=True)
class Constraint:
    """A rule a field value must meet beyond its type.

    ``description`` says in words what a valid value looks like; it ends up in
    error messages and in the JSON Schema.
    """

    description: str
    pattern: str | None = None
    non_negative: bool = False
    min_items: int = 0


def _meta(constraint: Constraint) -> Mapping[str, Constraint]:
    return {CONSTRAINT_KEY: constraint}


CURRENCY_CODE = _meta(
    Constraint(
        description="an ISO 4217 currency code of three capital letters, e.g. EUR",
        pattern=r"^[A-Z]{3}$",
    )
)
COUNTRY_CODE = _meta(
    Constraint(
        description="an ISO 3166-1 alpha-2 country code of two capital letters, e.g. NL",
        pattern=r"^[A-Z]{2}$",
    )
)
NON_NEGATIVE = _meta(Constraint(description="a number that is not negative", non_negative=True))
AT_LEAST_ONE = _meta(Constraint(description="at least one item", min_items=1))


@attrs.frozen
class Shape:
    """What a field holds: one ``base`` value, optionally absent, or a tuple of them."""

    base: type
    optional: bool = False
    many: bool = False


@attrs.frozen
class FieldInfo:
    """One field of a model class as the walkers see it.

    ``required`` is true when the constructor has no default for the field.
    ``default`` is the literal default, or ``attrs.NOTHING`` when there is none
    or when it is computed (an ``attrs.Factory``).
    """

    name: str
    shape: Shape
    required: bool
    default: Any
    constraint: Constraint | None


def is_record(cls: object) -> bool:
    """True for a model class (an attrs class), false for scalars and enums."""
    return isinstance(cls, type) and _is_attrs_class(cls)


@functools.cache
def _is_attrs_class(cls: type) -> bool:
    # Cached: the JSON walkers ask once per value, and attrs.has is not free.
    return attrs.has(cls)


_FIELDS: dict[type, tuple[FieldInfo, ...]] = {}


def fields_of(cls: type) -> tuple[FieldInfo, ...]:
    """The fields of model class ``cls`` in declaration order (read once, then cached)."""
    cached = _FIELDS.get(cls)
    if cached is None:
        cached = _FIELDS[cls] = _read_fields(cls)
    return cached


def _read_fields(cls: type) -> tuple[FieldInfo, ...]:
    hints = typing.get_type_hints(cls)
    result = []
    for field in attrs.fields(cls):
        shape = describe(hints[field.name], where=f"{cls.__name__}.{field.name}")
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            literal_default: Any = attrs.NOTHING
        else:
            literal_default = default
        result.append(
            FieldInfo(
                name=field.name,
                shape=shape,
                required=default is attrs.NOTHING,
                default=literal_default,
                constraint=field.metadata.get(CONSTRAINT_KEY),
            )
        )
    return tuple(result)


def describe(hint: Any, *, where: str) -> Shape:
    """Turn a type hint into a :class:`Shape`, refusing hints the model does not use."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        members = typing.get_args(hint)
        present = [m for m in members if m is not type(None)]
        optional = len(present) < len(members)
        if set(present) == {dt.date, dt.datetime}:
            return Shape(DateOrDateTime, optional=optional)
        if len(present) != 1:
            raise TypeError(f"{where}: unsupported union {hint!r}")
        inner = describe(present[0], where=where)
        if inner.many:
            raise TypeError(f"{where}: use an empty tuple, not None, for 'no items'")
        return Shape(inner.base, optional=optional)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise TypeError(f"{where}: only tuple[X, ...] is supported, got {hint!r}")
        return Shape(_base(args[0], where=where), many=True)
    return Shape(_base(hint, where=where))


def _base(hint: Any, *, where: str) -> type:
    if hint in SCALAR_TYPES:
        return typing.cast(type, hint)
    if isinstance(hint, type) and (issubclass(hint, enum.Enum) or attrs.has(hint)):
        return hint
    raise TypeError(f"{where}: unsupported field type {hint!r}")
