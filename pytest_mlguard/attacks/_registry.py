"""The attack registry: named presets over ART's attacks, their norms, parameters and access.

Cheap to import (no ART, no numpy); :mod:`pytest_mlguard.attacks._build` builds the ART objects.

A check names an attack, a norm and a budget:

* ``<attack>-<norm>-<eps>``: robust accuracy within an epsilon ball, for the attacks with a budget
  (``pgd-linf-8/255``, ``square-l2-0.5``); epsilon is in the model's raw input units and may be a
  fraction;
* ``<attack>-<norm>-sweep``: robust accuracy against epsilon, a curve over ``attack.sweep``
  (``attack.sweep_l2`` for the L2 norm);
* ``<attack>-<norm>``: the minimal-perturbation attacks (DeepFool, Carlini-Wagner, HopSkipJump) have
  no epsilon: they report the distribution of the smallest perturbation that flips each sample.

Example:
    >>> parse_attack_id("pgd-linf-8/255").eps
    0.03137254901960784
    >>> parse_attack_id("deepfool-l2").minimal
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal

from ..config.parse import Parser, invalid, parse_int, parse_number


Norm = Literal["linf", "l2"]
Access = Literal["gradients", "scores", "decisions"]


@dataclass(frozen=True)
class Param:
    """A tunable parameter of an attack: its parser, default (``None``: from a family-wide key) and help."""

    name: str
    parse: Parser
    default: Any
    help: str


@dataclass(frozen=True)
class AttackDef:
    """A named attack preset.

    Attributes:
        name: the name in check ids (``pgd``).
        art: the ART class it runs.
        norms: the norms it supports.
        access: what it needs from the model: ``gradients`` (white box), ``scores`` (probabilities of a
            black box) or ``decisions`` (the top-1 label of a black box).
        minimal: a minimal-perturbation attack, without an epsilon.
        seeded: ART's attack draws all of its randomness from numpy's global generator, which mlguard
            seeds; ``False`` where it cannot be seeded (see ``seed_note``).
        seed_note: how randomness is handled where ``seeded`` needs explaining.
        params: tunable parameters, set in ``[tool.mlguard.attack.params.<name>]``.
        doc: one line.
    """

    name: str
    art: str
    norms: tuple[Norm, ...]
    access: Access
    minimal: bool
    params: tuple[Param, ...]
    doc: str
    seeded: bool = True
    seed_note: str = ""

    @property
    def gradients(self) -> bool:
        return self.access == "gradients"

    def param(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)


_STEPS = Param("steps", parse_int(1, 100000), None, "iterations (default: attack.steps)")
_QUERIES = Param("queries", parse_int(1, 10**7), None, "query budget per sample (default: attack.queries)")
_FRACTION = parse_number(0.0, 10.0, open_min=True)

ATTACKS: dict[str, AttackDef] = {
    a.name: a
    for a in (
        AttackDef(
            "fgsm", "FastGradientMethod", ("linf", "l2"), "gradients", False, (),
            "Fast Gradient Sign Method (Goodfellow et al., 2015): one step of size epsilon",
        ),
        AttackDef(
            "pgd", "ProjectedGradientDescent", ("linf", "l2"), "gradients", False,
            (
                _STEPS,
                Param("step_size", _FRACTION, None, "step as a fraction of epsilon (default: attack.step_size, 2.5/steps)"),
                Param("restarts", parse_int(0, 1000), 0, "random starts; 0 starts at the clean input (default 0)"),
            ),
            "Projected Gradient Descent (Madry et al., 2018)",
        ),
        AttackDef(
            "autoattack", "AutoAttack", ("linf", "l2"), "gradients", False,
            (
                Param("steps", parse_int(1, 100000), 100, "iterations of each APGD run (default 100)"),
                Param("restarts", parse_int(1, 1000), 1, "random starts of each APGD run (default 1)"),
                _QUERIES,
            ),
            "AutoAttack's components through ART (APGD-CE, APGD-DLR, then Square on what survives): not the reference AutoAttack, "
            "whose targeted APGD-T and FAB-T do not run",
        ),
        AttackDef(
            "cw", "CarliniL2Method", ("l2",), "gradients", True,
            (
                Param("steps", parse_int(1, 100000), 10, "iterations per search step (default 10)"),
                Param("search_steps", parse_int(1, 100), 5, "binary search steps over the constant (default 5)"),
                Param("confidence", parse_number(0.0, 1000.0), 0.0, "margin of the adversarial class (default 0)"),
                Param("learning_rate", parse_number(0.0, 100.0, open_min=True), 0.01, "step of the optimiser (default 0.01)"),
            ),
            "Carlini-Wagner L2 (Carlini and Wagner, 2017), minimal perturbation",
        ),
        AttackDef(
            "deepfool", "DeepFool", ("l2",), "gradients", True,
            (
                Param("steps", parse_int(1, 100000), 10, "iterations (default 10)"),
                Param("overshoot", parse_number(0.0, 10.0), 0.02, "overshoot past the boundary (default 0.02)"),
                Param("candidates", parse_int(1, 100000), 10, "classes considered at each step (default 10)"),
            ),
            "DeepFool (Moosavi-Dezfooli et al., 2016), minimal perturbation",
        ),
        AttackDef(
            "square", "SquareAttack", ("linf", "l2"), "scores", False,
            (
                _QUERIES,
                Param("restarts", parse_int(1, 1000), 1, "restarts (default 1)"),
                Param("p_init", parse_number(0.0, 1.0, open_min=True), 0.8, "initial fraction of pixels changed (default 0.8)"),
            ),
            "Square Attack (Andriushchenko et al., 2020): random search on the scores of a black box",
        ),
        AttackDef(
            "hopskipjump", "HopSkipJump", ("l2", "linf"), "decisions", True,
            (
                _QUERIES,
                Param("init_eval", parse_int(1, 100000), 100, "queries of the first gradient estimate (default 100)"),
            ),
            "HopSkipJump (Chen et al., 2020): minimal perturbation from the top-1 decisions of a black box",
            seeded=False,
            seed_note=(
                "ART's HopSkipJump draws its starting points from an unseeded numpy RandomState; mlguard passes it "
                "seeded starting points (x_adv_init) and seeds the rest, so a run is reproducible"
            ),
        ),
    )
}


@dataclass(frozen=True)
class AttackId:
    """A parsed check name: ``eps`` is ``None`` for minimal attacks and sweeps; ``eps_text`` keeps the spelling."""

    attack: str
    norm: Norm
    eps: float | None
    eps_text: str = ""
    sweep: bool = False

    @property
    def name(self) -> str:
        if self.sweep:
            return f"{self.attack}-{self.norm}-sweep"
        return f"{self.attack}-{self.norm}" + (f"-{self.eps_text}" if self.eps_text else "")

    @property
    def minimal(self) -> bool:
        return ATTACKS[self.attack].minimal


_ID = re.compile(r"(?P<attack>[a-z0-9_]+)-(?P<norm>[a-z0-9]+)(?:-(?P<eps>[^-].*))?")
_EXPECTED = (
    "an attack check such as 'pgd-linf-0.1', 'fgsm-linf-8/255', 'pgd-linf-sweep' or 'deepfool-l2' "
    "(<attack>-<norm>-<eps>, <attack>-<norm>-sweep, or <attack>-<norm> for a minimal attack)"
)


def parse_eps(text: str) -> float:
    """A positive epsilon from ``0.1``, ``8/255`` or ``1e-2``; ``ValueError`` otherwise."""
    try:
        eps = float(Fraction(text)) if "/" in text else float(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError("a positive epsilon such as 0.1 or 8/255") from None
    if not 0 < eps < float("inf"):
        raise ValueError("a positive epsilon such as 0.1 or 8/255")
    return eps


def parse_attack_id(text: str) -> AttackId:
    """Parse ``pgd-linf-0.1``, ``fgsm-l2-8/255``, ``pgd-linf-sweep`` or ``deepfool-l2``.

    Raises ``ValueError`` whose message says what was expected.
    """
    match = _ID.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(_EXPECTED)
    attack, norm, eps_text = match.group("attack"), match.group("norm"), match.group("eps")
    if attack not in ATTACKS:
        raise ValueError(f"an attack name, one of {', '.join(ATTACKS)}")
    definition = ATTACKS[attack]
    if norm not in ("linf", "l2"):
        raise ValueError(_EXPECTED)
    if norm not in definition.norms:
        raise ValueError(f"a norm of {attack!r}, one of {', '.join(definition.norms)}")
    if definition.minimal:
        if eps_text is not None:
            raise ValueError(
                f"'{attack}-{norm}' without an epsilon: {attack} is a minimal-perturbation attack, and its report "
                "holds the robust accuracy at every epsilon"
            )
        return AttackId(attack, norm, None)
    if eps_text is None:
        raise ValueError(f"an epsilon or 'sweep' after '{attack}-{norm}-', such as '{attack}-{norm}-8/255'")
    if eps_text == "sweep":
        return AttackId(attack, norm, None, sweep=True)
    return AttackId(attack, norm, parse_eps(eps_text), eps_text)


def parse_attack_params(value: Any, key: str, where: str) -> dict[str, Any]:
    """The parameters of one attack, ``{steps = 20, restarts = 1}``, validated against the registry.

    ``key`` is ``attack.params.<attack>``.
    """
    attack = key.rsplit(".", 1)[-1]
    definition = ATTACKS[attack]
    if not isinstance(value, Mapping):
        raise invalid(value, key, where, f"a table of parameters of {attack}, such as {{steps = 20}}")
    known = [param.name for param in definition.params]
    parsed: dict[str, Any] = {}
    for name, raw in value.items():
        if name not in known:
            expected = f"one of {', '.join(known)}" if known else "none: it has no parameters"
            raise invalid(name, key, where, f"a parameter of {attack}, {expected}")
        parsed[name] = definition.param(name).parse(raw, f"{key}.{name}", where)
    return parsed


def draws_randomness(spec: Any) -> bool:
    """Whether an attack check (a ``CheckSpec``) draws randomness for a whole batch at once (PGD with random
    starts, AutoAttack, Square), so that an image's attack depends on the rest of its batch: it attacks
    fixed seeded chunks of its samples (attacks/_chunks.py)."""
    attack = spec.param("attack")
    return attack in ("autoattack", "square") or (attack == "pgd" and bool(dict(spec.param("params") or ()).get("restarts")))


def chunked(spec: Any) -> bool:
    """Whether a classifier's attack check attacks fixed seeded chunks of its samples (attacks/_chunks.py):
    one that draws randomness for a whole batch (:func:`draws_randomness`), a sweep and a minimal attack
    (whose value, a curve or a median, the merge recomputes from per-sample statistics)."""
    return spec.param("attack") in ATTACKS and (spec.param("eps") is None or draws_randomness(spec))


def applies_to_segmentation(spec: Any) -> bool:
    """Whether an attack check (a ``CheckSpec``) applies to a segmentation model: PGD (L-inf, L2) or
    FGSM (L-inf) at a fixed epsilon (attacks/_tasks.py)."""
    attack, norm = spec.param("attack"), spec.param("norm")
    return spec.param("eps") is not None and (attack == "pgd" or (attack == "fgsm" and norm == "linf"))
