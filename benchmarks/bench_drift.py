"""How often the shift checks raise a false alarm, how often they see a graded shift, and how far ATC's
estimated accuracy lies from the true accuracy, on the digits CNN and its 360 test images.

Each repetition splits the test images at random into two disjoint halves of 180: the first is the
evaluation data (labelled), the second the production sample (in-distribution, or shifted as
stated). The tests are those of ``shift[classes]``, ``shift[confidence]``, ``shift[inputs]``
(brightness and contrast) and ``shift[embedding]`` (MMD on the CNN's 64-d penultimate layer, with
1000 permutations; in fewer repetitions, as it costs most), Holm-corrected together at ``alpha`` as
the family does:

* false alarms: the fraction of in-distribution repetitions in which the family (any Holm-adjusted
  p-value below alpha), and each test alone (its raw p-value below alpha), rejects; the target is at
  most the nominal level;
* detection: the fraction of repetitions in which the family rejects, for brighter and rotated
  production samples at several strengths;
* ATC: the estimated and the true accuracy of the production half under corruptions of
  :func:`pytest_mlguard.corruptions.corrupt` at each severity, and the mean absolute error.

    python benchmarks/bench_drift.py             # about 2 minutes on one core
    python benchmarks/bench_drift.py --quick     # fewer repetitions
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "digits"))

from model import CLASS_NAMES, MEAN, STD, load_digits_split, load_model  # noqa: E402
from digits_production import shift_images  # noqa: E402

from pytest_mlguard import TorchModel  # noqa: E402
from pytest_mlguard.corruptions import corrupt  # noqa: E402
from pytest_mlguard.production._shift.embedding import embed, mmd_test  # noqa: E402
from pytest_mlguard.production._shift.run import input_tests  # noqa: E402
from pytest_mlguard.production._shift.statistics import atc_estimate, confidence_scores, frequency_test, holm, numeric_test  # noqa: E402

SHIFTS = [("brightness", b, 0.0) for b in (0.02, 0.05, 0.1, 0.2)] + [("rotation", 0.0, d) for d in (5.0, 10.0, 20.0)]
CORRUPTIONS = ("gaussian_noise", "gaussian_blur", "contrast", "pixelate")


def family_tests(ref_x, ref_p, prod_x, prod_p, embeddings=None, rng=None) -> list[float]:
    """The raw p-values of the family's tests: classes, confidence, the image statistics, then the
    MMD of ``embeddings`` (reference, production) where given."""
    tests = [frequency_test("classes", ref_p.argmax(1), prod_p.argmax(1)), numeric_test("confidence", ref_p.max(1), prod_p.max(1))]
    tests += input_tests(ref_x, prod_x)
    if embeddings is not None:
        tests.append(mmd_test(*embeddings, permutations=1000, rng=rng))
    return [test.p_value for test in tests]


def _halves(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(n)
    return order[: n // 2], order[n // 2 :]


def false_alarms(x, proba, emb, reps: int, mmd_reps: int, alpha: float, rng: np.random.Generator) -> None:
    names = ["classes", "confidence", "brightness", "contrast", "embedding"]
    raw = np.full((reps, len(names)), np.nan)
    family = np.zeros(reps, dtype=bool)
    for r in range(reps):
        a, b = _halves(len(x), rng)
        p = family_tests(x[a], proba[a], x[b], proba[b], (emb[a], emb[b]) if r < mmd_reps else None, rng)
        raw[r, : len(p)] = np.asarray(p) < alpha
        family[r] = holm(p).min() < alpha
    print(f"false alarms on in-distribution halves ({reps} splits of 180 + 180, the embedding in the first {mmd_reps}; alpha {alpha}):")
    for i, name in enumerate(names):
        print(f"  {name:<12} {np.nanmean(raw[:, i]):.3f}")
    print(f"  {'family':<12} {family[:mmd_reps].mean():.3f} with the embedding ({mmd_reps} splits), {family[mmd_reps:].mean():.3f} without it; target <= {alpha}")


def detection(model: TorchModel, x, proba, emb, reps: int, alpha: float, rng: np.random.Generator) -> None:
    print(f"detection: the family rejects, and the embedding's MMD alone ({reps} splits, alpha {alpha})")
    for kind, brightness, degrees in SHIFTS:
        hits = mmd_hits = 0
        for _ in range(reps):
            a, b = _halves(len(x), rng)
            shifted = shift_images(x[b], brightness, degrees)
            p = family_tests(x[a], proba[a], shifted, model.predict_proba(shifted), (emb[a], embed(model, shifted)), rng)
            hits += holm(p).min() < alpha
            mmd_hits += p[-1] < alpha
        strength = f"+{brightness:g}" if kind == "brightness" else f"{degrees:g} degrees"
        print(f"  {kind:<10} {strength:<11} {hits / reps:.3f}  (mmd {mmd_hits / reps:.3f})")


def atc_errors(model: TorchModel, x: np.ndarray, y: np.ndarray, proba: np.ndarray, reps: int, rng: np.random.Generator) -> None:
    print(f"ATC: estimated against true accuracy of the corrupted production half (mean of {reps} splits)")
    print(f"  {'corruption':<15} sev  true   max-prob  (error)  neg-entropy (error)")
    errors: dict[str, list[float]] = {"max-probability": [], "negative-entropy": []}
    for name in CORRUPTIONS:
        for severity in range(1, 6):
            corrupted = np.stack([corrupt(image[0], name, severity, seed=i)[None] for i, image in enumerate(x)]).astype(np.float32)
            cproba = model.predict_proba(corrupted)
            rows = []
            for _ in range(reps):
                order = rng.permutation(len(x))
                a, b = order[: len(x) // 2], order[len(x) // 2 :]
                truth = float(np.mean(cproba[b].argmax(1) == y[b]))
                correct = proba[a].argmax(1) == y[a]
                rows.append([truth] + [atc_estimate(confidence_scores(proba[a], s), correct, confidence_scores(cproba[b], s)) for s in errors])
            truth, mp, ne = np.mean(rows, axis=0)
            errors["max-probability"].append(abs(mp - truth))
            errors["negative-entropy"].append(abs(ne - truth))
            print(f"  {name:<15} {severity}    {truth:.3f}  {mp:.3f}     ({mp - truth:+.3f})  {ne:.3f}       ({ne - truth:+.3f})")
    print("  mean absolute error: " + ", ".join(f"{s} {np.mean(e):.3f}" for s, e in errors.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--alpha", type=float, default=0.01, help="the family's alpha (shift.alpha; default 0.01)")
    args = parser.parse_args()
    model = TorchModel(load_model(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits")
    x, y = load_digits_split("test")
    proba = model.predict_proba(x)
    rng = np.random.default_rng(0)
    emb = embed(model, x)
    false_alarms(x, proba, emb, 200 if args.quick else 2000, 50 if args.quick else 300, args.alpha, rng)
    detection(model, x, proba, emb, 10 if args.quick else 50, args.alpha, rng)
    atc_errors(model, x, y, proba, 5 if args.quick else 20, rng)


if __name__ == "__main__":
    main()
