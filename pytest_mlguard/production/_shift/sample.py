"""What ``mlguard_production`` may return, turned into model inputs: the logged production sample.

* an array (numpy, a tensor, or a list of arrays) of model inputs ``(N, *input_shape)`` in raw units;
* for a model of 1-D inputs (a table), its columns by name, in the model's input order: a dict of
  equal-length columns, or a data frame (anything with ``columns`` and ``to_numpy``); the messages
  then name the columns;
* a list of image files (paths) or of their contents (bytes), or a folder of image files, decoded
  as the service decodes them where ``mlguard_pipeline`` declares a ``decode`` (what it rejects left
  out, and counted), else here as the model takes them: grey or RGB after the EXIF orientation,
  resized to the input's height and width (bilinear), scaled from 0..255 to the model's ``value_range``;
* records: a list of dicts, or the path of a JSON-lines file of them; for a model of records (a
  ``RecordModel``), encoded through its schema, with what the schema cannot hold counted
  (:mod:`.records`); for another model of 1-D inputs, read as a table's columns.

Anything else, too few samples, samples of another shape or values that are not finite are a
:class:`~pytest_mlguard.errors.ContractError` naming the fixture, what was expected and what was given.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ...contract._model import Model
from ...errors import ContractError

FIXTURE = "mlguard_production"
#: the fewest production samples the two-sample tests are run on
MIN_SAMPLES = 10
_EXPECTED = (
    "an array of model inputs (N, *input_shape), a table's columns by name, records (dicts, or a JSON-lines file), "
    "or image files (a list of paths or of their bytes, or a folder), with at least "
    f"{MIN_SAMPLES} samples (see docs/drift.md)"
)


@dataclass(frozen=True)
class ProductionSample:
    """The logged inputs as model inputs, what the image files were like (``files``: counts of
    formats, modes and sizes; empty for arrays), the names of a table's columns (``None``: not given),
    and for records encoded through a schema, the counts of :func:`.records.encode_records`
    (``records``) and where each column's values were outside the schema (``outside``)."""

    x: np.ndarray
    files: Mapping[str, Any] = field(default_factory=dict)
    columns: tuple[str, ...] | None = None
    records: Mapping[str, Any] | None = None
    outside: Mapping[str, np.ndarray] | None = None


def _described(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, (list, tuple)):
        kinds = sorted({type(item).__name__ for item in value[:50]})
        return f"a {type(value).__name__} of {len(value)} items ({', '.join(kinds) or 'empty'})"
    return f"{type(value).__name__} {value!r:.60}"


def _error(message: str) -> ContractError:
    return ContractError(message, fixture=FIXTURE)


def production_sample(value: Any, model: Model, pipeline: Any = None) -> ProductionSample:
    """The model inputs of ``value``, what ``mlguard_production`` returned, for ``model``; image files
    through the ``decode`` of ``pipeline`` (a :class:`~pytest_mlguard.Pipeline`) where it declares one.

    Raises:
        ContractError: ``value`` is none of the above, or holds too few samples, samples of another
            shape than ``model.input_shape`` or values that are not finite.
    """
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, (str, Path, bytes, bytearray)) for item in value):
        return _decoded(value, model, pipeline)
    if isinstance(value, (str, Path)):
        return _path(Path(value), model, pipeline)
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, Mapping) for item in value):
        return _records(value, model)
    if isinstance(value, Mapping) or (hasattr(value, "columns") and hasattr(value, "to_numpy")):
        return _table(value, model)
    return _array(value, model)


