"""The base class of every model class, and the errors a model object raises when made.

Every model object checks its own fields once attrs has built it: the type of
each value (a float where a Decimal belongs is refused, a list where a tuple
belongs too), that text is not empty, and the constraints declared in the field
metadata (see :mod:`gateway.model.shape`). A class adds its cross-field rules by
overriding :meth:`Record._check`.

A reader that has already checked each value on its own (the JSON reader does,
as it reads) builds the object with :func:`build_checked`, which runs only
what the single values cannot show: the computed defaults and ``_check``; or,
for a :func:`settable` class, sets the fields itself and runs those two.

Checks are cheap and local. Whether a document follows a particular standard
(Peppol, NLCIUS, OHNL) is the business of that standard's validation, not of the
model: the model must be able to hold a foreign document exactly as received.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from gateway.model.shape import Constraint, DateOrDateTime, FieldInfo, Shape, fields_of, is_record

_R = TypeVar("_R")


class FieldProblem(Exception):
    """A model field got a value it cannot hold.

    ``record`` is the class name, ``field`` the field (with ``[i]`` for an item
    of a tuple, or a dotted path below it), ``problem`` what is wrong.
    """

    def __init__(self, record: str, field: str, problem: str) -> None:
        self.record = record
        self.field = field
        self.problem = problem
        super().__init__(f"{record}.{field}: {problem}")


class FieldTypeError(FieldProblem, TypeError):
    """A field value has the wrong Python type (e.g. a float where a Decimal belongs)."""


class FieldValueError(FieldProblem, ValueError):
    """A field value has the right type but breaks a rule (empty text, negative amount, ...)."""


class Record:
    """Base class of the frozen attrs classes that make up the canonical model."""

    __slots__ = ()

    def __attrs_post_init__(self) -> None:
        computed = _PRECHECKED.get(id(self))
        if computed is not None:
            for entry in computed:
                if not _passes_quickly(entry, getattr(self, entry[0])):
                    _check_field(self, entry[5])
            self._check()
            return
        for name, optional, many, base, passes, info in _plan(type(self)):
            value = getattr(self, name)
            # The common cases, settled here: an absent optional value, and a
            # value (or a tuple of items) of exactly the field's type that
            # passes the field's rules. Everything else takes the full check,
            # which also words the error.
            if value is None:
                if optional:
                    continue
            elif many:
                if type(value) is tuple and passes is not None and passes(value):
                    continue
            elif type(value) is base and (passes is None or passes(value)):
                continue
            _check_field(self, info)
        self._check()

    def _check(self) -> None:
        """Rules that involve more than one field; raise :class:`FieldValueError`."""

    def _fail(self, field: str, problem: str) -> FieldValueError:
        return FieldValueError(type(self).__name__, field, problem)


_Test = Callable[[Any], bool]
_Entry = tuple[str, bool, bool, type, _Test | None, FieldInfo]
_Plan = tuple[_Entry, ...]
_PLANS: dict[type, _Plan] = {}

# Per class: the plan of the fields attrs computes (Factory defaults), or None when
# a literal default fails its own field's check, so the class is never prechecked.
_COMPUTED: dict[type, _Plan | None] = {}
# The objects build_checked is making right now, by id, with their computed fields.
# An id is unique while its object lives, and build_checked holds the object until
# its id is gone from here again, so no other object, in any thread, is taken for one.
_PRECHECKED: dict[int, _Plan] = {}


def build_checked(cls: type[_R], values: dict[str, Any]) -> _R:
    """``cls(**values)`` for values that each passed their field's check already.

    Each value must be of the field's type (or one the full check accepts)
    and pass :func:`value_rule` of its field (a tuple: each item, and
    :func:`min_items`). The object still gets its computed defaults checked
    and its cross-field rules (``_check``); a class whose literal defaults
    would not pass gets the full check.
    """
    try:
        computed = _COMPUTED[cls]
    except KeyError:
        computed = _find_computed(cls)
    if computed is None:
        return cls(**values)
    record = cls.__new__(cls)
    key = id(record)
    _PRECHECKED[key] = computed
    try:
        record.__init__(**values)  # type: ignore[misc]
    finally:
        del _PRECHECKED[key]
    return record


def _find_computed(cls: type) -> _Plan | None:
    computed: list[_Entry] = []
    defaults_pass = True
    for entry in _plan(cls):
        info = entry[5]
        if info.required:
            continue
        if info.default is attrs.NOTHING:
            computed.append(entry)
        elif not _passes_quickly(entry, info.default):
            defaults_pass = False
    found = _COMPUTED[cls] = tuple(computed) if defaults_pass else None
    return found


def settable(cls: type) -> bool:
    """Whether a reader of checked values may make a ``cls`` object by setting its fields.

    It then does what :func:`build_checked` does through ``__init__``: sets every
    field in declared order to its value, its literal default, or its computed
    default (the factory called as ``__init__`` calls it), and calls
    :func:`check_computed` and ``_check``. That needs an ``__init__`` that
    does no more than attrs' plain one: no converters or validators, no hash
    cache, Record's ``__attrs_post_init__``, each argument named as its field.
    """
    try:
        computed = _COMPUTED[cls]
    except KeyError:
        computed = _find_computed(cls)
    if computed is None:
        return False
    init = vars(cls).get("__init__")
    code = getattr(init, "__code__", None)
    return (
        code is not None and code.co_filename.startswith("<attrs generated")
        and getattr(cls, "__attrs_post_init__", None) is Record.__attrs_post_init__
        and not hasattr(cls, "__attrs_pre_init__")
        and not hasattr(cls, "_attrs_cached_hash")  # cache_hash: __init__ clears the cache
        and all(field.validator is None and field.converter is None and field.alias == field.name
                for field in attrs.fields(cls))
    )


def check_computed(record: Record) -> None:
    """What :func:`build_checked` checks of the computed fields of a :func:`settable` class."""
    for entry in _COMPUTED[type(record)] or ():
        if not _passes_quickly(entry, getattr(record, entry[0])):
            _check_field(record, entry[5])


def _passes_quickly(entry: _Entry, value: Any) -> bool:
    _name, optional, many, base, passes, _info = entry
    if value is None:
        return optional
    if many:
        return type(value) is tuple and passes is not None and passes(value)
    return type(value) is base and (passes is None or passes(value))


def _plan(cls: type) -> _Plan:
    """Per field: name, may it be absent, is it a tuple, its type, its quick test, its info."""
    found = _PLANS.get(cls)
    if found is None:
        found = _PLANS[cls] = tuple(_quick(info) for info in fields_of(cls))
    return found


def _quick(info: FieldInfo) -> _Entry:
    """The quick test of one field: what _check_value asks of a value of the exact type.

    For a tuple field the test takes the whole tuple: its length, and each item's
    exact type and rules.
    """
    shape = info.shape
    base = shape.base
    passes = value_rule(info)
    if not shape.many:
        return info.name, shape.optional, False, base, passes, info
    least = min_items(info)
    exact = frozenset((base,))
    # map() and set operations keep the per-item work in C.
    if passes is None:
        def items_pass(items: tuple[Any, ...]) -> bool:
            return len(items) >= least and exact.issuperset(map(type, items))
    else:
        rule = passes

        def items_pass(items: tuple[Any, ...]) -> bool:
            return (len(items) >= least and exact.issuperset(map(type, items))
                    and all(map(rule, items)))

    return info.name, shape.optional, True, base, items_pass, info


def value_rule(info: FieldInfo) -> _Test | None:
    """What the full check asks of one value (one item of a tuple) of the field's type.

    Text must not be empty and must match the field's pattern; a Decimal must
    be finite and, when the field says so, not negative (nor ``-0.00``); so
    must a whole number. None when the type alone is enough.
    """
    base = info.shape.base
    constraint = info.constraint
    pattern = constraint.pattern if constraint is not None else None
    non_negative = constraint is not None and constraint.non_negative
    rule: _Test | None = None
    if issubclass(base, str):
        rule = bool if pattern is None else _matching_text(pattern)  # bool: not empty
    elif issubclass(base, Decimal):
        rule = _finite_not_negative if non_negative else Decimal.is_finite
    elif base is int and non_negative:
        rule = _not_negative
    return rule


def _matching_text(pattern: str) -> _Test:
    matches = re.compile(pattern).fullmatch

    def rule(value: str) -> bool:
        return bool(value) and matches(value) is not None

    return rule


def _finite_not_negative(value: Decimal) -> bool:
    return value.is_finite() and not value.is_signed()


def _not_negative(value: int) -> bool:
    return value >= 0


def min_items(info: FieldInfo) -> int:
    """How many items a tuple field needs at least."""
    return info.constraint.min_items if info.constraint is not None else 0


def _check_field(record: Record, info: FieldInfo) -> None:
    value = getattr(record, info.name)
    owner = type(record).__name__
    shape = info.shape
    if value is None:
        if not shape.optional:
            raise FieldTypeError(owner, info.name, "a value is required, got None")
        return
    if shape.many:
        if not isinstance(value, tuple):
            raise FieldTypeError(
                owner, info.name,
                f"expected a tuple, got {type(value).__name__}; the model is immutable",
            )
        for i, item in enumerate(value):
            _check_value(owner, f"{info.name}[{i}]", shape, item, info.constraint)
        constraint = info.constraint
        if constraint is not None and len(value) < constraint.min_items:
            raise FieldValueError(owner, info.name, f"needs {constraint.description}")
        return
    _check_value(owner, info.name, shape, value, info.constraint)


def _check_value(
    owner: str, field: str, shape: Shape, value: Any, constraint: Constraint | None
) -> None:
    # The exact type is by far the common case and needs none of the subclass
    # reasoning (bool for int, datetime for date) that type_problem does.
    if type(value) is not shape.base:
        problem = type_problem(shape.base, value)
        if problem:
            raise FieldTypeError(owner, field, problem)
    if isinstance(value, str) and not value:
        raise FieldValueError(
            owner, field, "must not be empty; leave an absent value out (None)"
        )
    if isinstance(value, Decimal) and not value.is_finite():
        raise FieldValueError(owner, field, f"must be a finite number, got {value}")
    if constraint is not None:
        problem = constraint_problem(constraint, value)
        if problem:
            raise FieldValueError(owner, field, problem)


def type_problem(base: type, value: Any) -> str | None:
    """Why ``value`` is not of model type ``base``, or None when it is."""
    if base is Decimal:
        if isinstance(value, Decimal):
            return None
        if isinstance(value, float):
            return (
                f"expected a Decimal, got float {value!r}; a float would lose precision, "
                f"write Decimal('{value!r}')"
            )
        return f"expected a Decimal, got {_describe(value)}"
    if base is dt.date:
        # datetime is a subclass of date; accepting one would lose the time on the way to JSON.
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return None
        return f"expected a date, got {_describe(value)}"
    if base is DateOrDateTime:
        return None if isinstance(value, dt.date) else (
            f"expected a date or datetime, got {_describe(value)}"
        )
    if base is int:
        # bool is a subclass of int; True is not a count.
        if isinstance(value, int) and not isinstance(value, bool):
            return None
        return f"expected an int, got {_describe(value)}"
    if isinstance(value, base):
        return None
    if issubclass(base, enum.Enum) and isinstance(value, str):
        return f"expected {base.__name__}, got str {value!r}; use {base.__name__}({value!r})"
    article = "an" if base.__name__[0] in "AEIOU" else "a"
    if is_record(base) or issubclass(base, enum.Enum):
        return f"expected {article} {base.__name__}, got {_describe(value)}"
    return f"expected {base.__name__}, got {_describe(value)}"


def constraint_problem(constraint: Constraint, value: Any) -> str | None:
    """Why ``value`` breaks ``constraint``, or None when it does not."""
    pattern = constraint.pattern
    if pattern is not None and isinstance(value, str) and not re.fullmatch(pattern, value):
        return f"expected {constraint.description}, got {value!r}"
    if isinstance(value, Decimal | int):
        # is_signed() also catches Decimal("-0.00"), which JSON Schema patterns refuse too.
        negative = value.is_signed() if isinstance(value, Decimal) else value < 0
        if constraint.non_negative and negative:
            return f"must not be negative, got {value}"
    return None


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"
