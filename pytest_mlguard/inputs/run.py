"""The measurements of the ``inputs[...]`` checks.

* ``corrupt-files``, ``odd-modes``, ``odd-resolutions``, ``dtypes`` (image pipelines),
  ``missing-fields`` and ``dtypes`` (record pipelines): graceful failure. Fixed seed cases first
  (the pipeline's valid examples, which must get a prediction, and corrupted versions of them),
  then a Hypothesis search with the check's example budget; the failing inputs are shrunk,
  saved, and replayable with ``--mlguard-set inputs.replay=<file>``.
* ``same-content``: the same picture in other encodings (or the same record written otherwise)
  must get the class of the canonical input; the value is the worst encoding's agreement.
* ``corpus-<dir>``: every file of a corpus directory, each with its verdict.
* ``compression``: the model's accuracy on its evaluation data re-encoded as JPEG and WebP at
  each quality, against the floor, as a curve.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks.base import CheckSpec, Measurement
from ..checks.evaluation import stable_seed
from ..errors import CheckError, NotApplicable
from . import generate as G
from . import safe_name
from .files import CORRUPT_FILE_CASES, encode_image
from .fuzz import Failure, Fuzzer, database_dir, database_key, load_input, pipeline_runner, save_input
from .kinds import applies, check_kind, kind_of, not_applicable
from .records import MISSING_MUTATIONS, TYPE_MUTATIONS

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..checks.evaluation import Evaluation

__all__ = ["run_check"]



def _artifacts(evaluation: Evaluation, spec: CheckSpec) -> Path:
    """The check's artefact directory, one folder per pipeline (a fixture may be parametrised over several)."""
    name = (evaluation.pipeline.name if evaluation.pipeline is not None else None) or "pipeline"
    directory = evaluation.artifact_dir(spec) / safe_name(name)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _pipeline(evaluation: Evaluation) -> Any:
    if evaluation.pipeline is None:
        raise NotApplicable("no production pipeline: define an mlguard_pipeline fixture to fuzz it")
    return evaluation.pipeline


def _examples(evaluation: Evaluation, count: int) -> list[G.Case]:
    """The pipeline's valid examples (default: evaluation samples encoded as PNG)."""
    pipeline, model, data = evaluation.pipeline, evaluation.model, evaluation.data
    assert pipeline is not None
    if pipeline.examples is not None:
        raws = list(pipeline.examples[:count])
        if pipeline.input != "record":
            raws = [Path(raw).read_bytes() if isinstance(raw, (str, Path)) else bytes(raw) for raw in raws]
        suffix = ".json" if pipeline.input == "record" else ".png"
        return [G.Case(raw, f"example {i}", suffix, valid=True) for i, raw in enumerate(raws)]
    if len(model.input_shape) != 3 or model.input_shape[0] not in (1, 3, 4):
        raise NotApplicable(
            f"the model's input {model.input_shape} is not an image (C, H, W): give the pipeline examples=[...] of valid files"
        )
    return [
        G.Case(encode_image(data.x[i], model.value_range), f"evaluation sample {i} as PNG", ".png", valid=True)
        for i in range(min(count, data.n))
    ]


def _image_seeds(examples: list[G.Case]) -> list[tuple[str, G.Case, bool]]:
    cases: list[tuple[str, G.Case, bool]] = []
    for index, example in enumerate(examples):
        cases.append((f"example{index}-valid", example, True))
        for name, corrupt in CORRUPT_FILE_CASES.items():
            cases.append((f"example{index}-{name}", G.Case(corrupt(example.raw), f"{example.description}, {name}", example.suffix), False))
    return cases


