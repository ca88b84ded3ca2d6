"""Records: valid ones of a schema, and malformed ones."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from ...errors import InvalidArgument
from ..records import MUTATIONS, Schema, as_schema, infer_schema, mutate
from .cases import Case, _choices, _draw_integer, _fail, _integer, _pick


def _schema(value: Any, examples: Sequence[Mapping[str, Any]] | None = None) -> Schema:
    if value is None:
        if not examples:
            raise InvalidArgument("Expected a schema, or example records to infer it from")
        return infer_schema(examples)
    return as_schema(value)


def _valid_value(spec: Any) -> SearchStrategy[Any]:
    if spec.kind == "category":
        return st.sampled_from(spec.categories)
    if spec.kind == "boolean":
        return st.booleans()
    if spec.kind == "string":
        return st.text(max_size=20)
    if spec.kind == "integer":
        low = int(math.ceil(spec.low)) if spec.low is not None else -(10**6)
        high = int(math.floor(spec.high)) if spec.high is not None else 10**6
        return st.integers(low, max(low, high))
    bottom = spec.low if spec.low is not None else -1e6
    top = spec.high if spec.high is not None else 1e6
    return st.floats(bottom, top, allow_nan=False, allow_infinity=False)


def record_values(schema: Any) -> SearchStrategy[dict[str, Any]]:
    """Valid records of ``schema`` (see :func:`~pytest_mlguard.inputs.records.as_schema`)."""

    def build() -> SearchStrategy[dict[str, Any]]:
        parsed = _schema(schema)
        return st.fixed_dictionaries({f.name: _valid_value(f) for f in parsed.fields})

    return st.deferred(build)


def malformed_record_cases(
    *,
    schema: Any = None,
    examples: Sequence[Mapping[str, Any]] | None = None,
    mutations: Any = MUTATIONS,
    max_mutations: int | SearchStrategy[int] = 3,
) -> SearchStrategy[Case]:
    """Records with one to ``max_mutations`` mutations: missing fields, ``None``, NaN, inf, empty and
    odd unicode strings, extra fields, wrong types, out-of-range values, unseen categories.

    The valid record each starts from is one of ``examples`` (shrinking toward the first) or, without
    examples, drawn from ``schema``; without a schema it is inferred from the examples.
    """

    def build() -> SearchStrategy[Case]:
        kinds = _choices(mutations, "mutations", MUTATIONS)
        most = _integer(max_mutations, "max_mutations", 1, 64)
        if examples is not None and (not isinstance(examples, Sequence) or not all(isinstance(e, Mapping) for e in examples) or not examples):
            raise _fail("a non-empty sequence of records (dicts)", "examples", examples, False)
        parsed = _schema(schema, examples)
        if not parsed.fields:
            raise InvalidArgument("Expected a schema with at least one field")
        bases = st.sampled_from([dict(e) for e in examples]) if examples else record_values(parsed)

        @st.composite
        def one(draw: Any) -> tuple[str, str, int]:
            return _pick(draw, kinds, "mutations", MUTATIONS), draw(st.sampled_from(parsed.names)), draw(st.integers(0, 15))

        @st.composite
        def case(draw: Any) -> Case:
            record = draw(bases)
            # a list, so that Hypothesis shrinks by deleting mutations that do not matter
            count = _draw_integer(draw, most, "max_mutations", 1, 64)
            notes = []
            for kind, name, variant in draw(st.lists(one(), min_size=1, max_size=count)):
                record = mutate(record, kind, name, variant=variant, schema=parsed)
                notes.append(f"{kind} {name!r}" + (f" (variant {variant})" if variant else ""))
            return Case(record, "record with " + ", ".join(notes), ".json")

        return case()

    return st.deferred(build)
