"""When pytest loaded the plugin: ``--mlguard-budget`` counts from here.

The plugin imports this module first thing, so its import time is the plugin's; the session reads it
from here rather than from the plugin, which imports the session.
"""

from __future__ import annotations

import time


#: ``time.perf_counter()`` when pytest loaded the plugin, early in its start
LOADED = time.perf_counter()