def _strategy(name: str, evaluation: Evaluation, examples: list[G.Case]) -> SearchStrategy[G.Case]:
    """The Hypothesis strategy of a graceful-failure check."""
    from hypothesis import strategies as st

    settings = evaluation.settings
    if name == "corrupt-files":
        generated = G.valid_file_cases()
        valid = st.one_of(st.sampled_from(examples), generated) if examples else generated
        return G.corrupt_file_cases(files=valid)
    if name == "odd-modes":
        return G.valid_file_cases(G.file_cases(float_ranges=("unit",)))
    if name == "odd-resolutions":
        sizes = G.resolutions(max_side=settings.get("inputs.max_side"), max_pixels=settings.get("inputs.max_pixels"))
        return G.file_cases(formats=("PNG", "JPEG"), modes=("L", "RGB"), resolution=sizes, interlaced=False, exif=False, max_frames=1)
    if name == "dtypes":
        return G.file_cases(formats=("PNG", "TIFF"), modes=("L", "1", "I;16", "I", "F"), interlaced=False, exif=False, max_frames=1)
    raise AssertionError(name)


def _fuzz(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    pipeline = _pipeline(evaluation)
    name = str(spec.name)
    is_record = pipeline.input == "record"
    settings = evaluation.settings
    runner, isolation = pipeline_runner(evaluation)
    seconds = settings.get("inputs.time_budget")
    if getattr(evaluation.limits, "seconds", None) is not None:  # a share of --mlguard-budget
        seconds = min(seconds, evaluation.limits.seconds)
    fuzzer = Fuzzer(runner, pipeline.input, seconds)
    extra: dict[str, Any] = {"pipeline": pipeline.name, "isolation": isolation}
    try:
        replay = settings.get("inputs.replay")
        if replay is not None:
            path = Path(replay)
            if not path.is_file():
                raise CheckError(f"inputs.replay: no file {path}")
            case = G.Case(load_input(path, pipeline.input), f"replayed {path}", path.suffix)
            fuzzer.seed([(f"replay-{path.stem}", case, False)])
            extra["replayed"] = str(path)
        else:
            examples = _examples(evaluation, int(settings.get("inputs.examples")))
            budget = int(spec.param("examples"))
            if is_record:
                mutations = MISSING_MUTATIONS if name == "missing-fields" else TYPE_MUTATIONS
                seeds = [(f"example{i}-valid", example, True) for i, example in enumerate(examples)]
                # every example: the fields' types and ranges are inferred from all of them
                strategy = G.malformed_record_cases(examples=list(pipeline.examples), mutations=mutations)
            else:
                seeds = _image_seeds(examples) if name == "corrupt-files" else [(f"example{i}-valid", e, True) for i, e in enumerate(examples)]
                strategy = _strategy(name, evaluation, examples)
            fuzzer.replay(database_dir(evaluation), database_key(evaluation, spec))
            fuzzer.seed(seeds)
            fuzzer.search(
                strategy,
                budget=budget,
                seed=stable_seed(settings.seed, evaluation.model_id, spec.id),
                database=database_dir(evaluation),
                key=database_key(evaluation, spec),
            )
            extra["budget"] = budget
        if fuzzer.failures and replay is None:
            fuzzer.save(_artifacts(evaluation, spec))
        value, n, details, message = fuzzer.measurement_parts(extra)
        if replay is not None:
            details.pop("replay", None)  # the rerun command already replays it
    finally:
        fuzzer.close()
    details["restarts"] = getattr(runner, "restarts", 0)
    return Measurement(value=value, n=n, details=details, message=message)


# -- corpora --------------------------------------------------------------------------------------
MANIFEST = "manifest.json"
#: what a manifest's ``expect`` may say, and what its ``kind`` labels mean without one
EXPECTATIONS = {"prediction": True, "prediction-or-rejection": False}
_KIND_EXPECTS = {"odd": "prediction", "valid": "prediction", "corrupt": "prediction-or-rejection"}


def _corpus_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts) and p.relative_to(directory) != Path(MANIFEST)
    )


