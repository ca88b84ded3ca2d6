"""Train the digits CNN and save its weights (about 150 KB): ``python examples/digits/train.py``.

``--adversarial`` trains it adversarially instead (Madry et al., 2018: every batch is replaced by its
PGD adversarial examples, L-inf eps 0.1 in [0, 1] pixel units) and saves ``weights_adv.pt``, the
model that passes the PGD floors the plain CNN fails. ``--noise 0.4`` adds Gaussian noise of sigma
0.4 to every training image and saves ``weights_noise.pt``, the model that passes a relative floor
under gaussian_noise-5 (0.82*clean, tests/unit/test_corruptions_family.py) the plain CNN fails.

Deterministic for a seed on the CPU. Takes a few seconds (about a minute adversarially).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

from model import HERE, MEAN, STD, WEIGHTS, DigitsCNN, freeze_test_split, load_digits_split

WEIGHTS_ADV = HERE / "weights_adv.pt"
WEIGHTS_NOISE = HERE / "weights_noise.pt"


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 7) -> torch.Tensor:
    """L-inf PGD from a random start in the eps ball, in [0, 1] pixel units (for adversarial training)."""
    step = 2.5 * eps / steps
    adv = (x + torch.empty_like(x).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = nn.functional.cross_entropy(model((adv - MEAN) / STD), y)
        (grad,) = torch.autograd.grad(loss, adv)
        adv = torch.min(torch.max(adv.detach() + step * grad.sign(), x - eps), x + eps).clamp(0, 1)
    return adv.detach()


def train(epochs: int = 30, seed: int = 0, noise: float = 0.0, adversarial: float = 0.0) -> DigitsCNN:
    """Train on the training split; ``noise`` adds Gaussian noise of that sigma to training images;
    ``adversarial`` trains on PGD adversarial examples of that L-inf epsilon instead of the images."""
    torch.manual_seed(seed)
    x, y = load_digits_split("train")
    x_t, y_t = torch.from_numpy(x), torch.from_numpy(y)
    model = DigitsCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_t), generator=generator)
        for start in range(0, len(order), 64):
            index = order[start : start + 64]
            batch = x_t[index]
            if noise:
                batch = (batch + noise * torch.randn(batch.shape, generator=generator)).clamp(0, 1)
            if adversarial:
                model.eval()
                batch = pgd(model, batch, y_t[index], adversarial)
                model.train()
            optimizer.zero_grad()
            loss = loss_fn(model((batch - MEAN) / STD), y_t[index])
            loss.backward()
            optimizer.step()
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--adversarial", action="store_true", help="train on PGD examples (eps 0.1); saves weights_adv.pt")
    parser.add_argument("--noise", type=float, default=0.0, help="sigma of Gaussian noise added to training images; saves weights_noise.pt")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.out = args.out or (WEIGHTS_ADV if args.adversarial else WEIGHTS_NOISE if args.noise else WEIGHTS)
    x, _ = load_digits_split("train")
    print(f"training split: mean {x.mean():.4f}, std {x.std():.4f} (model.py uses {MEAN}, {STD})")
    model = train(args.epochs, args.seed, noise=args.noise, adversarial=0.1 if args.adversarial else 0.0)
    x_test, y_test = load_digits_split("test")
    with torch.no_grad():
        accuracy = (model((torch.from_numpy(x_test) - MEAN) / STD).argmax(1).numpy() == y_test).mean()
    torch.save(model.state_dict(), args.out)
    print(f"test accuracy {accuracy:.4f}; weights saved to {args.out}")
    print(f"test split frozen in {freeze_test_split()}")


if __name__ == "__main__":
    main()