#: the suffixes of the image files a folder's sample is made of
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _path(path: Path, model: Model, pipeline: Any = None) -> ProductionSample:
    """A folder of image files, or a JSON-lines file of records."""
    if path.is_dir():
        return _decoded(sorted(item for item in path.iterdir() if item.suffix.lower() in IMAGE_SUFFIXES), model, pipeline)
    if not path.is_file():
        raise _error(f"Expected {_EXPECTED} but got the path {str(path)!r}, which does not exist")
    from .records import read_json_lines

    try:
        records = read_json_lines(path)
    except ValueError as exc:
        raise _error(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _error(f"Expected a JSON-lines file of records but file {path} does not read: {exc}") from None
    if not records:
        raise _error(f"Expected {_EXPECTED} but file {path} holds no records")
    return _records(records, model)


def _records(records: Sequence[Mapping[str, Any]], model: Model) -> ProductionSample:
    """Records as model inputs: through a record model's schema, else as a table's columns."""
    schema = getattr(model, "schema", None)
    if schema is None:
        from ...contract._table import read_table

        return _table(read_table(list(records))[0], model)
    from .records import encode_records

    return _through_schema(encode_records(records, schema), model, schema)


def _table(value: Any, model: Model) -> ProductionSample:
    """A table's columns by name (a dict of columns, or a data frame), as model inputs (N, columns)."""
    names = tuple(str(name) for name in (value.keys() if isinstance(value, Mapping) else value.columns))
    if len(model.input_shape) != 1:
        raise _error(f"Expected model inputs (N, *{tuple(model.input_shape)}) but got a table of columns {list(names)[:20]}: a table is for a model of 1-D inputs")
    schema = getattr(model, "schema", None)  # a RecordModel's: through its schema, as records
    if schema is None and len(names) != model.input_shape[0]:
        raise _error(f"Expected the model's {model.input_shape[0]} input columns, in its input order, but got {len(names)} columns {list(names)[:20]}")
    if schema is not None:
        return _schema_table(value, model, schema)
    try:
        columns = [np.asarray(value[name], dtype=np.float32).reshape(-1) for name in (value.keys() if isinstance(value, Mapping) else value.columns)]
    except (TypeError, ValueError) as exc:
        raise _error(f"Expected columns of numbers but got {exc}") from None
    lengths = {len(column) for column in columns}
    if len(lengths) != 1:
        raise _error(f"Expected columns of one length but got lengths {sorted(lengths)}")
    sample = _array(np.stack(columns, axis=1), model)
    return ProductionSample(sample.x, columns=names)


def _schema_table(value: Any, model: Model, schema: Any) -> ProductionSample:
    """A table's columns encoded through a record model's ``schema``, what it cannot hold counted."""
    from ...contract._table import read_table
    from .records import encode_columns

    read = read_table(value)[0]
    lengths = {len(column) for column in read.values()}
    if len(lengths) != 1:
        raise _error(f"Expected columns of one length but got lengths {sorted(lengths)}")
    return _through_schema(encode_columns(read, lengths.pop(), schema), model, schema)


def _through_schema(encoded: tuple[np.ndarray, dict[str, Any], dict[str, np.ndarray]], model: Model, schema: Any) -> ProductionSample:
    x, counts, outside = encoded
    return ProductionSample(_array(x, model, missing=True).x, columns=schema.names, records=counts, outside=outside)


def _array(value: Any, model: Model, missing: bool = False) -> ProductionSample:
    """An array of model inputs (N, *input_shape), checked (NaN allowed where ``missing``: a record
    model's missing values)."""
    try:
        x = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise _error(f"Expected {_EXPECTED} but got {_described(value)}") from None
    shape = tuple(model.input_shape)
    if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != shape:
        raise _error(f"Expected {_EXPECTED}, samples of the model's input shape {shape}, but got {_described(value)}")
    if len(x) < MIN_SAMPLES:
        raise _error(f"Expected {_EXPECTED} but got {len(x)} samples")
    flat = x.reshape(len(x), -1)
    bad = np.flatnonzero(np.isinf(flat).any(axis=1) if missing else ~np.isfinite(flat).all(axis=1))
    if len(bad):
        raise _error(f"Expected finite model inputs but {len(bad)} of {len(x)} samples hold NaN or inf, such as sample {int(bad[0])}")
    return ProductionSample(x)


def _decoded(items: Sequence[Any], model: Model, pipeline: Any = None) -> ProductionSample:
    """Image files or their bytes, decoded to ``model``'s input shape (C, H, W): through ``pipeline``'s
    ``decode`` where it declares one (the files it rejects left out, and counted), else by the plugin."""
    from PIL import Image, UnidentifiedImageError

    shape = tuple(model.input_shape)
    if len(shape) != 3 or shape[0] not in (1, 3):
        raise _error(f"Expected model inputs (an array): model {model.name!r} takes {shape}, not images (1 or 3, H, W), but got image files")
    if len(items) < MIN_SAMPLES:
        raise _error(f"Expected {_EXPECTED} but got {len(items)} files")
    declared = getattr(pipeline, "decode", None) is not None
    images: list[np.ndarray] = []
    rejected: list[str] = []
    formats, modes, sizes = Counter[str](), Counter[str](), Counter[str]()
    for index, item in enumerate(items):
        where = f"file {item!s}" if not isinstance(item, (bytes, bytearray)) else f"item {index} ({len(item)} bytes)"
        pixels: np.ndarray | None = None
        try:
            with Image.open(io.BytesIO(bytes(item)) if isinstance(item, (bytes, bytearray)) else Path(item)) as opened:
                formats[str(opened.format)] += 1
                modes[opened.mode] += 1
                sizes[f"{opened.width}x{opened.height}"] += 1
                pixels = None if declared else _plugin_decode(opened, shape, model.value_range)
        except (OSError, UnidentifiedImageError) as exc:
            if not declared:
                raise _error(f"Expected image files that open, but {where} does not: {exc}") from None
            formats["unread by Pillow"] += 1
        if declared:
            pixels = through_pipeline(pipeline, item, where, shape)
        if pixels is None:
            rejected.append(where)
        else:
            images.append(pixels)
    files: dict[str, Any] = {"formats": dict(formats), "modes": dict(modes), "sizes": dict(sizes.most_common(10))}
    if declared:
        files.update(decoded_by=str(pipeline.name), rejected=len(rejected), rejected_examples=rejected[:3])
        if len(images) < MIN_SAMPLES:
            raise _error(f"Expected at least {MIN_SAMPLES} files that pipeline {pipeline.name!r} decodes but it rejected {len(rejected)} of {len(items)}, such as {rejected[0]}")
    return ProductionSample(_array(np.stack(images), model).x, files)


def _plugin_decode(opened: Any, shape: tuple[int, ...], value_range: tuple[float, float]) -> np.ndarray:
    """An opened image as the plugin decodes it: upright by its EXIF orientation, grey or RGB by
    ``shape``'s channels, resized to its height and width (bilinear), scaled to ``value_range``."""
    from PIL import Image, ImageOps

    channels, height, width = shape
    low, high = value_range
    image = ImageOps.exif_transpose(opened).convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32).reshape(height, width, channels).transpose(2, 0, 1)
    return np.asarray(low + pixels / 255.0 * (high - low), dtype=np.float32)


