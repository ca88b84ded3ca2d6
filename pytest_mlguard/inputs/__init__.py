"""Graceful failure of the production pipeline on bad inputs: ``inputs[corrupt-files]``.

The pipeline gets valid image files made from evaluation samples and corrupted versions of them
(truncated, header only, zero bytes, not an image). Every valid file must give a valid prediction;
every corrupted one a valid prediction or a declared rejection with a message.

Settings (``[tool.mlguard.inputs]``):

* ``examples``: how many evaluation samples to make files from (default 3);
* ``floor``: the fraction of inputs that must be handled gracefully (default 1.0, all).
"""

from __future__ import annotations

from ..checks.base import CheckSpec, Family
from ..config.parse import Threshold, parse_int, parse_threshold
from ..config.settings import Key, Settings

__all__ = ["FAMILY"]


def _plan(settings: Settings) -> list[CheckSpec]:
    return [
        CheckSpec(
            "inputs",
            "corrupt-files",
            "graceful_fraction",
            settings.get("inputs.floor"),
            params=(("examples", settings.get("inputs.examples")),),
        )
    ]


FAMILY = Family(
    name="inputs",
    keys=(
        Key("inputs.examples", parse_int(1, 1000), 3, "evaluation samples the corrupted files are made from"),
        Key("inputs.floor", parse_threshold, Threshold(1.0), "fraction of inputs that must be handled gracefully"),
    ),
    plan=_plan,
    run="pytest_mlguard.inputs.run:run_check",
    needs=("model", "data", "pipeline"),
    doc="the production pipeline on corrupted files: a valid prediction or a declared rejection, nothing else",
)
