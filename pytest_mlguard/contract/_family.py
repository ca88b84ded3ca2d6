"""The ``contract`` checks: the model as it is deployed, not as the checks tidy it.

* ``contract[eval-mode]``: no submodule of a ``TorchModel`` is in train mode where that changes what it
  computes (batch norm with running statistics, dropout, a module's own code reading
  ``self.training``), unless declared on purpose (``TorchModel(..., mode="as-given")``). The value is
  the number of such submodules, against a ceiling of 0; the failure names them and says how far the
  outputs in the mode given are from eval mode's.
* ``contract[input-sizes]``: a model that takes images of other sizes than its declared one (probed
  once, with an image of twice the size) gets them at odd and extreme sizes (``contract.sizes``) and
  must answer each with finite outputs, without raising. The value is the fraction that it does.
* ``contract[resized-copies]``: at the sizes that are resized copies of the same picture (odd
  widths and heights, twice the size), the model must keep the class it gives at the declared size.
  The value is the top-1 agreement at the size where it is lowest.

Settings (``[tool.mlguard.contract]``):

* ``checks``: which of them the suite runs (default: all three);
* ``sizes``: the sizes ``input-sizes`` and ``resized-copies`` feed the model (default: all of
  ``1x1``, ``odd-width``, ``odd-height``, ``odd``, ``wide``, ``tall``, ``2x``);
* ``samples``: evaluation samples sent at each size (default 200);
* ``valid_floor``: floor of ``input-sizes`` (default 1.0: every input);
* ``agreement_floor``: floor of ``resized-copies`` (default 0.7).

Importing this module imports neither numpy nor torch.
"""

from __future__ import annotations

from ..checks._base import CheckSpec, Family
from ..config.parse import (
    Threshold,
    parse_choice,
    parse_int,
    parse_list,
    parse_unit_interval,
)
from ..config._settings import Key, Settings


CHECKS = ("eval-mode", "input-sizes", "resized-copies")
#: the sizes fed to the model, by name (:func:`pytest_mlguard.contract._sizes.other_sizes`)
SIZES = ("1x1", "odd-width", "odd-height", "odd", "wide", "tall", "2x")


def _make(name: str | None, settings: Settings) -> CheckSpec:
    if name not in CHECKS:
        raise KeyError(f"no check contract[{name}]; expected one of {[f'contract[{c}]' for c in CHECKS]}")
    if name == "eval-mode":
        return CheckSpec("contract", name, "train_mode_layers", Threshold(0.0), "ceiling", keywords=("train",))
    params = (("sizes", settings.get("contract.sizes")), ("samples", settings.get("contract.samples")))
    if name == "input-sizes":
        return CheckSpec("contract", name, "valid_fraction", Threshold(settings.get("contract.valid_floor")), params=params, keywords=("sizes",))
    return CheckSpec("contract", name, "agreement", Threshold(settings.get("contract.agreement_floor")), params=params, keywords=("sizes",))


def _plan(settings: Settings) -> list[CheckSpec]:
    from ..checks._family import task_of

    # the sizes checks compare one class vector per input: for the other tasks, eval mode alone
    names = [name for name in settings.get("contract.checks") if task_of(settings) == "classification" or name == "eval-mode"]
    return [_make(name, settings) for name in names]


_KEYS: tuple[Key, ...] = (
    Key("contract.checks", parse_list(parse_choice(*CHECKS)), CHECKS, f"contract checks to run: {', '.join(CHECKS)}"),
    Key("contract.sizes", parse_list(parse_choice(*SIZES)), SIZES, f"image sizes fed to a model that takes other sizes: {', '.join(SIZES)}"),
    Key("contract.samples", parse_int(1, 100_000), 200, "evaluation samples sent at each size of contract.sizes"),
    Key("contract.valid_floor", parse_unit_interval, 1.0, "floor of the fraction of inputs at other sizes answered with finite outputs, without raising"),
    Key(
        "contract.agreement_floor",
        parse_unit_interval,
        0.7,
        "floor of the top-1 agreement of resized copies with the declared size, at the size where it is lowest",
    ),
)

FAMILY = Family(
    name="contract",
    keys=_KEYS,
    plan=_plan,
    make=_make,
    run="pytest_mlguard.contract._run:run_check",
    rank=0,
    tasks=("classification", "segmentation", "detection"),
    scored=False,  # preconditions of the model as deployed: in the score only where score.weights names it
    doc="the model as deployed: no submodule left in train mode; other image sizes give valid outputs and the same class",
)
