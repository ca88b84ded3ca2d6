"""``inputs[same-content]``: the same picture in other encodings (or the same record written
otherwise) must get the class of the canonical input, per encoding; the value is the worst
encoding's agreement."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from ..checks._base import CheckSpec, Measurement
from ..errors import CheckError, NotApplicable
from . import _generate as G
from . import safe_name
from ._fuzz import Fuzzer, artifact_folder, pipeline_of, pipeline_runner, save_input, time_limit

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation

#: flipped inputs saved per encoding
SAVED_PER_ENCODING = 3


class _Tally:
    """Per encoding: how many samples kept their class, and the first flips."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Any]] = {}

    def add(self, name: str, what: str, cause: str, agreed: bool | float, flip: dict[str, Any] | None) -> dict[str, Any] | None:
        """``agreed``: whether the sample kept its class, or (a segmenter, a detector) its pixel- or box-level agreement."""
        row = self.rows.setdefault(name, {"encoding": name, "what": what, "cause": cause, "n": 0, "agreed": 0, "flips": []})
        row["n"] += 1
        row["agreed"] += agreed if isinstance(agreed, float) else int(agreed)
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
            changed = "the class" if isinstance(worst["agreed"], int) else "the outputs (pixel- or box-level agreement below the floor)"
            lines.append(f"encodings that changed {changed} ({len(below)} of {len(rows)}), by likely cause:")
            for cause in dict.fromkeys(r["cause"] for r in below):
                group = [r for r in below if r["cause"] == cause]
                lines.append(f"  {cause}")
                lines.append("    " + ", ".join(f"{r['encoding']} {r['agreement']:.4f} ({_count(r)})" for r in group))
                flip = next((f for f in group[0]["flips"]), None)
                if flip is not None:
                    lines.append(f"    e.g. {flip['input']} ({group[0]['what']}): {flip['detail']}")
                    if flip.get("saved"):
                        lines.append(f"    saved as {flip['saved']}")
        details = {**extra, "worst": worst["encoding"], "encodings": rows}
        if below:
            details["flipped"] = [r["encoding"] for r in below]
            details["causes"] = list(dict.fromkeys(r["cause"] for r in below))
        successes = worst["agreed"] if isinstance(worst["agreed"], int) else None  # a mean agreement counts no successes
        return Measurement(value=worst["agreement"], n=worst["n"], successes=successes, details=details, message="\n".join(lines))


def _count(row: dict[str, Any]) -> str:
    """``3 of 4`` samples that kept their class, or the number of samples a mean agreement is over."""
    return f"{row['agreed']} of {row['n']}" if isinstance(row["agreed"], int) else f"mean of {row['n']} samples"


def _differs(reference: Any, outcome: Any, rejection_agrees: bool) -> str | None:
    """Why ``outcome`` does not agree with the reference prediction (``None``: it agrees)."""
    if outcome.kind == "prediction":
        return None if outcome.label == reference.label else f"class {outcome.label!r} instead of {reference.label!r}"
    if outcome.kind == "rejection":
        return None if rejection_agrees else f"rejected: {outcome.detail}"
    return outcome.detail


def _agreement(reference: Any, outcome: Any, task: str) -> tuple[bool | float, str | None]:
    """Whether ``outcome`` kept the reference's class (a classifier), or its pixel- or box-level agreement
    with the reference (a segmenter, a detector: 0 where it gave no prediction); and why it differs."""
    if task == "classification" or outcome.kind != "prediction":
        why = _differs(reference, outcome, rejection_agrees=False)
        return (why is None if task == "classification" else 0.0), why
    from ..production._agreement import agreements, unit

    found = float(agreements(task, [reference.output], [outcome.output])[0])
    return found, None if found >= 1.0 else f"{unit(task)} agree on {found:.4f} with the canonical PNG's"


def _samples(evaluation: Evaluation) -> tuple[Any, tuple[int, ...]]:
    """The evaluation's images (an array, or a detector's list) and the shape of one, ``(C, H, W)``."""
    data = evaluation.data
    if getattr(data, "task", None) == "detection":
        images = data.images  # type: ignore[attr-defined]
        return images, tuple(images[0].shape)
    return data.x, tuple(evaluation.model.input_shape)


def same_content_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    pipeline = pipeline_of(evaluation)
    if pipeline.input == "record":
        return _same_record(spec, evaluation)
    from .encodings import ENCODINGS, canonical_png, to_uint8

    model, data = evaluation.model, evaluation.data
    task = getattr(model, "task", "classification")
    images, shape = _samples(evaluation)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise NotApplicable(f"same-content writes evaluation samples as pictures: it applies to image models with input (1 or 3, H, W); this model takes {shape}")
    channels = shape[0]
    chosen = spec.param("encodings") or tuple(ENCODINGS)
    encodings = [ENCODINGS[name] for name in chosen if name in ENCODINGS and channels in ENCODINGS[name].channels]
    if not encodings:
        raise NotApplicable(f"none of the encodings {list(chosen)} applies to pictures of {channels} channel(s)")
    runner, isolation = pipeline_runner(evaluation)
    fuzzer = Fuzzer(runner, pipeline.input, time_limit(evaluation))
    directory = artifact_folder(evaluation, spec)
    skipped: dict[str, int] = {}
    tally, unusable, samples = _Tally(), [], 0
    try:
        for index in range(min(int(spec.param("samples")), data.n)):
            if time.monotonic() > fuzzer.deadline:
                fuzzer.out_of_time = True
                break
            pixels = to_uint8(images[index], model.value_range)
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
                agreed, why = _agreement(reference, outcome, task)
                flip = None if why is None else {"input": name, "sample": index, "detail": why}
                row = tally.add(encoding.name, encoding.what, encoding.cause, agreed, flip)
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

    pipeline = pipeline_of(evaluation)
    chosen = [name for name in (spec.param("encodings") or EQUIVALENTS) if name in EQUIVALENTS]
    if not chosen:
        raise NotApplicable(f"none of the encodings {list(spec.param('encodings'))} applies to records; expected some of {EQUIVALENTS}")
    runner, isolation = pipeline_runner(evaluation)
    fuzzer = Fuzzer(runner, pipeline.input, time_limit(evaluation))
    directory = artifact_folder(evaluation, spec)
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

