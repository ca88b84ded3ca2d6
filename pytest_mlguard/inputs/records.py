"""Records (JSON-like dicts) and what production does to them: a schema, and mutations of records.

A :class:`Schema` is a tuple of :class:`Field` s. :func:`as_schema` builds one from a dict of
field -> type, range or categories, a pandas dtype mapping (``df.dtypes``), a dataclass or a
pydantic model; :func:`infer_schema` from example records. :func:`mutate` applies one mutation
(a missing field, ``None``, NaN, a wrong type, ...) to a record; the strategies in
:mod:`pytest_mlguard.strategies` sample which.

Example:
    >>> schema = as_schema({"age": (0, 120), "income": float, "city": ["Paris", "Lyon"]})
    >>> [f.kind for f in schema.fields]
    ['integer', 'number', 'category']
    >>> mutate({"age": 30, "income": 1.0, "city": "Paris"}, "missing-field", "income")
    {'age': 30, 'city': 'Paris'}
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..errors import InvalidArgument

__all__ = [
    "EQUIVALENTS",
    "EXTRA_FIELD",
    "MISSING_MUTATIONS",
    "MUTATIONS",
    "ODD_STRINGS",
    "TYPE_MUTATIONS",
    "Field",
    "FieldKind",
    "Mutation",
    "Schema",
    "as_schema",
    "equivalent_record",
    "infer_schema",
    "mutate",
    "wrong_type_values",
]

FieldKind = Literal["number", "integer", "boolean", "string", "category"]
Mutation = Literal[
    "missing-field",
    "null",
    "nan",
    "inf",
    "empty-string",
    "odd-unicode",
    "extra-field",
    "wrong-type",
    "out-of-range",
    "unseen-category",
]

#: every mutation, simplest first (strategies shrink toward the first)
MUTATIONS: tuple[str, ...] = typing.get_args(Mutation)
#: the mutations of ``inputs[missing-fields]``: absent, empty or non-finite values, extra fields
MISSING_MUTATIONS: tuple[str, ...] = ("missing-field", "null", "nan", "inf", "empty-string", "odd-unicode", "extra-field")
#: the mutations of ``inputs[dtypes]`` on records: values of the wrong type or outside the domain
TYPE_MUTATIONS: tuple[str, ...] = ("wrong-type", "out-of-range", "unseen-category")

#: strings that break naive text handling: empty, whitespace, control, combining, bidi, BOM, emoji,
#: astral plane, a lone surrogate, very long
ODD_STRINGS: tuple[str, ...] = (
    "",
    " ",
    "\x00",
    "\n\t",
    "e\u0301",
    "\u202eevil",
    "\ufeffbom",
    "\U0001f600",
    "\U0001d518\U0001d52b\U0001d526",
    "\ud800",
    "NaN",
    "null",
    "x" * 10_000,
)


@dataclasses.dataclass(frozen=True)
class Field:
    """One field of a record.

    Attributes:
        name: the key in the record.
        kind: ``number``, ``integer``, ``boolean``, ``string`` or ``category``.
        low, high: the valid range of numbers (``None``: open).
        categories: the valid values of a ``category`` field.
        nullable: ``None`` (or NaN) is a valid value (``Optional[...]``, ``{"nullable": True}``).
    """

    name: str
    kind: FieldKind
    low: float | None = None
    high: float | None = None
    categories: tuple[Any, ...] = ()
    nullable: bool = False


@dataclasses.dataclass(frozen=True)
class Schema:
    """The fields of a record, in order."""

    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field_from_spec(name: str, spec: Any) -> Field:
    """A field from one value of a dict schema (see :func:`as_schema`)."""
    if isinstance(spec, Mapping):
        kind = spec.get("type", float)
        base = _field_from_spec(name, kind)
        categories = tuple(spec.get("categories", ()))
        return Field(
            name,
            "category" if categories else base.kind,
            spec.get("min", base.low),
            spec.get("max", base.high),
            categories,
            bool(spec.get("nullable", False)),
        )
    if spec is float:
        return Field(name, "number")
    if spec is int:
        return Field(name, "integer")
    if spec is bool:
        return Field(name, "boolean")
    if spec is str:
        return Field(name, "string")
    if isinstance(spec, range) and spec.step == 1 and len(spec):
        return Field(name, "integer", spec.start, spec.stop - 1)
    if isinstance(spec, tuple) and len(spec) == 2 and all(_is_number(v) for v in spec) and spec[0] <= spec[1]:
        integer = all(isinstance(v, int) for v in spec)
        return Field(name, "integer" if integer else "number", spec[0], spec[1])
    if isinstance(spec, (list, set, frozenset)) and spec:
        return Field(name, "category", categories=tuple(sorted(spec, key=repr)) if isinstance(spec, (set, frozenset)) else tuple(spec))
    raise InvalidArgument.expected(
        "float, int, bool, str, a (low, high) range, a range(...), a list of categories or a dict "
        "{'type': ..., 'min': ..., 'max': ..., 'categories': [...]}",
        f"schema[{name!r}]",
        spec,
    )


def _field_from_dtype(name: str, dtype: Any) -> Field:
    """A field from a pandas or numpy dtype (``df.dtypes[name]``)."""
    categories = getattr(dtype, "categories", None)
    if categories is not None:
        return Field(name, "category", categories=tuple(categories))
    kind = getattr(dtype, "kind", None)
    if kind is None:
        import numpy as np

        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            kind = "O"
    kinds: dict[str, FieldKind] = {"f": "number", "i": "integer", "u": "integer", "b": "boolean"}
    return Field(name, kinds.get(kind, "string"))


def _field_from_annotation(name: str, annotation: Any, metadata: Sequence[Any] = ()) -> Field:
    """A field from a type annotation (``float``, ``int``, ``Literal[...]``, ``Optional[...]``) and
    pydantic / annotated-types constraints (``Ge``, ``Le``, ``Gt``, ``Lt``)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return Field(name, "category", categories=typing.get_args(annotation))
    if origin is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        return _field_from_annotation(name, inner, [*metadata, *extra])
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is not None and len(args) == 1:  # Optional[X], X | None
        return dataclasses.replace(_field_from_annotation(name, args[0], metadata), nullable=True)
    if annotation not in (float, int, bool, str):
        raise InvalidArgument.expected("fields annotated float, int, bool, str or Literal[...]", f"schema field {name!r}", annotation)
    base = _field_from_spec(name, annotation)
    low, high = base.low, base.high
    for constraint in metadata:
        for attr, is_low in (("ge", True), ("gt", True), ("le", False), ("lt", False)):
            bound = getattr(constraint, attr, None)
            if bound is not None:
                low, high = (bound, high) if is_low else (low, bound)
    return dataclasses.replace(base, low=low, high=high)