def corpus_manifest(directory: Path) -> tuple[Path | None, dict[str, bool]]:
    """The manifest of a corpus directory and, per file (its path relative to the directory),
    whether it must get a prediction.

    The manifest is ``manifest.json`` in the directory, or beside it (in its parent) when that one
    lists files of the directory: ``{"files": [{"file": "rgb.png", "expect": "prediction"}, ...]}``.
    ``expect`` is ``"prediction"`` (a valid picture: a rejection fails) or
    ``"prediction-or-rejection"``; without it, ``"kind": "odd"`` (or ``"valid"``) means a
    prediction and ``"kind": "corrupt"`` either. Files it does not list keep the default: either.

    Raises:
        CheckError: the directory's own manifest is not JSON or an entry says something else.
    """
    for candidate, own in ((directory / MANIFEST, True), (directory.parent / MANIFEST, False)):
        if not candidate.is_file():
            continue
        try:
            document = json.loads(candidate.read_text(encoding="utf-8"))
            entries = document["files"]
            listed = {str(entry["file"]): entry for entry in entries}
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            if own:
                raise CheckError(
                    f"corpus manifest {candidate}: expected a JSON object with a list 'files' of objects with a 'file' "
                    f"key, got an unreadable document ({type(exc).__name__}: {exc})"
                ) from None
            continue  # a manifest.json of something else beside the corpus
        if not own and not any((directory / name).is_file() for name in listed):
            continue
        expectations: dict[str, bool] = {}
        for name, entry in listed.items():
            expect = entry.get("expect", _KIND_EXPECTS.get(entry.get("kind")))
            if expect not in EXPECTATIONS:
                raise CheckError(
                    f"corpus manifest {candidate}, file {name!r}: expected 'expect' to be one of {list(EXPECTATIONS)} "
                    f"(or a 'kind' of {list(_KIND_EXPECTS)}), got expect={entry.get('expect')!r}, kind={entry.get('kind')!r}"
                )
            expectations[name] = EXPECTATIONS[expect]
        return candidate, expectations
    return None, {}


