"""Names the plugin, the suite, the session and the reports share, in a module that imports nothing of
the package, so that none of them imports another for a constant."""

from __future__ import annotations


#: the class the suite adds to each conftest.py that declares a model; its items are the built-in checks
SUITE_CLASS = "mlguard"

#: what the node id of every item of the built-in suite holds: ``<dir>/conftest.py::mlguard::<check>``
SUITE_NODE = f"::{SUITE_CLASS}::"

#: the ``kind`` of report.json's error entry for a check a broken model declaration stopped (a kind of
#: error, named like the model contract it breaks; not the ``contract`` family, whose failing checks fail)
CONTRACT_ERROR = "contract"