def as_schema(schema: Any) -> Schema:
    """A :class:`Schema` from one of:

    * a dict ``field -> spec``, each spec ``float``, ``int``, ``bool``, ``str``, a ``(low, high)``
      range (integer if both ends are ints), a ``range(...)``, a list of categories, or a dict
      ``{"type": float, "min": 0, "max": 1, "categories": [...]}``;
    * a pandas dtype mapping (``df.dtypes``) or a dict of field -> numpy/pandas dtype;
    * a dataclass, or a pydantic model class (``Field(ge=..., le=...)`` constraints are ranges).
    """
    if isinstance(schema, Schema):
        return schema
    if isinstance(schema, type) and dataclasses.is_dataclass(schema):
        hints = typing.get_type_hints(schema, include_extras=True)
        return Schema(tuple(_field_from_annotation(f.name, hints[f.name]) for f in dataclasses.fields(schema)))
    model_fields = getattr(schema, "model_fields", None)
    if isinstance(schema, type) and isinstance(model_fields, Mapping):  # pydantic v2
        return Schema(
            tuple(_field_from_annotation(name, info.annotation, info.metadata) for name, info in model_fields.items())
        )
    if hasattr(schema, "items") and hasattr(schema, "dtype") and not isinstance(schema, Mapping):  # pandas Series of dtypes
        return Schema(tuple(_field_from_dtype(str(name), dtype) for name, dtype in schema.items()))
    if isinstance(schema, Mapping) and schema:
        fields = []
        for name, spec in schema.items():
            if not isinstance(name, str):
                raise InvalidArgument.expected("string field names", "schema key", name)
            is_dtype = isinstance(spec, str) or hasattr(spec, "kind")  # "float64", np.dtype, pandas dtypes
            fields.append(_field_from_dtype(name, spec) if is_dtype else _field_from_spec(name, spec))
        return Schema(tuple(fields))
    raise InvalidArgument.expected(
        "a non-empty dict of field -> type/range/categories, a pandas dtype mapping, a dataclass or a pydantic model",
        "schema",
        schema,
    )


