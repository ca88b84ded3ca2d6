"""The ``inputs[corrupt-files]`` check's measurement."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checks.base import CheckSpec, Measurement
from ..errors import NotApplicable
from .files import CORRUPT_FILE_CASES, encode_image
from .graceful import Outcome, outcome_of

if TYPE_CHECKING:
    from ..checks.evaluation import Evaluation

__all__ = ["run_check"]


def _cases(evaluation: Evaluation, examples: int) -> list[tuple[str, bytes, bool]]:
    """(name, file bytes, valid) for each example and each corruption of it."""
    pipeline, model, data = evaluation.pipeline, evaluation.model, evaluation.data
    assert pipeline is not None
    if pipeline.examples is not None:
        originals = [bytes(e) for e in pipeline.examples[:examples]]
    else:
        originals = [encode_image(data.x[i], model.value_range) for i in range(min(examples, data.n))]
    cases = []
    for index, original in enumerate(originals):
        cases.append((f"example{index}-valid", original, True))
        for name, corrupt in CORRUPT_FILE_CASES.items():
            cases.append((f"example{index}-{name}", corrupt(original), False))
    return cases


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    pipeline, model = evaluation.pipeline, evaluation.model
    if pipeline is None:
        raise NotApplicable("no production pipeline: define an mlguard_pipeline fixture to fuzz it")
    if pipeline.input == "record":
        raise NotApplicable("corrupted files apply to image pipelines; this pipeline takes records")
    verdicts: list[dict[str, Any]] = []
    failures: list[tuple[str, bytes, Outcome]] = []
    with tempfile.TemporaryDirectory(prefix="mlguard-inputs-") as tmp:
        for name, raw, valid in _cases(evaluation, int(spec.param("examples", 3))):
            argument: Any = raw
            if pipeline.input == "image-path":
                argument = str(Path(tmp) / f"{name}.png")
                Path(argument).write_bytes(raw)
            outcome = outcome_of(
                pipeline.fn, argument, rejects=pipeline.rejects, n_classes=model.n_classes, class_names=model.class_names
            )
            if valid and outcome.kind == "rejection":
                outcome = Outcome("failure", f"rejected a valid input: {outcome.detail}")
            verdicts.append({"input": name, "bytes": len(raw), "outcome": outcome.kind, "detail": outcome.detail})
            if not outcome.graceful:
                failures.append((name, raw, outcome))
    message = ""
    if failures:
        directory = evaluation.artifact_dir(spec)
        for name, raw, _ in failures:
            (directory / f"{name}.bin").write_bytes(raw)
        (directory / "verdicts.json").write_text(json.dumps(verdicts, indent=2))
        lines = [f"  {name}: {outcome.detail}  (saved as {directory / (name + '.bin')})" for name, _, outcome in failures]
        message = "inputs the pipeline did not handle gracefully:\n" + "\n".join(lines)
    graceful = sum(v["outcome"] != "failure" for v in verdicts)
    return Measurement(
        value=graceful / len(verdicts),
        n=len(verdicts),
        details={"pipeline": pipeline.name, "inputs": verdicts},
        message=message,
    )
