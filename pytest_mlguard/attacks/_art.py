"""Importing ART without its side effects on the user's run.

ART 1.20.1, at import, runs ``logging.config.dictConfig`` (which flushes and closes every existing
logging handler and adds a stderr handler to the logger named ``tests``) and creates ``~/.art/``
with a config file. :func:`import_art` imports it with ``dictConfig`` stubbed out and ``HOME``
pointed at a private directory under the system temp dir, then gives ART's own loggers a
``NullHandler``.
"""

from __future__ import annotations

import logging
import logging.config
import os
import sys
import tempfile
import threading
from types import ModuleType
from typing import Any

from ..errors import MissingDependency


_lock = threading.Lock()


def art_data_dir() -> str:
    """Where ART's config and data go instead of ``~/.art``."""
    return os.path.join(tempfile.gettempdir(), f"pytest-mlguard-art-{os.getuid() if hasattr(os, 'getuid') else 0}")


def import_art() -> ModuleType:
    """Import and return the ``art`` package, side-effect free (see the module docstring)."""
    if "art" in sys.modules:
        return sys.modules["art"]
    with _lock:
        if "art" in sys.modules:
            return sys.modules["art"]
        home = os.environ.get("HOME")
        dict_config = logging.config.dictConfig
        os.environ["HOME"] = art_data_dir()
        os.makedirs(os.environ["HOME"], exist_ok=True)
        logging.config.dictConfig = lambda config: None
        try:
            import art
            import art.attacks.evasion
            import art.estimators.classification  # noqa: F401
        except ImportError as exc:
            raise MissingDependency("adversarial-robustness-toolbox", f"the attack checks ({exc})") from exc
        finally:
            logging.config.dictConfig = dict_config
            if home is None:
                os.environ.pop("HOME", None)
            else:
                os.environ["HOME"] = home
        art_logger = logging.getLogger("art")
        if not art_logger.handlers:
            art_logger.addHandler(logging.NullHandler())
        return sys.modules["art"]


def art_device(module: Any) -> tuple[str, Any]:
    """ART's ``device_type`` for the device of ``module``'s parameters (``"gpu"`` on CUDA), and that
    ``torch.device`` (the CPU for a module without parameters)."""
    import torch

    parameter = next(iter(module.parameters()), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    return ("gpu" if device.type == "cuda" else "cpu"), device


def place_estimator(estimator: Any, device: Any) -> Any:
    """``estimator`` (an ART PyTorch estimator) on ``device``: ART picks the current CUDA device for
    ``"gpu"``; this honours ``cuda:1`` and friends."""
    if estimator._device != device:
        estimator._device = device
        estimator._model.to(device)
    return estimator
