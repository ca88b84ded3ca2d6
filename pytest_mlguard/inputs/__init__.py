"""Graceful failure of the production pipeline on the inputs production sends: ``inputs[...]``.

For every input the pipeline must return a valid prediction or raise one of the exceptions it
declared as clean rejections, with a message. Anything else fails the check: another exception,
NaN or inf, a wrong shape, a crash of the process, a hang past ``timeout``, memory past
``memory_mb``. The pipeline runs in an isolated worker process (see :mod:`.isolation`), so the
session survives all of these.

Checks (``[tool.mlguard.inputs] checks``), each a Hypothesis search with its own example budget,
after fixed seed cases:

* ``corrupt-files``: truncated, bit-flipped, mangled, mislabelled files, garbage, decompression bombs;
* ``odd-modes``: valid files in every format and mode (CMYK, 16-bit, palette with transparency,
  LA, 1-bit, EXIF orientation, interlaced/progressive, several frames);
* ``odd-resolutions``: 1x1, 1xN, extreme aspect ratios, sizes off a stride, large images;
* ``dtypes``: 1-, 8-, 16-, 32-bit and float pixels (image pipelines), values of the wrong type,
  out of range or unseen categories (record pipelines);
* ``missing-fields``: records with missing fields, ``None``, NaN, inf, empty or odd strings, extra fields;
* ``same-content``: the same picture in other encodings (EXIF orientations, 16-bit, 32-bit and float
  samples, CMYK, palettes, alpha, ICC profiles, ...) or the same record written otherwise (fields
  reordered, ``3`` as ``3.0``, numbers as text, Unicode normal forms, an extra field) must get the
  class of the canonical input (or, for records, a declared rejection), per encoding, against
  ``same_content.floor``;
* ``compression``: the model's accuracy on its evaluation data re-encoded as JPEG and WebP at
  each quality, against ``compression.floor``, as a curve;
* ``corpus-<dir>``, one per directory of ``corpora``: every file, each with its verdict. They run
  before the searches.

Settings (``[tool.mlguard.inputs]``): ``checks``, ``pipeline`` (``"auto"``, ``"image"`` or
``"record"``: the checks planned are those that apply to it, see :mod:`.kinds`), ``max_examples`` (the example budget of each
search, default 100), ``budgets`` (per check, ``{odd-modes = 300}``), ``examples`` (valid examples
the seed cases are made from, default 3), ``floor`` (the fraction of inputs to handle gracefully,
default 1.0), ``timeout`` (seconds per input, default 10), ``memory_mb`` (memory an input may
allocate, default 1024; 0: no cap), ``isolation`` (``"process"`` or ``"none"``), ``time_budget``
(seconds per check, default 120), ``max_side`` and ``max_pixels`` (odd resolutions), ``corpora``,
``replay`` (run one saved input), ``[tool.mlguard.inputs.same_content]`` ``samples``,
``encodings``, ``floor``, and ``[tool.mlguard.inputs.compression]`` ``formats``, ``qualities``,
``floor``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..checks._base import CheckSpec, Family
from ..checks._family import task_of
from ..config.parse import (
    Threshold,
    invalid,
    parse_choice,
    parse_int,
    parse_list,
    parse_number,
    parse_optional,
    parse_path,
    parse_table,
    parse_threshold,
)
from ..config._settings import Key, Settings
from ._kinds import PIPELINE_SETTINGS, applies, kind_of


#: the graceful-failure searches, encoding equivalence and the compression curve, in the order they run
CHECKS: tuple[str, ...] = ("corrupt-files", "odd-modes", "odd-resolutions", "dtypes", "missing-fields", "same-content", "compression")
_FUZZ_CHECKS = CHECKS[:5]


def _parse_check(value: Any, key: str, where: str) -> str:
    if value not in CHECKS:
        raise invalid(value, key, where, f"an inputs check, one of {', '.join(CHECKS)}")
    return str(value)


def _parse_format(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or value.lower() not in ("jpeg", "webp"):
        raise invalid(value, key, where, "'jpeg' or 'webp'")
    return value.lower()


def _parse_encoding(value: Any, key: str, where: str) -> str:
    from .encodings import ENCODINGS
    from .records import EQUIVALENTS

    known = (*ENCODINGS, *EQUIVALENTS)
    if value not in known:
        raise invalid(value, key, where, f"an encoding of the same content, one of {', '.join(known)}")
    return str(value)


def _parse_agreement(value: Any, key: str, where: str) -> Threshold:
    return Threshold(parse_number(0.0, 1.0)(value, key, where))


def safe_name(name: str) -> str:
    """``name`` with every character but letters, digits, ``-``, ``_`` and ``.`` replaced by ``_``."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _corpus_names(paths: tuple[Path, ...]) -> list[str]:
    """``corpus-<dir name>`` for each corpus directory, numbered where names repeat."""
    names: list[str] = []
    for path in paths:
        base = "corpus-" + (safe_name(path.name) or "dir")
        name, count = base, 2
        while name in names:
            name, count = f"{base}-{count}", count + 1
        names.append(name)
    return names


