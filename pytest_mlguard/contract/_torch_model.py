"""The adapter of a ``torch.nn.Module`` with its input spec (:class:`TorchModel`): normalisation folded in,
devices, the modes it runs in (eval, as given) and its description for the report."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidArgument

if TYPE_CHECKING:
    import torch


from ._adapter import _MODES, Mode, Model, Output
from ._normalisation import Normalised


class TorchModel(Normalised, Model):
    """A ``torch.nn.Module`` with its input spec.

    Args:
        module: the network; it receives *normalised* inputs ``(x - mean) / std``.
        input_shape: shape of one sample, channels first for images, such as ``(3, 224, 224)``.
        n_classes: number of classes (or give ``class_names``).
        class_names: names of the classes, in output order.
        value_range: range of raw inputs, such as ``(0, 1)`` or ``(0, 255)``; attacks clip to it and
            their epsilons are in these units.
        mean, std: per-channel normalisation applied before ``module`` (``None``: none).
        device: torch device to run on; ``None`` uses ``--mlguard-device`` (default ``cpu``).
        output: what the module returns: ``"logits"`` (default), ``"probabilities"`` or
            ``"log_probabilities"``.
        name: name in node ids and reports.
        batch_size: batch size for inference.
        mode: the mode the service runs the module in. ``"eval"`` (default): every submodule in eval
            mode; the checks put it there, and a submodule given in train mode that computes
            something else there (batch norm, dropout) is a mistake: a warning at declaration, and
            ``contract[eval-mode]`` fails naming it. ``"as-given"``: each submodule in the mode it has
            here, on purpose (dropout at inference, batch statistics at inference); every check runs
            it so. Either way the determinism and drift checks run the module in both modes where
            they differ.
        export: the model as exported for serving, such as an :class:`~pytest_mlguard.contract.OnnxModel`
            of this network: ``drift[export]`` compares it with this one, in place of a ``torch.export``
            program it would make itself. Same input shape and classes.

    The train/eval mode of every submodule is recorded here, at declaration: :attr:`train_mode`
    names the submodules in train mode, :attr:`train_mode_layers` those of torch's layers among them
    that compute something else there.

    Example:
        >>> import torch
        >>> TorchModel(torch.nn.Linear(4, 3), input_shape=(4,), n_classes=3).n_classes
        3
    """

    kind = "torch"

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        input_shape: Sequence[int],
        n_classes: int | None = None,
        class_names: Sequence[str] | None = None,
        value_range: tuple[float, float] = (0.0, 1.0),
        mean: float | Sequence[float] | None = None,
        std: float | Sequence[float] | None = None,
        device: str | None = None,
        output: Output = "logits",
        name: str | None = None,
        batch_size: int = 256,
        mode: Mode = "eval",
        export: Model | None = None,
    ) -> None:
        import torch

        if not isinstance(module, torch.nn.Module):
            raise InvalidArgument.expected("a torch.nn.Module", "module", module)
        if mode not in _MODES:
            raise InvalidArgument.expected("'eval' or 'as-given'", "mode", mode)
        super().__init__(
            input_shape=input_shape,
            n_classes=n_classes,
            class_names=class_names,
            value_range=value_range,
            output=output,
            name=name,
            batch_size=batch_size,
        )
        self.module = module
        self.mean = self._check_norm(mean, "mean", positive=False)
        self.std = self._check_norm(std, "std", positive=True)
        if device is not None:
            from ..config.parse import DEVICE_EXPECTED, is_device

            if not is_device(device):
                raise InvalidArgument.expected(DEVICE_EXPECTED, "device", device)
        self.device = device
        self._active_device: str | None = None
        self.export = self._check_export(export)
        self._record_modes(mode)

    def _check_export(self, export: Model | None) -> Model | None:
        """``export`` is a model of the same input shape and number of classes, or ``None``."""
        if export is None:
            return None
        if not isinstance(export, Model):
            raise InvalidArgument.expected("a model adapter (such as an OnnxModel) of the exported network", "export", export)
        if export.input_shape != self.input_shape or export.n_classes != self.n_classes:
            raise InvalidArgument(
                f"Expected an export of input_shape {self.input_shape} and {self.n_classes} classes, as model {self.name!r}, "
                f"but got export={export!r}"
            )
        return export

    def _record_modes(self, mode: Mode) -> None:
        """Record the train/eval mode of every submodule as given, and warn of layers in train mode."""
        from ._modes import computes_otherwise_in_train_mode, defined_outside_torch, name_modules

        self.mode: Mode = mode
        self.given_modes: dict[str, bool] = {name: m.training for name, m in self.module.named_modules()}
        submodules = dict(self.module.named_modules())
        #: names of the submodules in train mode at declaration (``""``: the module itself)
        self.train_mode: tuple[str, ...] = tuple(name for name, training in self.given_modes.items() if training)
        #: those of torch's layers among them that compute something else in train mode
        self.train_mode_layers: tuple[str, ...] = tuple(n for n in self.train_mode if computes_otherwise_in_train_mode(submodules[n]))
        #: those defined outside torch, whose own code may read ``self.training``
        self.train_mode_own: tuple[str, ...] = tuple(n for n in self.train_mode if defined_outside_torch(submodules[n]))
        self._active_mode: str | None = None
        if self.train_mode_layers and mode == "eval":
            import warnings

            layers = name_modules(self.train_mode_layers, self.module)
            verb = "is" if len(self.train_mode_layers) == 1 else "are"
            warnings.warn(
                f"model {self.name!r}: {layers} {verb} in train mode, where {'it computes' if verb == 'is' else 'they compute'} "
                "something else than in eval mode (batch statistics, dropout); the checks put the module in eval mode, "
                "the service runs it as it is: call .eval() on the module before serving and declaring it, or declare "
                "TorchModel(..., mode='as-given') if the service runs it so on purpose. Until then contract[eval-mode] "
                "fails, and the determinism and drift checks run it in both modes",
                UserWarning,
                stacklevel=3,
            )

    def modes(self) -> tuple[str | None, ...]:
        """``("eval", "given")`` (the mode served in first) where submodules given in train mode may
        compute something else there, else ``(None,)``."""
        if not (self.train_mode_layers or self.train_mode_own):
            return (None,)
        return ("given", "eval") if self.mode == "as-given" else ("eval", "given")

    @property
    def active_mode(self) -> str | None:
        return self._active_mode

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``(x - mean) / std`` with the model's normalisation (identity if none)."""
        self.check_normalisation()

        def per_channel(values: tuple[float, ...]) -> torch.Tensor:
            tensor = x.new_tensor(values)
            return tensor.reshape((1, -1) + (1,) * (x.dim() - 2)) if len(values) > 1 else tensor

        if self.mean is not None:
            x = x - per_channel(self.mean)
        if self.std is not None:
            x = x / per_channel(self.std)
        return x

    def raw_module(self) -> torch.nn.Module:
        """A module over raw inputs: normalisation, then the network (sharing its parameters)."""
        import torch

        outer = self

        class RawInput(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.net = outer.module

            def forward(self, x: torch.Tensor) -> torch.Tensor:
                return self.net(outer.normalize(x))

        return RawInput()

    @property
    def active_device(self) -> str:
        return self._active_device or self.device or "cpu"

    @contextlib.contextmanager
    def running(self, device: str | None = None, mode: str | None = None) -> Iterator[TorchModel]:
        """The module in ``mode`` on ``device``; on exit the module is exactly as it was.

        ``mode``: ``"eval"`` (every submodule in eval mode), ``"given"`` (each in its mode at
        declaration) or ``None``, the mode it is served in (``"eval"``, or ``"given"`` for
        ``mode="as-given"``); inside another :meth:`running`, ``None`` keeps the mode of that one.
        Restores each submodule's train/eval mode, each parameter's ``requires_grad`` and
        ``.grad``, the device of the parameters, and the buffers a run in train mode overwrote.
        """
        if self._active_device is not None:  # re-entrant
            if mode is None or mode == self._active_mode:
                yield self
            else:
                with self._in_mode(mode):
                    yield self
            return
        module = self.module
        target = self.device or device or "cpu"
        modes = [(m, m.training) for m in module.modules()]
        params = list(module.parameters())
        grads = [(p, p.requires_grad, p.grad) for p in params]
        original = params[0].device if params else None
        try:
            with self._in_mode(mode or ("given" if self.mode == "as-given" else "eval")):
                if original is not None and str(original) != target:
                    module.to(target)
                self._active_device = target
                yield self
        finally:
            self._active_device = None
            if original is not None and str(next(iter(module.parameters())).device) != str(original):
                module.to(original)
            for m, training in modes:
                m.training = training
            for p, requires_grad, grad in grads:
                p.requires_grad_(requires_grad)
                p.grad = grad

    @contextlib.contextmanager
    def _in_mode(self, mode: str) -> Iterator[None]:
        """Submodules in ``mode`` (``"eval"`` or ``"given"``), and back to the mode before on exit;
        buffers that a run in train mode overwrites are restored."""
        from ._modes import kept_buffers, set_modes

        if mode not in ("eval", "given"):
            raise ValueError(f"expected mode 'eval' or 'given' but got mode={mode!r}")
        before = self._active_mode
        keep = kept_buffers(self.module) if mode == "given" and self.train_mode else contextlib.nullcontext()
        with keep:
            set_modes(self.module, self.given_modes if mode == "given" else None)
            self._active_mode = mode
            try:
                yield
            finally:
                self._active_mode = before
                if before is not None:
                    set_modes(self.module, self.given_modes if before == "given" else None)

    def _scores(self, batch: np.ndarray) -> np.ndarray:
        import torch

        with self.running(), torch.inference_mode():
            tensor = torch.from_numpy(np.ascontiguousarray(batch)).to(self.active_device)
            out = self.module(self.normalize(tensor))
            if isinstance(out, torch.Tensor) and out.is_floating_point():
                return out.float().cpu().numpy()
            return out  # anything else: check_scores names it

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            **self.normalisation(),
            "device": self.device,
            "parameters": int(sum(p.numel() for p in self.module.parameters())),
            "mode": self.mode,
            "train_mode": sorted(self.train_mode),
            **({"export": self.export.describe()} if self.export is not None else {}),
        }