def _corpus(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    pipeline = _pipeline(evaluation)
    directory = Path(spec.param("path"))
    if not directory.is_dir():
        raise CheckError(f"corpus directory {directory} (inputs.corpora) does not exist or is not a directory")
    files = _corpus_files(directory)
    if not files:
        raise CheckError(f"corpus directory {directory} (inputs.corpora) holds no files")
    manifest, expectations = corpus_manifest(directory)
    runner, isolation = pipeline_runner(evaluation)
    fuzzer = Fuzzer(runner, pipeline.input, float("inf"))
    unreadable: list[dict[str, Any]] = []
    try:
        for path in files:
            name = str(path.relative_to(directory))
            must_predict = expectations.get(path.relative_to(directory).as_posix(), False)
            if pipeline.input == "record":
                try:
                    loaded = json.loads(path.read_text(encoding="utf-8"))
                except (UnicodeDecodeError, ValueError) as exc:
                    unreadable.append({"input": name, "outcome": "unreadable", "detail": f"not a JSON record: {exc}"})
                    continue
                records = loaded if isinstance(loaded, list) else [loaded]
                for index, record in enumerate(records):
                    label = name if len(records) == 1 else f"{name}[{index}]"
                    outcome = fuzzer.run(G.Case(record, label, ".json"), label, repeats=True, must_predict=must_predict)
                    if not outcome.graceful:
                        fuzzer.failures.append(_corpus_failure(label, record, outcome, path))
                continue
            raw = str(path) if pipeline.input == "image-path" else path.read_bytes()
            outcome = fuzzer.run(G.Case(raw, name, path.suffix), name, repeats=True, must_predict=must_predict)
            if not outcome.graceful:
                fuzzer.failures.append(_corpus_failure(name, raw, outcome, path))
        extra: dict[str, Any] = {"pipeline": pipeline.name, "isolation": isolation, "directory": str(directory)}
        if manifest is not None:
            present = {p.relative_to(directory).as_posix() for p in files}
            extra["manifest"] = {
                "path": str(manifest),
                "must_predict": sum(must for name, must in expectations.items() if name in present),
                "missing": sorted(name for name in expectations if name not in present)[:50],
            }
        value, n, details, message = fuzzer.measurement_parts(extra)
    finally:
        fuzzer.close()
    listed = details["inputs"]
    n = len(listed)
    value = sum(v["outcome"] != "failure" for v in listed) / n if n else value
    details["inputs"] = listed + unreadable
    details["files"] = len(files)
    if fuzzer.failures:
        first = fuzzer.failures[0]
        details["replay"] = ["--mlguard-set", f"inputs.replay={first.saved}"]
        (_artifacts(evaluation, spec) / "verdicts.json").write_text(json.dumps(details["inputs"], indent=1) + "\n")
    if not n:
        raise CheckError(f"no file of corpus directory {directory} could be read as input of a {pipeline.input} pipeline")
    return Measurement(value=value, n=n, details=details, message=message)


def _corpus_failure(name: str, raw: Any, outcome: Any, path: Path) -> Failure:
    return Failure(name, G.Case(raw, name, path.suffix), outcome, saved=path)


# -- same content ---------------------------------------------------------------------------------
#: flipped inputs saved per encoding
SAVED_PER_ENCODING = 3


class _Tally:
    """Per encoding: how many samples kept their class, and the first flips."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def add(self, name: str, what: str, cause: str, agreed: bool, flip: dict[str, Any] | None) -> dict[str, Any] | None:
        row = self.rows.setdefault(name, {"encoding": name, "what": what, "cause": cause, "n": 0, "agreed": 0, "flips": []})
        row["n"] += 1
        row["agreed"] += int(agreed)
        if flip is not None and len(row["flips"]) < SAVED_PER_ENCODING:
            row["flips"].append(flip)
            return row
        return None

    def measurement(self, floor: float, extra: dict[str, Any], unit: str) -> Measurement:
        rows = [r for r in self.rows.values() if r["n"]]
        if not rows:
            raise CheckError(f"no {unit} could be written in any encoding")
        for row in rows:
            row["agreement"] = row["agreed"] / row["n"]
        worst = min(rows, key=lambda r: (r["agreement"], -r["n"]))
        below = sorted((r for r in rows if r["agreement"] < floor), key=lambda r: r["agreement"])
        lines = []
        if below:
            lines.append(f"encodings that changed the class ({len(below)} of {len(rows)}), by likely cause:")
            for cause in dict.fromkeys(r["cause"] for r in below):
                group = [r for r in below if r["cause"] == cause]
                lines.append(f"  {cause}")
                lines.append("    " + ", ".join(f"{r['encoding']} {r['agreement']:.4f} ({r['agreed']} of {r['n']})" for r in group))
                flip = next((f for f in group[0]["flips"]), None)
                if flip is not None:
                    lines.append(f"    e.g. {flip['input']} ({group[0]['what']}): {flip['detail']}")
                    if flip.get("saved"):
                        lines.append(f"    saved as {flip['saved']}")
        details = {**extra, "worst": worst["encoding"], "encodings": rows}
        if below:
            details["flipped"] = [r["encoding"] for r in below]
            details["causes"] = list(dict.fromkeys(r["cause"] for r in below))
        return Measurement(value=worst["agreement"], n=worst["n"], successes=worst["agreed"], details=details, message="\n".join(lines))


def _differs(reference: Any, outcome: Any, rejection_agrees: bool) -> str | None:
    """Why ``outcome`` does not agree with the reference prediction (``None``: it agrees)."""
    if outcome.kind == "prediction":
        return None if outcome.label == reference.label else f"class {outcome.label!r} instead of {reference.label!r}"
    if outcome.kind == "rejection":
        return None if rejection_agrees else f"rejected: {outcome.detail}"
    return outcome.detail


def _time_limit(evaluation: Evaluation) -> float:
    seconds = evaluation.settings.get("inputs.time_budget")
    if getattr(evaluation.limits, "seconds", None) is not None:  # a share of --mlguard-budget
        seconds = min(seconds, evaluation.limits.seconds)
    return float(seconds)


def _same_content(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    pipeline = _pipeline(evaluation)
    if pipeline.input == "record":
        return _same_record(spec, evaluation)
    from .encodings import ENCODINGS, canonical_png, to_uint8

    model, data = evaluation.model, evaluation.data
    shape = model.input_shape
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise NotApplicable(f"same-content writes evaluation samples as pictures: it applies to image models with input (1 or 3, H, W); this model takes {shape}")
    channels = shape[0]
    chosen = spec.param("encodings") or tuple(ENCODINGS)
    encodings = [ENCODINGS[name] for name in chosen if name in ENCODINGS and channels in ENCODINGS[name].channels]
    if not encodings:
        raise NotApplicable(f"none of the encodings {list(chosen)} applies to pictures of {channels} channel(s)")
    runner, isolation = pipeline_runner(evaluation)
    fuzzer = Fuzzer(runner, pipeline.input, _time_limit(evaluation))
    directory = _artifacts(evaluation, spec)
    skipped: dict[str, int] = {}
    tally, unusable, samples = _Tally(), [], 0
    try:
        for index in range(min(int(spec.param("samples")), data.n)):
            if time.monotonic() > fuzzer.deadline:
                fuzzer.out_of_time = True
                break
            pixels = to_uint8(data.x[index], model.value_range)
            canonical = G.Case(canonical_png(pixels), f"evaluation sample {index} as 8-bit PNG", ".png")
            reference = fuzzer.run(canonical, f"sample{index}-canonical", record=False)
            if reference.kind != "prediction":
                unusable.append({"input": f"sample{index}", "detail": reference.detail})
                continue
            samples += 1
            for encoding in encodings:
                raw = encoding.encode(pixels)
                if raw is None:
                    skipped[encoding.name] = skipped.get(encoding.name, 0) + 1
                    continue
                name = f"sample{index}-{encoding.name}"
                outcome = fuzzer.run(G.Case(raw, f"evaluation sample {index} as {encoding.what}", encoding.suffix), name, record=False)
                why = _differs(reference, outcome, rejection_agrees=False)
                flip = None if why is None else {"input": name, "sample": index, "detail": why}
                row = tally.add(encoding.name, encoding.what, encoding.cause, why is None, flip)
                if row is not None and flip is not None:
                    folder = directory / safe_name(encoding.name)
                    flip["saved"] = str(save_input(raw, folder, f"sample{index}", encoding.suffix))
                    save_input(canonical.raw, folder, f"sample{index}-canonical", ".png")
    finally:
        fuzzer.close()
    extra = {"pipeline": pipeline.name, "isolation": isolation, "samples": samples, "out_of_time": fuzzer.out_of_time}
    if unusable:
        extra["canonical_not_predicted"] = unusable[:20]
    if skipped:
        extra["not_representable"] = skipped  # e.g. a palette of more than 256 colours
    if not samples:
        first = unusable[0]["detail"] if unusable else "no samples"
        raise CheckError(f"the pipeline gave no prediction for any canonical PNG of the evaluation samples (first: {first})")
    measurement = tally.measurement(float(spec.threshold.value), extra, "samples")
    (directory / "encodings.json").write_text(json.dumps(measurement.details["encodings"], indent=1) + "\n")
    return measurement


def _same_record(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    from .records import EQUIVALENTS, equivalent_record

    pipeline = _pipeline(evaluation)
    chosen = [name for name in (spec.param("encodings") or EQUIVALENTS) if name in EQUIVALENTS]
    if not chosen:
        raise NotApplicable(f"none of the encodings {list(spec.param('encodings'))} applies to records; expected some of {EQUIVALENTS}")
    runner, isolation = pipeline_runner(evaluation)
    fuzzer = Fuzzer(runner, pipeline.input, _time_limit(evaluation))
    directory = _artifacts(evaluation, spec)
    tally, unusable, records = _Tally(), [], 0
    whats = {
        "reordered": ("the fields in reverse order", "fields read by position instead of by name"),
        "int-as-float": ("integers written as floats (3 as 3.0)", "a number's type changes its meaning (an int/float branch)"),
        "float-as-int": ("integral floats written as integers (3.0 as 3)", "a number's type changes its meaning (an int/float branch)"),
        "numeric-strings": ('numbers written as text ("3.5")', "numeric text parsed into a different value: accept it exactly or reject it"),
        "nfc": ("strings in Unicode normal form C", "strings compared without Unicode normalisation"),
        "nfd": ("strings in Unicode normal form D (decomposed accents)", "strings compared without Unicode normalisation"),
        "extra-field": ("an unknown extra field", "an unknown field changes the prediction: ignore it or reject the record"),
    }
    try:
        for index, record in enumerate(list(pipeline.examples or ())[: int(spec.param("samples"))]):
            if time.monotonic() > fuzzer.deadline:
                fuzzer.out_of_time = True
                break
            reference = fuzzer.run(G.Case(record, f"example {index}", ".json"), f"example{index}", record=False)
            if reference.kind != "prediction":
                unusable.append({"input": f"example{index}", "detail": reference.detail})
                continue
            records += 1
            for kind in chosen:
                rewritten = equivalent_record(record, kind)
                if rewritten is None:
                    continue
                what, cause = whats[kind]
                name = f"example{index}-{kind}"
                outcome = fuzzer.run(G.Case(rewritten, f"example {index} with {what}", ".json"), name, record=False)
                why = _differs(reference, outcome, rejection_agrees=True)
                flip = None if why is None else {"input": name, "sample": index, "detail": why}
                row = tally.add(kind, what, cause, why is None, flip)
                if row is not None and flip is not None:
                    flip["saved"] = str(save_input(rewritten, directory / kind, f"example{index}", ".json"))
    finally:
        fuzzer.close()
    extra = {"pipeline": pipeline.name, "isolation": isolation, "samples": records, "out_of_time": fuzzer.out_of_time}
    if unusable:
        extra["canonical_not_predicted"] = unusable[:20]
    if not records:
        first = unusable[0]["detail"] if unusable else "no examples"
        raise CheckError(f"the pipeline gave no prediction for any of its example records (first: {first})")
    return tally.measurement(float(spec.threshold.value), extra, "records")


# -- compression ----------------------------------------------------------------------------------
def _compression(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    from .compression import compress_batch

    model, data = evaluation.model, evaluation.data
    shape = model.input_shape
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise NotApplicable(f"compression applies to image models with input (1 or 3, H, W); this model takes {shape}")
    clean = evaluation.clean_accuracy()

    def accuracy(x: np.ndarray) -> float:
        return float((model.predict_proba(x).argmax(axis=1) == data.y).mean())

    lossless = accuracy(compress_batch(data.x, model.value_range, "PNG", 100))
    curve = []
    for fmt in spec.param("formats"):
        for quality in spec.param("qualities"):
            value = accuracy(compress_batch(data.x, model.value_range, fmt.upper(), quality))
            curve.append({"format": fmt, "quality": quality, "accuracy": value})
    worst = min(curve, key=lambda point: point["accuracy"])
    return Measurement(
        value=worst["accuracy"],
        n=data.n,
        clean=clean,
        details={
            "clean_accuracy": clean,
            "png_accuracy": lossless,
            "curve": curve,
            "worst": f"{worst['format']}-{worst['quality']}",
        },
        message=f"worst: {worst['format']} quality {worst['quality']}: accuracy {worst['accuracy']:.4f} "
        f"(clean {clean:.4f}, 8-bit PNG {lossless:.4f}); the curve is in the report",
    )


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    pipeline = evaluation.pipeline
    if pipeline is not None:
        check_kind(spec, pipeline.input, evaluation.settings)  # the kind the suite planned for
        if not applies(str(spec.name), kind_of(pipeline.input)):
            raise not_applicable(spec, kind_of(pipeline.input), evaluation.settings)
    kind = spec.param("kind")
    if kind == "corpus":
        return _corpus(spec, evaluation)
    if kind == "compression":
        return _compression(spec, evaluation)
    if kind == "same-content":
        return _same_content(spec, evaluation)
    return _fuzz(spec, evaluation)

