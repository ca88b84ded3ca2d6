"""What a run measured and how its items ended: the one mutable record the check runner writes to, the
end-of-run reporter reads, and pytest-xdist carries from the workers to the controller."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: the key of a worker's record in ``config.workeroutput``
WORKER_OUTPUT_KEY = "mlguard_results"


@dataclass
class RunRecord:
    """The run's results and outcomes, merged over xdist workers on the controller.

    Attributes:
        results: every check result measured, as JSON-safe dicts (``CheckResult.to_dict()`` and the node id).
        models: the description of each model, by model id.
        usage_error: the first contract error of the run (docs/model-contract.md): the suite stops on it, exit code 4.
        skipped: checks that did not run: cut, skipped, not applicable (the controller's).
        errors: checks that ended without a measurement (the controller's).
        outcomes: node id -> passed, failed, skipped or error, of every mlguard item (the controller's).
        planned_items: node ids of every check of the suites collected.
        selected_items: ... and of those the run kept (``-k``, ``-m``, ``--deselect``, node ids).
        budgets: the budget plans of xdist workers (on the controller).
    """

    results: list[dict[str, Any]] = field(default_factory=list)
    models: dict[str, Any] = field(default_factory=dict)
    usage_error: str | None = None
    skipped: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    planned_items: set[str] = field(default_factory=set)
    selected_items: set[str] = field(default_factory=set)
    budgets: list[dict[str, Any]] = field(default_factory=list)

    def worker_payload(self, budget: dict[str, Any] | None) -> str:
        """What a worker sends the controller (JSON), with its budget's summary."""
        return json.dumps(
            {
                "results": self.results,
                "models": self.models,
                "budget": budget,
                "usage_error": self.usage_error,
                "planned": sorted(self.planned_items),
                "selected": sorted(self.selected_items),
            }
        )

    def merge(self, payload: str) -> None:
        """Add a worker's :meth:`worker_payload` to this record (on the controller)."""
        data = json.loads(payload)
        self.results.extend(data["results"])
        self.models.update(data["models"])
        if data.get("budget"):
            self.budgets.append(data["budget"])
        self.usage_error = self.usage_error or data.get("usage_error")
        self.planned_items.update(data.get("planned", ()))
        self.selected_items.update(data.get("selected", ()))
