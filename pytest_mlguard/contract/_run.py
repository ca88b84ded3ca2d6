"""The ``contract`` checks' entry point (``Family.run`` of :mod:`.family`), apart from the family's
declaration so that the declaration imports nothing of the checks' machinery."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..checks._base import CheckSpec, Measurement
    from ..checks._evaluation import Evaluation


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    if spec.name == "eval-mode":
        from ._eval_mode import eval_mode_check

        return eval_mode_check(spec, evaluation)
    from ._sizes import input_sizes_check, resized_copies_check

    return (input_sizes_check if spec.name == "input-sizes" else resized_copies_check)(spec, evaluation)
