"""The ``attack`` check's measurement: robust accuracy, sweeps and minimal perturbations through ART.

:func:`run_check` runs one planned check inside ``model.running(device)``:

1. the model becomes an ART estimator (:mod:`.adapters`), shared by the evaluation's attack checks,
   its prediction cache emptied for each check (its counts are its own);
2. the attack runs seeded (:func:`.build.seeded`), with gradients enabled even if the caller is
   inside ``torch.no_grad()`` or ``torch.inference_mode()``, and the parameters frozen;
3. the outcome becomes the metric, per-sample outcomes saved under the report's ``artifacts/``,
   and the soundness probes (:mod:`.soundness`), which fail the check (``attack.soundness = "fail"``)
   or warn.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from ..checks._base import CheckSpec, Measurement
from ..checks._evaluation import stable_seed
from ..contract._data import EvalData
from ..errors import NonFiniteOutput
from .._verdicts.intervals import paired_counts
from .._verdicts.paired import keep_outcomes
from . import _metrics as metrics, _soundness as soundness
from ._batch import adversarial_examples, attack_batch, check_applicable, gradients_enabled, load_adversarial
from ._build import AUTOATTACK_NOTE, autoattack_components, seeded
from ._chunks import Chunks, attack_chunks, chunk_data, clean_probabilities, plan as plan_chunks, sweep_chunks
from ._compare import registered
from ._looks import attack_looks, draw_more
from ._merge import empty_share, keep_sample_statistics
from ._merge_curves import minimal_curve, sweep_curve
from ._registry import ATTACKS, AttackDef, chunked

if TYPE_CHECKING:
    from ..checks._evaluation import Evaluation
    from ._adapters import Adapter

__all__ = ["adversarial_examples", "attack_batch", "gradients_enabled", "load_adversarial", "run_check"]


def run_check(spec: CheckSpec, evaluation: Evaluation) -> Measurement:
    from ._adapters import make_adapter

    definition = ATTACKS[spec.param("attack")]
    model = evaluation.model
    check_applicable(definition, model)
    settings = evaluation.settings
    index = evaluation.subset_index(spec.param("samples"), stable_seed(settings.seed, "attack-samples"))  # on a shard: its part of the run's
    index = index[: evaluation.sample_limit(len(index))]  # fewer under --mlguard-budget: the data are in random order
    chunks = plan_chunks(spec, evaluation) if chunked(spec) else None
    if chunks is not None:  # fixed seeded chunks of the run's samples (on a shard: its chunks), each an ART call
        index = chunks.positions
    if not len(index) and evaluation.shard is not None:
        return empty_share(spec, evaluation)
    data = chunk_data(evaluation, chunks) if chunks is not None else evaluation.data if len(index) == evaluation.data.n else evaluation.data.take(index)
    batch_size = spec.param("batch_size")
    adapter: Adapter = evaluation.memo(("attack", "adapter", batch_size), lambda: make_adapter(model, batch_size))
    adapter.log.forget()  # the check's counts are its own, whatever ran before it in this process
    check_applicable(definition, model, adapter)
    seed = stable_seed(settings.seed, evaluation.model_id, spec.id)
    run = _Run(spec, evaluation, definition, adapter, data, seed, index, chunks)
    with seeded(seed), gradients_enabled():
        adapter.freeze()
        return run.measure()


class _Run:
    """The work of one check (kept together so that the phases share their arrays)."""

    def __init__(self, spec: CheckSpec, evaluation: Evaluation, definition: AttackDef, adapter: Adapter, data: EvalData, seed: int, index: np.ndarray, chunks: Chunks | None) -> None:
        self.spec = spec
        self.index = index  # of each sample of data in evaluation.data (chunked: its place in the unsharded run's)
        self.chunks = chunks  # the chunks attacked, each a seeded ART call (attacks/_chunks.py), or None: one call
        self.caches: dict[int, dict[bytes, np.ndarray]] = {}  # each chunk's predictions
        self.adv_proba = np.zeros((len(index), evaluation.model.n_classes))  # filled chunk by chunk
        self.evaluation = evaluation
        self.definition = definition
        self.adapter = adapter
        self.data = data
        self.seed = seed
        self.norm: str = spec.param("norm")
        self.params = dict(spec.param("params"))
        self.tolerance: float = spec.param("tolerance")
        self.rng = evaluation.rng(spec)
        self.problems: list[dict[str, Any]] = []
        self._per_eps: np.ndarray | None = None  # adversarial classes at each epsilon of a sweep
        self._norms: np.ndarray | None = None  # the norms a minimal attack needed
        self.looked: np.ndarray | None = None  # the samples looked at, when a floor check stopped early
        self.stopper: Any = None
        self.attack_evaluations = 0  # model evaluations of the attacks on the samples looked at, when stopped early
        self.successes: int | None = None  # robust samples, for the binomial interval of robust accuracy
        self.paired: tuple[int, int, int, int] | None = None
        self.interval: tuple[float, float] | None = None
        self.interval_method: str | None = None
        self.sound: soundness.Sound | None = None  # a black-box attack's count, when it beat a gradient one
        self.drawn: dict[str, Any] | None = None  # a fixed-epsilon check that drew more samples: n, interval, message
        self.more_samples: dict[str, Any] | None = None  # what verdict.more_samples did (details["more_samples"])

    # -- phases ---------------------------------------------------------------------------------
    def measure(self) -> Measurement:
        before = self.adapter.log.snapshot()
        x, y = self.data.x, self.data.y
        try:
            clean_proba = clean_probabilities(self) if self.chunks is not None else None
            clean_pred = self.adapter.labels(x) if clean_proba is None else clean_proba.argmax(axis=1)
            self._probe_model(clean_pred)
            measured = self._minimal if self.definition.minimal else self._sweep if self.spec.param("eps") is None else self._fixed
            value, details, x_adv, adv_pred = measured(clean_pred)
        except NonFiniteOutput as exc:  # rows of the check's samples (clean or adversarial): named as samples of mlguard_data
            full_index = self.evaluation.data_index if self.chunks is None else self.evaluation.unsharded_index
            raise (exc if exc.samples is not None else exc.located(sorted(full_index[self.index[exc.rows]].tolist()))) from None
        if self.looked is not None:  # stopped early: the rest of the report covers the samples looked at
            x, y, clean_pred = x[self.looked], y[self.looked], clean_pred[self.looked]
            self.data = EvalData(x, y, name=self.data.name)
        spent = self.adapter.log.since(before)
        if self.definition.gradients:
            if not spent["gradient_rows"]:  # the attack computed gradients on an estimator of its own (AutoAttack)
                self._probe_gradients()
                spent = self.adapter.log.since(before)
            self.problems += soundness.gradient_problems(spent, self.tolerance)
        details["model_evaluations"] = spent["evaluations"] + spent["gradient_rows"]
        if self.stopper is not None:  # saved: what the attacks cost per sample looked at, times the samples skipped
            details["early_stop"] = self.stopper.details(self.attack_evaluations)
        details["gradient_evaluations"] = spent["gradient_rows"]
        details["zero_gradient_evaluations"], details["nonfinite_gradient_evaluations"] = spent["zero_gradient_rows"], spent["nonfinite_gradient_rows"]
        details["queries_per_sample"] = round(spent["evaluations"] / max(1, len(y)), 2)
        details["cached_predictions"] = spent["requested"] - spent["evaluations"]
        if clean_proba is None:
            adv_proba, clean_proba = self.adapter.proba(x_adv), self.adapter.proba(x)
        else:  # computed chunk by chunk
            adv_proba, clean_proba = (self.adv_proba, clean_proba) if self.looked is None else (self.adv_proba[self.looked], clean_proba[self.looked])
        from ..calibration.metrics import expected_calibration_error

        details["ece_adversarial"] = expected_calibration_error(adv_proba, y)
        details["clean_ece"] = expected_calibration_error(clean_proba, y)
        if self.evaluation.shard is not None:  # a check measured on a shard's samples: what the merge recomputes it from
            positions = None if self.chunks is None else self.index if self.looked is None else self.index[self.looked]
            keep_sample_statistics(self.evaluation, self.spec, x, x_adv, y, clean_pred, adv_pred, adv_proba, clean_proba, positions=positions, per_eps=self._per_eps, norms=self._norms)
        details["artifacts"] = self._save(x, y, clean_pred, x_adv, adv_pred, details)
        return self._verdict(value, details)

    def _probe_model(self, clean_pred: np.ndarray) -> None:
        evaluation, model = self.evaluation, self.evaluation.model

        def determinism() -> dict[str, Any] | None:
            size = min(evaluation.data.n, self.spec.param("batch_size"))
            again = model.predict_proba(evaluation.data.x[:size])
            return soundness.nondeterministic(evaluation.clean_proba[:size], again)

        problem = evaluation.memo(("attack", "determinism"), determinism)
        if problem:
            self.problems.append(problem)
            return  # a model that changes its mind also disagrees with itself on the clean samples
        if self.data is evaluation.data:
            model_labels = evaluation.clean_proba.argmax(axis=1)
        else:
            model_labels = model.predict(self.data.x)
        problem = soundness.clean_mismatch(clean_pred, model_labels, self.data.y)
        if problem:
            self.problems.append(problem)

    def _probe_gradients(self) -> None:
        """One loss gradient at the clean samples, for the attacks whose gradients ART hides from the log (of
        chunk 0 where the samples are chunked: on a shard, the shard that holds it probes)."""
        size = self.spec.param("batch_size") if self.chunks is None else self.chunks.bounds[0][1] if self.chunks.holds_first else 0
        if not size:
            return
        x = self.adapter.to_estimator(self.data.x[:size])
        one_hot = np.eye(self.evaluation.model.n_classes, dtype=np.float32)[self.data.y[:size]]
        try:
            self.adapter.estimator.loss_gradient(x, one_hot)  # the estimator logs the gradient
        except (RuntimeError, ValueError):
            pass

    def _attack(self, eps: float | None, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return attack_batch(
            self.adapter, self.definition, self.norm, eps, self.params, x, y, batch_size=self.spec.param("batch_size"), rng=self.rng
        )

    def _fixed(self, clean_pred: np.ndarray) -> tuple[float, dict[str, Any], np.ndarray, np.ndarray]:
        x, y = self.data.x, self.data.y
        eps = self.spec.param("eps")
        clean_ok = clean_pred == y
        x_adv, adv_pred = x.copy(), clean_pred.copy()
        stopper = self.evaluation.early_stop(self.spec, len(y), clean=float(clean_ok.mean()))
        if self.chunks is not None:
            self.looked = attack_chunks(self, stopper, clean_ok, x_adv, adv_pred, eps)
        elif self.spec.kind == "floor" and stopper.mode != "off":
            self.looked = attack_looks(self, stopper, clean_ok, x_adv, adv_pred, eps)
        else:
            x_adv[:] = self._attack(eps, x, y)
            adv_pred[:] = self.adapter.proba_of(x_adv, np.arange(len(x))).argmax(axis=1)
        registered(self, eps, adv_pred == y, clean_ok, self.looked)  # compared with the other kind of attack at eps
        if self.looked is not None:
            x, y, x_adv, adv_pred, clean_pred = x[self.looked], y[self.looked], x_adv[self.looked], adv_pred[self.looked], clean_pred[self.looked]
        out = metrics.outcome(y, clean_pred, adv_pred)
        stopper.update(int(out["robust"].sum()), len(y), known_failures=stopper.known_failures)
        value, self.interval, self.interval_method = stopper.value_and_interval()
        self.successes = None if stopper.stopped and stopper.mode == "exact" else int(out["robust"].sum())
        robust = out["robust"] if stopper.stopped else draw_more(self, eps, out["robust"], float(clean_ok.mean()))
        kept = self.index if self.looked is None else self.index[self.looked]  # places in evaluation.data, then those drawn beyond
        kept = np.concatenate([kept, self.evaluation.data.n + np.arange(len(robust) - len(kept))])
        keep_outcomes(self.evaluation, self.spec.id, robust, kept)  # for the gate's paired comparison, and a shard's statistics
        if self.drawn is not None:
            value, self.successes = float(robust.mean()), int(robust.sum())
        self.paired = paired_counts(out["clean_ok"], out["robust"])  # robust accuracy against a relative floor
        details = self._common(out, adv_pred)
        details["eps"] = eps
        norms = metrics.perturbation_norms(x, x_adv, self.norm)
        details["perturbation"] = {
            "linf_max": float(metrics.perturbation_norms(x, x_adv, "linf").max()),
            "l2_median": float(np.median(metrics.perturbation_norms(x, x_adv, "l2"))),
            "flipped": metrics.norm_summary(norms[out["flipped"]]),
        }
        self.stopper = stopper
        return value, details, x_adv, adv_pred

    def _sweep(self, clean_pred: np.ndarray) -> tuple[float, dict[str, Any], np.ndarray, np.ndarray]:
        y = self.data.y
        epsilons = list(self.spec.param("sweep"))
        masks, adv_preds = [], []
        x_adv, classes = sweep_chunks(self, epsilons)  # a classifier's sweep is always chunked (attacks/_chunks.py)
        for adv_pred, eps in zip(classes, epsilons):
            out = metrics.outcome(y, clean_pred, adv_pred)
            masks.append(out["robust"])
            adv_preds.append(adv_pred)
            registered(self, eps, out["robust"], out["clean_ok"], None)
        details = self._common(metrics.outcome(y, clean_pred, adv_preds[-1]), adv_preds[-1])
        value, self.interval, rising = sweep_curve(self.spec, self.evaluation, masks, details)  # as the merge computes it
        self.interval_method = "bootstrap" if self.interval else None
        self.problems += rising
        self._per_eps = np.stack(adv_preds)
        return value, details, x_adv, adv_preds[-1]

    def _minimal(self, clean_pred: np.ndarray) -> tuple[float, dict[str, Any], np.ndarray, np.ndarray]:
        x, y = self.data.x, self.data.y
        x_adv, (adv_pred,) = sweep_chunks(self, [None])  # always chunked, as a sweep
        out = metrics.outcome(y, clean_pred, adv_pred)
        norms = metrics.minimal_norms(x, x_adv, y, clean_pred, adv_pred, self.norm, self.evaluation.model.value_range)
        self._norms = norms
        details = self._common(out, adv_pred, clean_key="clean")
        value, self.interval = minimal_curve(self.spec, self.evaluation, out["clean_ok"], out["flipped"], norms, details)  # as the merge computes it
        self.interval_method = "bootstrap" if self.interval else None
        details["perturbation"]["box_diameter"] = metrics.box_diameter(x.shape[1:], self.evaluation.model.value_range, self.norm)
        return value, details, x_adv, adv_pred

    # -- shared pieces --------------------------------------------------------------------------
    def _common(self, out: dict[str, Any], adv_pred: np.ndarray, clean_key: str = "clean_accuracy") -> dict[str, Any]:
        definition = self.definition
        details: dict[str, Any] = {
            "attack": definition.name,
            "art": definition.art,
            "norm": self.norm,
            "access": definition.access,
            "params": {**self.params, "batch_size": self.spec.param("batch_size")},
            clean_key: out["clean_accuracy"],
            "robust_accuracy": out["robust_accuracy"],
            "success_rate": out["success_rate"],
            "seed": self.seed,
            "seeded": definition.seeded,
        }
        if definition.seed_note:
            details["seed_note"] = definition.seed_note
        if definition.name == "autoattack":  # which attacks ran: not the reference AutoAttack's
            details["components"], details["components_note"] = autoattack_components(self.params), AUTOATTACK_NOTE
        flipped = np.flatnonzero(out["flipped"])
        details["flipped"] = [
            {"index": int(i), "label": int(self.data.y[i]), "adversarial_class": int(adv_pred[i])} for i in flipped[:10000]
        ]
        return details

    def _save(
        self, x: np.ndarray, y: np.ndarray, clean_pred: np.ndarray, x_adv: np.ndarray, adv_pred: np.ndarray, details: dict[str, Any]
    ) -> str:
        """Per-sample outcomes (``outcomes.json``) and the flipped samples (``adversarial.npz``) to replay."""
        directory = self.evaluation.artifact_dir(self.spec)
        flipped = (clean_pred == y) & (adv_pred != y)
        columns: dict[str, Any] = {
            "check": self.spec.id,
            "model": self.evaluation.model_id,
            "seed": self.seed,
            "label": y.tolist(),
            "clean_class": clean_pred.tolist(),
            "adversarial_class": adv_pred.tolist(),
            "flipped": flipped.tolist(),
            "norm_" + self.norm: np.round(metrics.perturbation_norms(x, x_adv, self.norm), 6).tolist(),
        }
        if self._per_eps is not None:
            columns["sweep_eps"] = list(self.spec.param("sweep"))
            columns["adversarial_class_at_eps"] = self._per_eps.tolist()
        if self._norms is not None:
            columns["minimal_norm"] = np.round(self._norms, 6).tolist()
        index = np.flatnonzero(flipped)
        np.savez(directory / "adversarial.npz", index=index, x=x[index], x_adv=x_adv[index], y=y[index], adversarial_class=adv_pred[index])
        (directory / "outcomes.json").write_text(json.dumps(columns))
        return str(directory)

    def _verdict(self, value: float, details: dict[str, Any]) -> Measurement:
        """The measurement. With ``attack.soundness = "fail"`` and a problem, the check fails whatever
        its value says, and quotes one number: the sound measurement where there is one (a black-box
        attack beat a gradient one: the black-box robust accuracy, an upper bound), otherwise none
        (``nan``, no interval; the message keeps what was measured)."""
        mode = self.spec.param("soundness")
        details["soundness"] = {"mode": mode, "problems": self.problems}
        clean = None if self.definition.minimal else details["clean_accuracy"]
        message, failure = "", None
        n, successes, interval, method = self.data.n, self.successes, self.interval, self.interval_method
        paired = self.paired
        if self.more_samples is not None:
            details["more_samples"] = self.more_samples
        if self.drawn is not None:
            n = self.drawn["n"]
        if self.problems:
            message, failure = soundness.verdict(self.problems, mode, self.spec.metric, value, f"{self.spec.id} on model {self.evaluation.model_id!r}")
            if failure is not None:
                details["untrusted_value"] = value
                value, n, successes, paired, message = soundness.unsound_quote(message, self.spec.metric, n, self.sound)
                interval, method = None, None
        early = details.get("early_stop") or {}
        if self.drawn is not None and failure is None:
            message = "\n".join(filter(None, [message, self.drawn["message"]]))
        return Measurement(
            value=value,
            n=n,
            clean=clean,
            details=details,
            message=message,
            successes=successes,
            paired=paired,
            interval=interval,
            interval_method=method,
            evaluations=details["model_evaluations"],
            evaluations_saved=early.get("evaluations_saved"),
            failure=failure,
        )
