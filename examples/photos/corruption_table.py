"""The photos example's corruption table (docs/corruptions.md): accuracy of the ResNet under every corruption
at every severity, with the Corruption Error (CE) of each corruption and the mCE against the plain CNN it
replaces, as ImageNet-C reports them against AlexNet.

    python examples/photos/corruption_table.py                          # measure both models, print the table
    python examples/photos/corruption_table.py --write docs/corruptions.md   # and replace its section there
    python examples/photos/corruption_table.py --report DIR/report.json      # the table of a nightly run

Without ``--report`` it runs the 95 corruption checks on each model with ``pytest_mlguard.check_model``, on
all 800 test patches, without early stopping (as the ``nightly`` profile does), and summarises them with the
plugin's own code (``corruptions.metrics.summarize``: the ``corruption`` object of report.json), so the
numbers are those of

    pytest --mlguard examples/photos --mlguard-profile nightly -k corruption \
        --mlguard-set corruption.baseline=<the same run on the plain CNN>/report.json

About two minutes on two cores. Rerun it when the corruptions change.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # this checkout's pytest_mlguard, not one a shared venv installed (editable) from another

START, END = "<!-- photos-corruption-table:start -->", "<!-- photos-corruption-table:end -->"
SETTINGS = {"seed": 0, "corruption.corruptions": "all", "corruption.severities": "all", "verdict.early_stop": "off"}


def measure() -> dict[str, Any]:
    """The corruption summary of the ResNet (model ``photos``) against the plain CNN (``photos-v1``)."""
    from conftest import declare
    from photos_model import load_baseline, load_model, load_test_split

    from pytest_mlguard import EvalData, check_model
    from pytest_mlguard.corruptions import REGISTRY, SEVERITIES
    from pytest_mlguard.corruptions._metrics import summarize

    data = EvalData(*load_test_split(), name="photos-test")
    ids = [f"corruption[{name}-{severity}]" for name in REGISTRY for severity in SEVERITIES]
    checks = {}
    for name, net in (("photos", load_model()), ("photos-v1", load_baseline())):
        checks[name] = [result.to_dict() for result in check_model(declare(net, name), data, ids, settings=SETTINGS)]
    return summarize(checks["photos"], checks["photos-v1"])["photos"]


def table(summary: dict[str, Any], command: str, samples: int) -> str:
    """The markdown of the section: one row per corruption, then the means, mCE and relative mCE."""
    def cell(value: float | None) -> str:
        return "—" if value is None else f"{value:.3f}".removeprefix("0")

    lines = [
        f"Clean accuracy {summary['clean_accuracy']:.4f} on the {samples} held-out patches (the plain CNN: "
        f"{summary['baseline']['clean_accuracy']:.4f}); mean corruption accuracy {summary['mean_corruption_accuracy']:.4f} "
        f"over {summary['checks']} checks (relative robustness {summary['relative_robustness']:.3f}); "
        f"**mCE {summary['mce']:.3f}**, relative mCE {summary['relative_mce']:.3f} against the plain CNN, over the "
        f"{len(summary['mce_corruptions'])} corruptions both measured (`{command}`):",
        "",
        "| corruption | 1 | 2 | 3 | 4 | 5 | mean | CE | relative CE | change at 5 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, curve in summary["curves"].items():
        row = summary["corruptions"][name]
        accuracy = [cell(a) for a in curve["accuracy"]] + ["—"] * (5 - len(curve["accuracy"]))
        lines.append(
            f"| {name} | {' | '.join(accuracy)} | {cell(row['mean_accuracy'])} | {cell(row.get('ce'))} | "
            f"{cell(row.get('relative_ce'))} | {cell(curve['mean_abs_change'][-1])} |"
        )
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    """Replace the part of ``path`` between the markers with ``text``."""
    document = path.read_text()
    if START not in document or END not in document:
        raise SystemExit(f"{path} has no section between {START} and {END}")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    path.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", document))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", type=Path, help="a report.json of a nightly run with corruption.baseline set, instead of measuring")
    parser.add_argument("--write", type=Path, help="replace the table's section of this file (docs/corruptions.md)")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.report:
        try:
            summary = json.loads(args.report.read_text())["corruption"]["photos"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SystemExit(f"--report {args.report}: expected the report.json of a run of examples/photos with corruption checks ({type(exc).__name__}: {exc})") from None
        command = f"from {args.report}"
    else:
        summary = measure()
        command = "python examples/photos/corruption_table.py"
    if summary.get("mce") is None:
        raise SystemExit("no mCE in the summary: run the nightly grid with corruption.baseline set to the plain CNN's report.json")
    from photos_model import load_test_split

    text = table(summary, command, len(load_test_split()[1]))
    print(text)
    if args.write:
        write(args.write, text)
        print(f"written into {args.write}")
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
