"""When this pytest run started: ``--mlguard-budget`` counts from here.

The plugin imports this module first thing, so its import time is the start of the first run in the
process; a later run in the same process (``pytest.main()`` called again, an IDE, pytester run
in-process) starts when pytest adds its options (:func:`start_run`). The session reads the start
from here rather than from the plugin, which imports the session.
"""

from __future__ import annotations

import time


#: ``time.perf_counter()`` when pytest loaded the plugin, early in the first run's start
LOADED = time.perf_counter()
#: ``time.perf_counter()`` when the current run started (:func:`start_run`)
STARTED = LOADED
_runs = 0


def start_run() -> float:
    """Mark a run's start and return it: :data:`LOADED` for the process's first run, now for every
    later one. The plugin calls it once per run, from ``pytest_addoption``.

    Example:
        >>> import pytest_mlguard._clock as clock
        >>> clock.start_run() >= clock.LOADED
        True
    """
    global STARTED, _runs
    _runs += 1
    STARTED = LOADED if _runs == 1 else time.perf_counter()
    return STARTED
