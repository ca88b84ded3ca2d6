"""The adapters of compiled torch programs: :class:`TorchScriptModel` (``torch.jit.save``/``torch.jit.script``)
and :class:`ExportedModel` (``torch.export``). Both are :class:`~pytest_mlguard.contract.TorchModel`\\ s over
the loaded program, so every check runs on them as on the eager module, gradient attacks included.

Example:
    >>> import io
    >>> import torch
    >>> buffer = io.BytesIO()
    >>> torch.jit.save(torch.jit.script(torch.nn.Linear(4, 3)), buffer)
    >>> TorchScriptModel(buffer.getvalue(), input_shape=(4,), n_classes=3).kind
    'torchscript'
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import InvalidArgument
from ._torch_model import TorchModel

if TYPE_CHECKING:
    import torch


def _source(program: Any) -> Any:
    """A path as a ``str``, bytes as a file object; anything else as it is."""
    if isinstance(program, (bytes, bytearray)):
        return io.BytesIO(bytes(program))
    if isinstance(program, (str, os.PathLike)):
        path = os.fspath(program)
        if not os.path.isfile(path):
            raise InvalidArgument(f"Expected the path of a saved program but got {path!r}, which is not a file")
        return path
    return program


def _origin(program: Any) -> str | None:
    return os.fspath(program) if isinstance(program, (str, os.PathLike)) else None


class _SavedProgram(TorchModel):
    """A program that pickles as the bytes its library saves it to, and its declaration: the resources
    checks send the model to a measuring process, and neither a TorchScript module nor an exported one
    pickles as it is."""

    _spec: dict[str, Any]
    origin: str | None

    def _saved(self) -> bytes | None:
        """The program as its library saves it (``None``: it cannot be saved)."""
        raise NotImplementedError

    def __reduce_ex__(self, protocol: Any) -> Any:
        import functools

        saved = self._saved()
        if saved is None:
            return super().__reduce_ex__(protocol)
        return (functools.partial(type(self), **self._spec), (saved,), {"origin": self.origin})


class TorchScriptModel(_SavedProgram):
    """A TorchScript program: the path (or bytes) of ``torch.jit.save``'s file, or a ``torch.jit.ScriptModule``.

    Takes :class:`~pytest_mlguard.contract.TorchModel`'s arguments (``input_shape``, ``n_classes``,
    ``value_range``, ``mean``, ``std``, ``device``, ...); a file is loaded with
    ``torch.jit.load(map_location="cpu")`` and moved to the device while a check runs. The program
    is scripted or traced code over parameters: gradient attacks run on it as on the eager module.

    Example:
        >>> import torch
        >>> program = torch.jit.script(torch.nn.Linear(4, 3))
        >>> TorchScriptModel(program, input_shape=(4,), n_classes=3).describe()["program"]
        'ScriptModule'
    """

    kind = "torchscript"
    #: the ``drift`` variants that cannot be made of a TorchScript program, and why
    not_deployable: ClassVar[dict[str, str]] = {
        "export": "torch.export does not export a torch.jit.ScriptModule",
        "int8": "dynamic int8 quantisation swaps torch.nn.Linear, LSTM and GRU modules, and a compiled program holds none",
    }

    def __init__(self, program: str | os.PathLike[str] | bytes | torch.jit.ScriptModule, **spec: Any) -> None:
        import torch

        source = _source(program)
        if isinstance(source, (str, io.BytesIO)):
            try:
                source = torch.jit.load(source, map_location="cpu")
            except RuntimeError as exc:
                raise InvalidArgument(f"Expected a TorchScript file (torch.jit.save) but torch.jit.load failed: {exc}".strip()) from None
        if not isinstance(source, torch.jit.ScriptModule):
            raise InvalidArgument.expected("a torch.jit.ScriptModule, or the path or bytes of torch.jit.save's file", "program", program)
        self.origin, self._spec = _origin(program), dict(spec)
        super().__init__(source, **spec)

    def _saved(self) -> bytes:
        import torch

        buffer = io.BytesIO()
        torch.jit.save(self.module, buffer)
        return buffer.getvalue()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "program": "ScriptModule", "file": self.origin}


def _holder(program: torch.nn.Module) -> torch.nn.Module:
    """The module that holds an exported program's module."""
    import torch

    class ExportedProgramModule(torch.nn.Module):
        """``program`` (``ExportedProgram.module()``), whose ``train()`` and ``eval()`` raise: its mode
        was fixed when it was exported, so the holder's mode does not reach it."""

        def __init__(self) -> None:
            super().__init__()
            self.program = program
            self.training = False
            for submodule in program.modules():
                submodule.training = False  # the graph computes what it was exported in, whatever this says

        def train(self, mode: bool = True) -> ExportedProgramModule:
            self.training = mode
            return self

        def forward(self, x: torch.Tensor) -> Any:
            return self.program(x)

    return ExportedProgramModule()


class ExportedModel(_SavedProgram):
    """A ``torch.export`` program: the path (or bytes) of ``torch.export.save``'s file, an
    ``ExportedProgram``, or its ``.module()``.

    Takes :class:`~pytest_mlguard.contract.TorchModel`'s arguments. The program runs as it was exported
    (its train or eval mode is part of its graph: ``mode`` does not apply), on the device a check asks
    for; it is differentiable, so gradient attacks run on it. Export it with a dynamic batch dimension
    (``dynamic_shapes=({0: torch.export.Dim("batch")},)``): the checks send batches of every size.

    Example:
        >>> import torch
        >>> net = torch.nn.Linear(4, 3)
        >>> program = torch.export.export(net, (torch.zeros(2, 4),), dynamic_shapes=({0: torch.export.Dim("batch")},))
        >>> ExportedModel(program, input_shape=(4,), n_classes=3).predict_proba(torch.zeros(5, 4).numpy()).shape
        (5, 3)
    """

    kind = "torch-export"
    #: the ``drift`` variants that cannot be made of an exported program, and why
    not_deployable: ClassVar[dict[str, str]] = {
        "int8": "dynamic int8 quantisation swaps torch.nn.Linear, LSTM and GRU modules, and an exported graph holds none",
    }

    def __init__(self, program: Any, **spec: Any) -> None:
        import torch

        source = _source(program)
        if isinstance(source, (str, io.BytesIO)):
            try:
                source = torch.export.load(source)
            except (RuntimeError, ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:  # what a file that is no export archive raises
                raise InvalidArgument(f"Expected a torch.export file (torch.export.save) but torch.export.load failed: {type(exc).__name__}: {exc}") from None
        #: the program as loaded, which pickles through torch.export.save (its module does not)
        self.program = source if isinstance(source, torch.export.ExportedProgram) else None
        self._spec = dict(spec)
        if isinstance(source, torch.export.ExportedProgram):
            source = source.module()
        if not isinstance(source, torch.fx.GraphModule):
            raise InvalidArgument.expected("a torch.export.ExportedProgram, its .module(), or the path or bytes of torch.export.save's file", "program", program)
        if spec.get("mode", "eval") != "eval":
            raise InvalidArgument.expected("'eval' (an exported program runs in the mode it was exported in)", "mode", spec["mode"])
        self.origin = _origin(program)
        super().__init__(_holder(source), **spec)

    def _saved(self) -> bytes | None:
        """``torch.export.save``'s bytes; ``None`` for a model declared from a bare ``.module()``, which
        pickles as any object (and fails where its module does)."""
        if self.program is None:
            return None
        import torch

        buffer = io.BytesIO()
        torch.export.save(self.program, buffer)
        return buffer.getvalue()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "program": "ExportedProgram", "file": self.origin}