def infer_schema(examples: Sequence[Mapping[str, Any]], max_categories: int = 20) -> Schema:
    """A schema from valid example records: the fields of the first, the types and ranges seen.

    Numbers get the range of the examples; strings with at most ``max_categories`` distinct values
    are categories, others free strings.
    """
    if not examples or not all(isinstance(e, Mapping) for e in examples):
        raise InvalidArgument.expected("a non-empty list of example records (dicts)", "examples", examples)
    fields = []
    for name in examples[0]:
        values = [e[name] for e in examples if name in e]
        if all(isinstance(v, bool) for v in values):
            fields.append(Field(str(name), "boolean"))
        elif all(_is_number(v) for v in values):
            kind: FieldKind = "integer" if all(isinstance(v, int) for v in values) else "number"
            finite = [float(v) for v in values if math.isfinite(float(v))]
            fields.append(Field(str(name), kind, min(finite, default=None), max(finite, default=None)))
        elif all(isinstance(v, str) for v in values):
            distinct = tuple(dict.fromkeys(values))
            if len(distinct) <= max_categories:
                fields.append(Field(str(name), "category", categories=distinct))
            else:
                fields.append(Field(str(name), "string"))
        else:
            fields.append(Field(str(name), "category", categories=tuple(dict.fromkeys(map(repr, values)))))
    return Schema(tuple(fields))


def wrong_type_values(field: Field) -> tuple[Any, ...]:
    """Values of a type other than the field's, simplest first (all JSON-serialisable)."""
    text = ("", "abc", "1.5", "1e3", " 42 ")
    containers: tuple[Any, ...] = ([], {}, [1.0], {"value": 1})
    if field.kind in ("number", "integer"):
        return (*text, True, False, *containers)
    if field.kind == "boolean":
        return ("true", "no", 0, 1, 2.5, *containers)
    return (0, 1.5, True, -1, *containers)


def _out_of_range(field: Field, step: int) -> Any:
    """A value just beyond, far beyond, or absurdly beyond the field's range."""
    if field.kind not in ("number", "integer") or (field.low is None and field.high is None):
        return None
    low = field.low if field.low is not None else field.high
    high = field.high if field.high is not None else field.low
    assert low is not None and high is not None
    span = max(abs(high - low), 1.0)
    candidates: list[Any] = [
        high + span,
        low - span,
        high + 1000 * span,
        low - 1000 * span,
        -1e308 if field.kind == "number" else -(10**18),
        1e308 if field.kind == "number" else 10**18,
        10**400,  # a JSON number that overflows a float
    ]
    value = candidates[step % len(candidates)]
    if field.kind == "integer" and isinstance(value, float):
        return int(value)
    return value


