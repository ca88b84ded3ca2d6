"""The measurements of the ``inputs[...]`` checks: :func:`run_check`, the family's ``run``.

* ``corrupt-files``, ``odd-modes``, ``odd-resolutions``, ``dtypes`` (image pipelines),
  ``missing-fields`` and ``dtypes`` (record pipelines): graceful failure, here. Fixed seed cases
  first (the pipeline's valid examples, which must get a prediction, and corrupted versions of
  them), then a Hypothesis search with the check's example budget; the failing inputs are shrunk,
  saved, and replayable with ``--mlguard-set inputs.replay=<file>``.
* ``compression``: the model's accuracy on its evaluation data re-encoded as JPEG and WebP at
  each quality, against the floor, as a curve; here.
* ``same-content`` (:mod:`.same_content`) and ``corpus-<dir>`` (:mod:`.corpora`).

A check planned for the other kind of pipeline than the fixture returned stops with a usage error,
and one that does not apply to it skips (:mod:`.kinds`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import stable_seed
from ..errors import CheckError, NotApplicable
from . import _generate as G
from .files import CORRUPT_FILE_CASES, encode_image
from ._corpora import corpus_check
from ._fuzz import Fuzzer, artifact_folder, database_dir, database_key, load_input, pipeline_of, pipeline_runner, time_limit
from ._kinds import applies, check_kind, kind_of, not_applicable
from .records import MISSING_MUTATIONS, TYPE_MUTATIONS
from ._same_content import same_content_check

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..checks._evaluation import Evaluation


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
    if getattr(data, "task", None) == "detection":  # images of any size, (C, H, W)
        images = data.images[:count]  # type: ignore[attr-defined]
        return [G.Case(encode_image(image, model.value_range), f"evaluation image {i} as PNG", ".png", valid=True) for i, image in enumerate(images)]
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
    pipeline = pipeline_of(evaluation)
    name = str(spec.name)
    is_record = pipeline.input == "record"
    settings = evaluation.settings
    runner, isolation = pipeline_runner(evaluation)
    fuzzer = Fuzzer(runner, pipeline.input, time_limit(evaluation))
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
            fuzzer.save(artifact_folder(evaluation, spec))
        value, n, details, message = fuzzer.measurement_parts(extra)
        if replay is not None:
            details.pop("replay", None)  # the rerun command already replays it
    finally:
        fuzzer.close()
    details["restarts"] = getattr(runner, "restarts", 0)
    return Measurement(value=value, n=n, details=details, message=message)



# -- compression ----------------------------------------------------------------------------------
def _compression(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    from .compression import compress_batch

    model, data = evaluation.model, evaluation.data
    task = getattr(model, "task", "classification")
    if task != "classification":
        raise NotApplicable(f"inputs[compression] measures a classifier's accuracy; a {task} model's under JPEG is corruption[jpeg_compression-<severity>]")
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
        return corpus_check(spec, evaluation)
    if kind == "compression":
        return _compression(spec, evaluation)
    if kind == "same-content":
        return same_content_check(spec, evaluation)
    return _fuzz(spec, evaluation)

