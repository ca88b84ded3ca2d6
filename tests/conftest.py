"""Shared test set-up: the broken-model zoo lives in tests/zoo.py.

Under pytest-xdist every worker runs torch: each keeps to one thread (and the pytester projects it
starts inherit that), since two workers that each spin a thread per core oversubscribe the CPU and
the run gets several times slower, not faster (measured on 2 cores: the attack tests took 176 s with
torch's default threads and 49 s with one thread per worker).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER") and not os.environ.get("OMP_NUM_THREADS"):
    os.environ["OMP_NUM_THREADS"] = "1"
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

# The suite's own runs, on a CI runner, must not append to the job's summary or annotate its page
# (pytest-mlguard writes both there: docs/ci.md): the tests that check those set the variables themselves.
for _variable in ("GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "GITLAB_CI"):
    os.environ.pop(_variable, None)