def mutate(
    record: Mapping[str, Any],
    mutation: str,
    field: str,
    *,
    variant: int = 0,
    schema: Schema | None = None,
    extra_name: str = "unexpected",
) -> dict[str, Any]:
    """``record`` with one mutation applied to ``field`` (deterministic given ``variant``).

    Args:
        record: a valid record.
        mutation: one of :data:`MUTATIONS`.
        field: the field to mutate (for ``extra-field``, the field whose value the extra copies).
        variant: which of the mutation's values (wrong types, odd strings, out-of-range values).
        schema: the fields' kinds and ranges (``None``: inferred from ``record``).
        extra_name: the name of the field ``extra-field`` adds.
    """
    if mutation not in MUTATIONS:
        raise InvalidArgument.expected(f"one of {MUTATIONS}", "mutation", mutation)
    schema = schema or infer_schema([record])
    out = dict(record)
    spec = schema.field(field) if field in schema.names else Field(field, "string")
    if mutation == "missing-field":
        out.pop(field, None)
    elif mutation == "null":
        out[field] = None
    elif mutation == "nan":
        out[field] = math.nan
    elif mutation == "inf":
        out[field] = math.inf if variant % 2 == 0 else -math.inf
    elif mutation == "empty-string":
        out[field] = ""
    elif mutation == "odd-unicode":
        out[field] = ODD_STRINGS[variant % len(ODD_STRINGS)]
    elif mutation == "extra-field":
        name = extra_name if extra_name not in out else extra_name + "_"
        out[name] = record.get(field)
    elif mutation == "wrong-type":
        values = wrong_type_values(spec)
        out[field] = values[variant % len(values)]
    elif mutation == "out-of-range":
        value = _out_of_range(spec, variant)
        out[field] = value if value is not None else ODD_STRINGS[variant % len(ODD_STRINGS)]
    elif mutation == "unseen-category":
        if spec.kind == "category":
            out[field] = f"unseen-{variant}" if all(isinstance(c, str) for c in spec.categories) else -(variant + 1)
        else:
            out[field] = f"unseen-{variant}"
    return out


# -- the same record, written differently ------------------------------------------------------------
#: the rewritings of ``inputs[same-content]`` on records, in the order it runs them
EQUIVALENTS: tuple[str, ...] = ("reordered", "int-as-float", "float-as-int", "numeric-strings", "nfc", "nfd", "extra-field")
#: the unknown field ``extra-field`` adds
EXTRA_FIELD = "mlguard_unknown_field"


def equivalent_record(record: Mapping[str, Any], kind: str) -> dict[str, Any] | None:
    """``record`` written another way that means the same (``None``: nothing to rewrite).

    ``reordered``: the fields in reverse order; ``int-as-float``: integers as floats (``3`` ->
    ``3.0``); ``float-as-int``: integral floats as integers; ``numeric-strings``: numbers as their
    text (``"3.5"``), which a schema may allow or the pipeline may reject; ``nfc`` / ``nfd``: strings
    in Unicode normal form C / D; ``extra-field``: an unknown field added.

    Example:
        >>> equivalent_record({"a": 3, "b": "x"}, "int-as-float")
        {'a': 3.0, 'b': 'x'}
        >>> list(equivalent_record({"a": 3, "b": 1.5}, "reordered"))
        ['b', 'a']
    """
    import unicodedata

    def number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    items = list(record.items())
    if kind == "reordered":
        return dict(reversed(items)) if len(items) > 1 else None
    if kind == "extra-field":
        return {**record, EXTRA_FIELD: "ignored"} if EXTRA_FIELD not in record else None
    if kind == "int-as-float":
        rewrite: Any = lambda v: float(v) if number(v) and isinstance(v, int) and abs(v) < 2**53 else v  # noqa: E731
    elif kind == "float-as-int":
        rewrite = lambda v: int(v) if isinstance(v, float) and v.is_integer() else v  # noqa: E731
    elif kind == "numeric-strings":
        rewrite = lambda v: repr(v) if number(v) and math.isfinite(v) else v  # noqa: E731
    elif kind in ("nfc", "nfd"):
        form: Literal["NFC", "NFD"] = "NFC" if kind == "nfc" else "NFD"
        rewrite = lambda v: unicodedata.normalize(form, v) if isinstance(v, str) else v  # noqa: E731
    else:
        raise InvalidArgument.expected(f"one of {EQUIVALENTS}", "kind", kind)
    rewritten = {key: rewrite(value) for key, value in items}
    return rewritten if any(type(rewritten[k]) is not type(v) or rewritten[k] != v for k, v in items) else None
