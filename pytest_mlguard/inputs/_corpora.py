"""``inputs[corpus-<dir>]``: every file of a corpus directory through the pipeline, each with its
verdict, and what a ``manifest.json`` beside the files says each one must get."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..checks._base import CheckSpec, Measurement
from ..errors import CheckError
from . import _generate as G
from ._fuzz import Failure, Fuzzer, artifact_folder, pipeline_of, pipeline_runner

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation

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


def corpus_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    pipeline = pipeline_of(evaluation)
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
        (artifact_folder(evaluation, spec) / "verdicts.json").write_text(json.dumps(details["inputs"], indent=1) + "\n")
    if not n:
        raise CheckError(f"no file of corpus directory {directory} could be read as input of a {pipeline.input} pipeline")
    return Measurement(value=value, n=n, details=details, message=message)


def _corpus_failure(name: str, raw: Any, outcome: Any, path: Path) -> Failure:
    return Failure(name, G.Case(raw, name, path.suffix), outcome, saved=path)

