"""How close mlguard's PGD through ART comes to the speed limit, printed as ratios measured side by side.

The limit is a hand-written torch loop that makes the same forward and input-gradient passes at the
same batch size: the clean predictions, ``steps`` gradient steps per batch, the adversarial
predictions. Against it, in one run, interleaved and repeated (the best of ``--repeats`` each):

* ``mlguard``: the attack check's path (``pytest_mlguard.attacks._adapters`` + ``pytest_mlguard.attacks.run.attack_batch`` + the
  predictions robust accuracy needs): ART's PGD over :class:`MlguardPyTorchClassifier` with the
  parameters frozen and the predictions cached;
* ``mlguard check``: the whole ``attack[pgd-linf-<eps>]`` check, with its soundness probes, the
  ECE on the adversarial examples and the per-sample artefacts;
* ``ART defaults``: ART's ``PyTorchClassifier`` and ``ProjectedGradientDescent`` as their docs show
  them (only ``verbose=False``, and the same eps, step, steps, batch size and no random start);
* ``ART + frozen``: the same with the parameters frozen, the effect of freezing alone.

Robust accuracy must be identical across all of them (random start is off). Models: the digits CNN
(360 test images, 8x8) and a torchvision ResNet-18 with random weights (``weights=None``) at 32x32
(128 images) and 224x224 (12 images) on seeded noise images labelled with the network's own
predictions. Results and what they mean: docs/attacks.md, "Speed".

    python benchmarks/bench_attacks.py --threads 1   # about 6 minutes on 2 cores
    python benchmarks/bench_attacks.py --quick       # digits and ResNet-18 at 32x32 only
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples" / "digits"))
sys.path.insert(0, str(ROOT))  # this checkout's package, not the one a shared venv has installed (editable) from another

from pytest_mlguard import EvalData, TorchModel  # noqa: E402
from pytest_mlguard.attacks._art import import_art  # noqa: E402
from pytest_mlguard.attacks._adapters import make_adapter  # noqa: E402
from pytest_mlguard.attacks._build import seeded  # noqa: E402
from pytest_mlguard.attacks._registry import ATTACKS  # noqa: E402
from pytest_mlguard.attacks.run import attack_batch, gradients_enabled  # noqa: E402
from pytest_mlguard.checks._evaluation import Evaluation  # noqa: E402
from pytest_mlguard.checks._registry import all_keys, family  # noqa: E402
from pytest_mlguard.config import resolve  # noqa: E402


def bare_pgd(module: torch.nn.Module, x: np.ndarray, y: np.ndarray, eps: float, step: float, steps: int, batch_size: int) -> float:
    """Robust accuracy under L-inf PGD from the clean input, in plain torch (the speed limit)."""
    for p in module.parameters():
        p.requires_grad_(False)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    clean, adv_pred = [], []
    with torch.no_grad():
        for s in range(0, len(xt), batch_size):
            clean.append(module(xt[s : s + batch_size]).argmax(1))
    for s in range(0, len(xt), batch_size):
        xb, yb = xt[s : s + batch_size], yt[s : s + batch_size]
        adv = xb.clone()
        for _ in range(steps):
            adv.requires_grad_(True)
            (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(module(adv), yb), adv)
            adv = torch.min(torch.max(adv.detach() + step * grad.sign(), xb - eps), xb + eps).clamp(0, 1)
        with torch.no_grad():
            adv_pred.append(module(adv).argmax(1))
    for p in module.parameters():
        p.requires_grad_(True)
    return float(((torch.cat(clean) == yt) & (torch.cat(adv_pred) == yt)).double().mean())


def art_pgd(
    module: torch.nn.Module, x: np.ndarray, y: np.ndarray, eps: float, step: float, steps: int, batch_size: int, *, classes: int, freeze: bool
) -> float:
    """ART used as its documentation shows, optionally with the parameters frozen."""
    import_art()
    from art.attacks.evasion import ProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    if freeze:
        for p in module.parameters():
            p.requires_grad_(False)
    classifier = PyTorchClassifier(
        module, loss=torch.nn.CrossEntropyLoss(), input_shape=x.shape[1:], nb_classes=classes, clip_values=(0.0, 1.0)
    )
    attack = ProjectedGradientDescent(
        classifier, eps=eps, eps_step=step, max_iter=steps, num_random_init=0, batch_size=batch_size, verbose=False
    )
    x_adv = attack.generate(x=x, y=y)
    clean = classifier.predict(x, batch_size=batch_size).argmax(1)
    adv = classifier.predict(x_adv, batch_size=batch_size).argmax(1)
    for p in module.parameters():
        p.requires_grad_(True)
    return float(((clean == y) & (adv == y)).mean())


def mlguard_pgd(model: TorchModel, x: np.ndarray, y: np.ndarray, eps: float, steps: int, batch_size: int) -> float:
    """The attack check's path: adapter, clean labels, ART's PGD, adversarial labels."""
    params = {"steps": steps, "step_size": 2.5 / steps, "restarts": 0}
    with model.running("cpu"), seeded(0), gradients_enabled():
        adapter = make_adapter(model, batch_size)
        adapter.freeze()
        clean = adapter.labels(x)
        x_adv = attack_batch(adapter, ATTACKS["pgd"], "linf", eps, params, x, y, batch_size=batch_size, rng=np.random.default_rng(0))
        adv = adapter.labels(x_adv)
    return float(((clean == y) & (adv == y)).mean())


def mlguard_check(model: TorchModel, x: np.ndarray, y: np.ndarray, eps: float, steps: int, batch_size: int, output: str) -> float:
    """The whole attack check, as the suite runs it (a fresh evaluation each time: nothing shared)."""
    cli = {"attack.checks": f"pgd-linf-{eps!r}", "attack.steps": str(steps), "attack.batch_size": str(batch_size), "output": output}
    cli["verdict.early_stop"] = "off"  # every sample, as the other paths (benchmarks/bench_early_stop.py measures stopping)
    settings = resolve(cli=cli, environ={}, keys=all_keys())
    evaluation = Evaluation(model, EvalData(x, y), settings)
    fam = family("attack")
    result = evaluation.run(fam, fam.plan(settings)[0])
    return result.value if result.value == result.value else result.details["untrusted_value"]


def best_of(repeats: int, runs: dict[str, Callable[[], float]]) -> dict[str, tuple[float, float, float]]:
    """Interleave the runs ``repeats`` times: the best wall time, the best CPU time of this process
    (which other processes on a busy machine disturb less) and the robust accuracy of each."""
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    values: dict[str, float] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            values[name] = run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    return {name: (min(wall[name]), min(cpu[name]), values[name]) for name in runs}


def raw(model: TorchModel) -> torch.nn.Module:
    return model.raw_module().eval()


def bench(title: str, model: TorchModel, x: np.ndarray, y: np.ndarray, eps: float, steps: int, batch_size: int, repeats: int) -> bool:
    step = 2.5 / steps * eps
    module = raw(model)
    output = tempfile.mkdtemp(prefix="bench-attacks-")
    runs = {
        "bare torch loop": lambda: bare_pgd(module, x, y, eps, step, steps, batch_size),
        "mlguard PGD": lambda: mlguard_pgd(model, x, y, eps, steps, batch_size),
        "mlguard check": lambda: mlguard_check(model, x, y, eps, steps, batch_size, output),
        "ART defaults": lambda: art_pgd(module, x, y, eps, step, steps, batch_size, classes=model.n_classes, freeze=False),
        "ART + frozen": lambda: art_pgd(module, x, y, eps, step, steps, batch_size, classes=model.n_classes, freeze=True),
    }
    results = best_of(repeats, runs)
    base, base_cpu, base_value = results["bare torch loop"]
    print(f"\n{title}: {len(x)} samples, batch {batch_size}, PGD-{steps} L-inf eps {eps:g}, best of {repeats}")
    print(f"  {'':<16} {'wall':>8}   {'cpu':>8}   robust accuracy   ratio to the bare loop (wall, cpu)")
    same = True
    for name, (seconds, cpu, value) in results.items():
        ratio = "" if name == "bare torch loop" else f"  {name} / bare loop = {seconds / base:.3f} (cpu {cpu / base_cpu:.3f})"
        print(f"  {name:<16} {seconds:8.3f} s {cpu:8.3f} s   {value:.4f}{ratio}")
        same &= value == base_value
    print(f"  robust accuracy identical: {same}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip ResNet-18 at 224x224")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    from model import CLASS_NAMES, MEAN, STD, load_digits_split, load_model

    x, y = load_digits_split("test")
    digits = TorchModel(load_model(), input_shape=(1, 8, 8), mean=MEAN, std=STD, class_names=CLASS_NAMES, name="digits")
    ok = bench("digits CNN", digits, x, y, eps=0.1, steps=10, batch_size=128, repeats=args.repeats)

    import torchvision

    # (side, samples, batch, eps): eps small enough that some samples survive the random network
    sizes = [(32, 128, 64, 2 / 255)] + ([] if args.quick else [(224, 12, 12, 1.5 / 255)])
    for size, n, batch, eps in sizes:
        torch.manual_seed(size)
        net = torchvision.models.resnet18(weights=None, num_classes=10).eval()
        resnet = TorchModel(net, input_shape=(3, size, size), n_classes=10, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), name="resnet18")
        images = np.random.default_rng(0).uniform(0, 1, (n, 3, size, size)).astype(np.float32)
        with torch.no_grad():
            labels = raw(resnet)(torch.from_numpy(images)).argmax(1).numpy()
        ok &= bench(f"ResNet-18 (random weights) {size}x{size}", resnet, images, labels, eps=eps, steps=10, batch_size=batch, repeats=args.repeats)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