def _searches(spec: CheckSpec) -> bool:
    """Whether ``spec`` searches for as long as it is given (all but the corpus and compression checks)."""
    return spec.param("kind") not in ("corpus", "compression")


def _applies(spec: CheckSpec, pipeline_input: str) -> bool:
    """Whether ``spec`` applies to a pipeline of ``pipeline_input`` (:func:`.kinds.applies`, one rule for the plan and the budget)."""
    return applies(str(spec.name), kind_of(pipeline_input))


def _make(name: str | None, settings: Settings) -> CheckSpec:
    """The spec of ``inputs[<name>]`` under ``settings``."""
    floor = settings.get("inputs.floor")
    if name in _FUZZ_CHECKS:
        budget = settings.get("inputs.budgets").get(name, settings.get("inputs.max_examples"))
        return CheckSpec("inputs", name, "graceful_fraction", floor, params=(("kind", "fuzz"), ("examples", budget)), keywords=("fuzz",))
    if name == "same-content":
        params = (
            ("kind", "same-content"),
            ("samples", settings.get("inputs.same_content.samples")),
            ("encodings", settings.get("inputs.same_content.encodings")),
        )
        return CheckSpec("inputs", name, "agreement", settings.get("inputs.same_content.floor"), params=params)
    if name == "compression":
        params = (
            ("kind", "compression"),
            ("formats", settings.get("inputs.compression.formats")),
            ("qualities", settings.get("inputs.compression.qualities")),
        )
        return CheckSpec("inputs", name, "accuracy", settings.get("inputs.compression.floor"), params=params)
    corpora = settings.get("inputs.corpora")
    for corpus_name, path in zip(_corpus_names(corpora), corpora):
        if corpus_name == name:
            return CheckSpec("inputs", name, "graceful_fraction", floor, params=(("kind", "corpus"), ("path", str(path))), keywords=("corpus",))
    known = [*CHECKS, *_corpus_names(corpora)]
    raise KeyError(f"no check inputs[{name}]; expected one of {known} (corpus checks come from inputs.corpora)")


def _plan(settings: Settings) -> list[CheckSpec]:
    """The corpus checks, then ``inputs.checks``: those of the default that apply to the declared
    ``inputs.pipeline`` (under ``"auto"`` the suite reads the kind from the fixture: :mod:`.hooks`)."""
    corpora = [_make(name, settings) for name in _corpus_names(settings.get("inputs.corpora"))]
    kind = settings.get("inputs.pipeline")
    names = settings.get("inputs.checks")
    if task_of(settings) != "classification" and settings.source("inputs.checks") == "default":
        names = [name for name in names if name != "compression"]  # a classifier's accuracy: corruption[jpeg_compression-*] measures the others'
    if kind != "auto" and settings.source("inputs.checks") == "default":  # a check asked for by name stays, and skips saying why
        names = [name for name in names if applies(name, kind)]
    return corpora + [_make(name, settings) for name in names]


