"""The production pipeline contract: what a project's optional ``mlguard_pipeline`` fixture returns.

A :class:`Pipeline` is the callable that receives raw input as production receives it (image file
bytes, a file path, or a JSON-like record) and returns a prediction, together with the exception
types it declares as clean rejections. The graceful-failure contract: for every input it returns a
valid prediction or raises one of ``rejects`` with a non-empty message; anything else is a failure.

Example:
    >>> class BadImage(ValueError): ...
    >>> def predict(data: bytes): raise BadImage("not an image")
    >>> Pipeline(predict, rejects=BadImage, input="image-bytes").rejects
    (<class 'pytest_mlguard.contract._pipeline.BadImage'>,)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from ..errors import InvalidArgument


InputKind = Literal["image-bytes", "image-path", "record"]
INPUT_KINDS: tuple[str, ...] = ("image-bytes", "image-path", "record")


class Pipeline:
    """A production pipeline and the exceptions it declares as clean rejections.

    Args:
        fn: the callable ``raw input -> prediction``. A prediction is a class index, a class name,
            or a vector of ``n_classes`` probabilities.
        rejects: an exception type, or a tuple of them, that ``fn`` raises for inputs it refuses.
        input: what ``fn`` takes: ``"image-bytes"`` (file contents), ``"image-path"`` (a path to a
            file) or ``"record"`` (a dict).
        examples: valid raw inputs; for image pipelines the default encodes evaluation samples as PNG.
        name: a name for reports.
        decode: for an image pipeline, the callable ``raw input -> model input`` of its own decoding
            (an array of the model's input shape, or a batch of one, in the units of ``mlguard_data``):
            the ``shift`` checks read the image files of ``mlguard_production`` through it, as the
            service does (docs/drift.md); ``None``: the plugin's decode (grey or RGB, resized).
    """

    def __init__(
        self,
        fn: Callable[[Any], Any],
        *,
        rejects: type[BaseException] | Sequence[type[BaseException]] = (),
        input: InputKind = "image-bytes",  # noqa: A002 - the public keyword (Pipeline(fn, input="image-bytes"))
        examples: Sequence[Any] | None = None,
        name: str | None = None,
        decode: Callable[[Any], Any] | None = None,
    ) -> None:
        if not callable(fn):
            raise InvalidArgument.expected("a callable raw input -> prediction", "fn", fn)
        declared = (rejects,) if isinstance(rejects, type) else tuple(rejects)
        for exc_type in declared:
            if not (isinstance(exc_type, type) and issubclass(exc_type, Exception)):
                raise InvalidArgument.expected("Exception subclasses", "rejects", rejects)
            if exc_type is Exception:
                raise InvalidArgument(
                    "Expected specific exception types in rejects but got Exception itself: it would declare "
                    "every error a clean rejection; declare the pipeline's own error class instead"
                )
        if input not in INPUT_KINDS:
            raise InvalidArgument.expected(f"one of {INPUT_KINDS}", "input", input)
        if input == "record" and not examples:
            raise InvalidArgument("Expected examples=[...] with at least one valid record for a record pipeline")
        if decode is not None and not callable(decode):
            raise InvalidArgument.expected("a callable raw image -> model input", "decode", decode)
        if decode is not None and input == "record":
            raise InvalidArgument("Expected decode=None for a record pipeline: decode reads image files (input='image-bytes' or 'image-path')")
        self.fn = fn
        self.rejects: tuple[type[BaseException], ...] = declared
        self.input: InputKind = input
        self.examples = list(examples) if examples is not None else None
        self.name = name or getattr(fn, "__name__", "pipeline")
        self.decode = decode

    def __call__(self, raw: Any) -> Any:
        return self.fn(raw)

    def __repr__(self) -> str:
        names = ", ".join(t.__name__ for t in self.rejects)
        return f"Pipeline({self.name!r}, input={self.input!r}, rejects=({names}))"