def through_pipeline(pipeline: Any, item: Any, where: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """``item`` (a path or bytes) as the model input ``pipeline.decode`` makes of it, given as the
    pipeline takes its input (``image-bytes``: the file's contents; ``image-path``: a path, bytes written
    to a temporary file first); ``None``: the pipeline rejects it with one of its ``rejects``.

    Raises:
        ContractError: ``decode`` raised anything else, or returned another shape than ``shape`` (or a batch of one).
    """
    import tempfile

    temporary: str | None = None
    if pipeline.input == "image-path" and isinstance(item, (bytes, bytearray)):
        with tempfile.NamedTemporaryFile(suffix=".img", delete=False) as handle:
            handle.write(item)
        raw: Any = handle.name
        temporary = handle.name
    else:
        raw = item if pipeline.input == "image-path" else bytes(item) if isinstance(item, (bytes, bytearray)) else Path(item).read_bytes()
    try:
        decoded = pipeline.decode(raw)
    except pipeline.rejects:
        return None
    except Exception as exc:  # noqa: BLE001 - any other error of the project's decode is reported, naming the file
        declared = ", ".join(kind.__name__ for kind in pipeline.rejects) or "none"
        raise ContractError(
            f"Expected decode to read each production file or reject it with one of its rejects ({declared}), but on {where} "
            f"of {FIXTURE} it raised {type(exc).__name__}: {exc}",
            fixture="mlguard_pipeline",
        ) from None
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
    x = np.asarray(decoded.detach().cpu().numpy() if hasattr(decoded, "detach") else decoded, dtype=np.float32)
    if x.shape == (1, *shape):
        x = x[0]
    if x.shape != shape:
        raise ContractError(
            f"Expected decode to return a model input of shape {shape} (or a batch of one) but it returned shape {x.shape} for {where} of {FIXTURE}",
            fixture="mlguard_pipeline",
        )
    return x