FAMILY = Family(
    name="inputs",
    keys=(
        Key("inputs.checks", parse_list(_parse_check), CHECKS, "inputs checks to run, besides one per corpus directory"),
        Key(
            "inputs.pipeline",
            parse_choice(*PIPELINE_SETTINGS),
            "auto",
            "the kind of pipeline mlguard_pipeline returns, so that only the checks that apply to it are planned; auto: "
            "read from the fixture's source at collection",
        ),
        Key("inputs.max_examples", parse_int(1, 100000), 100, "Hypothesis example budget of each inputs check"),
        Key("inputs.budgets", parse_table(parse_int(1, 100000), name=_parse_check), {}, "example budgets per check, such as odd-modes = 300", table=True),
        Key("inputs.examples", parse_int(1, 1000), 3, "valid examples the seed cases are made from"),
        Key("inputs.floor", parse_threshold, Threshold(1.0), "fraction of inputs that must be handled gracefully"),
        Key("inputs.timeout", parse_number(0.0, 3600.0, open_min=True), 10.0, "seconds the pipeline may take on one input before it counts as hung"),
        Key("inputs.memory_mb", parse_int(0, 1 << 20), 1024, "MiB one input may allocate in the isolated worker (0: no cap)"),
        Key("inputs.isolation", parse_choice("process", "none"), "process", "run the pipeline in an isolated worker process, or in the test process"),
        Key("inputs.time_budget", parse_number(0.0, 86400.0, open_min=True), 120.0, "seconds each inputs check may search and shrink"),
        Key("inputs.max_side", parse_int(1, 65535), 1024, "largest side of the odd-resolutions images"),
        Key("inputs.max_pixels", parse_int(1), 1 << 20, "most pixels of an odd-resolutions image"),
        Key("inputs.corpora", parse_list(parse_path), (), "corpus directories: every file gets a verdict, one check per directory"),
        Key("inputs.replay", parse_optional(parse_path), None, "a saved failing input: run only it (the failure message gives the command)"),
        Key("inputs.same_content.samples", parse_int(1, 100000), 100, "evaluation samples (or record examples) written in every encoding"),
        Key("inputs.same_content.encodings", parse_list(_parse_encoding), (), "encodings of inputs[same-content] to run (empty: all)"),
        Key("inputs.same_content.floor", _parse_agreement, Threshold(0.98), "fraction of samples whose class each encoding must keep"),
        Key("inputs.compression.formats", parse_list(_parse_format), ("jpeg", "webp"), "formats of the compression curve"),
        Key("inputs.compression.qualities", parse_list(parse_int(1, 100)), (90, 75, 50, 30, 10), "qualities of the compression curve"),
        Key("inputs.compression.floor", parse_threshold, Threshold(0.8, "clean"), "floor of accuracy at each point of the compression curve"),
    ),
    plan=_plan,
    make=_make,
    run="pytest_mlguard.inputs._run:run_check",
    hooks="pytest_mlguard.inputs._hooks",  # plans only the checks that apply to the conftest's pipeline
    needs=("model", "data", "pipeline"),
    rank=5,
    # searches last: they can use any time, so they take what the other checks leave
    rank_of=lambda spec: 8 if spec.param("kind") not in ("corpus", "compression") else None,
    doc="the production pipeline on messy inputs: a valid prediction or a declared rejection, nothing else",
    # under a budget: the searches take the time they are given, the corpus and compression checks are timed by kind
    prior_seconds=3.0,
    timed_as=lambda spec: str(spec.param("kind")),
    searches=_searches,
    search_seconds=lambda settings: float(settings.get("inputs.time_budget")),
    applies=_applies,
    tasks=("classification", "segmentation", "detection"),  # a segmenter's or a detector's pipeline: masks or boxes, pixel- and box-level agreement
)
