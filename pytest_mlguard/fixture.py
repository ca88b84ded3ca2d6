"""What the ``mlguard`` fixture gives a custom robustness test.

:class:`MlguardFixture` is a plain class that receives what it needs (pytest-benchmark's
``BenchmarkFixture`` style), so it is usable and testable without pytest: an evaluation factory,
and a callback that records results for the report.

Example (in a project's tests)::

    @pytest.mark.mlguard(samples=200)
    def test_brightness_keeps_accuracy(mlguard):
        mlguard.check("corruption[gaussian_noise-2]", floor="0.9*clean")
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .checks.api import check_spec, parse_check_id, run_checks
from .checks._base import CheckResult, CheckSpec
from .config.parse import Threshold
from .errors import InvalidArgument

if TYPE_CHECKING:
    from .checks._evaluation import Evaluation
    from .config._settings import Settings
    from .contract import EvalData, Model, Pipeline

__all__ = ["MlguardFixture", "parse_check_id"]


class MlguardFixture:
    """The declared model, data and pipeline, with the evaluation helpers.

    Args:
        evaluation: a factory of the evaluation (called once, on first use).
        record: called with each result of :meth:`check`, for the report.
        describe_failure: turns a failing result into the failure message.
        fixture: the value of a further fixture a family needs, by need (``"production"``: what
            ``mlguard_production`` returns), asked for when a check of that family runs; ``None``: not given.
    """

    def __init__(
        self,
        evaluation: Callable[[], Evaluation],
        *,
        record: Callable[[CheckResult], None] = lambda result: None,
        describe_failure: Callable[[CheckResult], str] = lambda result: f"{result.id}: {result.verdict()}",
        fixture: Callable[[str], Any] = lambda need: None,
    ) -> None:
        self._factory = evaluation
        self._fixture = fixture
        self._record = record
        self._describe_failure = describe_failure

    @cached_property
    def evaluation(self) -> Evaluation:
        return self._factory()

    @property
    def model(self) -> Model:
        return self.evaluation.model

    @property
    def data(self) -> EvalData:
        """The evaluation data subset the checks use (``samples`` of them, seeded)."""
        return self.evaluation.data

    @property
    def pipeline(self) -> Pipeline | None:
        return self.evaluation.pipeline

    @property
    def settings(self) -> Settings:
        return self.evaluation.settings

    # -- helpers over arrays ----------------------------------------------------------------------
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """The model's probabilities for a batch in raw input units."""
        with self.model.running(self.settings.device):
            return self.model.predict_proba(x)

    def accuracy(self, x: np.ndarray | None = None, y: np.ndarray | None = None) -> float:
        """Accuracy on ``(x, y)``, or on the evaluation data."""
        if x is None:
            return self.evaluation.clean_accuracy()
        if y is None:
            raise InvalidArgument("Expected labels y with x")
        return float((self.predict_proba(x).argmax(axis=1) == np.asarray(y)).mean())

    def corrupt(self, x: np.ndarray, corruption: str, severity: int, *, seed: int | None = None) -> np.ndarray:
        """``x`` (raw units, model input shape) under a corruption at a severity, seeded."""
        from .corruptions import _functional as F
        from .corruptions._pipelining import corrupt_batch

        model = self.model
        rng = np.random.default_rng(self.settings.seed if seed is None else seed)
        images = F.to_unit_hwc(np.asarray(x), model.value_range)
        return F.from_unit_hwc(corrupt_batch(images, corruption, severity, rng), model.value_range, model.input_shape)

    def attack(self, attack: str, x: np.ndarray | None = None, y: np.ndarray | None = None) -> np.ndarray:
        """Adversarial examples of ``attack`` (``"pgd-linf-8/255"``, ``"deepfool-l2"``) for ``(x, y)`` or the
        evaluation data, seeded; works inside ``torch.no_grad()`` and leaves the model as it was."""
        from .attacks.run import adversarial_examples

        spec = self._spec("attack", attack)
        x = self.data.x if x is None else np.asarray(x, dtype=np.float32)
        y = self.data.y if y is None else np.asarray(y)
        return adversarial_examples(self.model, spec, x, y, self.settings)

    def ece(self, bins: int = 15) -> float:
        """Expected calibration error on the evaluation data."""
        from .calibration.metrics import expected_calibration_error

        return expected_calibration_error(self.evaluation.clean_proba, self.data.y, bins)

    # -- checks ----------------------------------------------------------------------------------
    def _spec(self, family_name: str, name: str | None) -> CheckSpec:
        return check_spec(f"{family_name}[{name}]" if name else family_name, self.settings)[1]

    def measure(self, check_id: str, *, floor: Any = None, ceiling: Any = None, production: Any = None) -> CheckResult:
        """Run a check as the suite does (:func:`pytest_mlguard.check_model`'s way, on this test's
        evaluation) and return its result, without asserting.

        ``production``: the logged inputs the ``shift`` checks compare with the evaluation data, anything
        ``mlguard_production`` may return (docs/drift.md); by default what that fixture returns."""
        family, spec = check_spec(check_id, self.settings)
        if floor is not None and ceiling is not None:
            raise InvalidArgument("Expected floor or ceiling, not both")
        if floor is not None or ceiling is not None:
            kind: Literal["floor", "ceiling"] = "floor" if floor is not None else "ceiling"
            threshold = Threshold.parse(floor if floor is not None else ceiling, kind, f"mlguard.check({check_id!r})")
            spec = CheckSpec(spec.family, spec.name, spec.metric, threshold, kind, spec.params, spec.keywords)
        extras = {need: self._fixture(need) for need in family.needs if need not in ("model", "data", "pipeline")}
        if production is not None:
            extras["production"] = production
        return run_checks(self.evaluation.with_extras({need: value for need, value in extras.items() if value is not None}), [(family, spec)])[0]

    def check(self, check_id: str, *, floor: Any = None, ceiling: Any = None, production: Any = None) -> CheckResult:
        """Run a check, record it in the report, and raise ``AssertionError`` if it fails.

        Example::

            mlguard.check("attack[pgd-linf-0.1]", floor=0.3)
            mlguard.check("shift[inputs]", production=todays_uploads)
        """
        __tracebackhide__ = True
        result = self.measure(check_id, floor=floor, ceiling=ceiling, production=production)
        self._record(result)
        if not result.passed:
            raise AssertionError(self._describe_failure(result))
        return result
