"""The result cache: a check's measurement keyed by everything that determines it.

The key (:mod:`.keys`) hashes the model (:mod:`.fingerprint`: a torch module's parameters,
buffers, attributes, hooks and code; a pickled estimator; or a black box's declared ``version``),
the evaluation data, the check's spec, the settings that shape the measurement, the source of
pytest-mlguard itself and the versions of the libraries involved, so that re-running an unchanged
check is instant and any change to the weights gives a new key. Checks of a production pipeline add
the pipeline's code and state (:mod:`.pipelines`); checks whose result depends on the machine
(latency, determinism, drift) add the machine's identity. Where the key cannot be computed reliably
(:class:`Uncacheable`), the check is not cached and its result says why.

Entries (:mod:`.storage`) live as JSON files under pytest's cache directory
(``.pytest_cache/d/mlguard/results``), beside a copy of the artefacts the check saved
(``artifacts/<key>/``). They hold the verdict's inputs, never the verdict: a hit decides the verdict
again under this run's floors. Every entry is read as untrusted input (a CI cache restored from
another branch): checked against a schema, artefact names kept inside the report directory, and,
with ``MLGUARD_CACHE_KEY`` set, an HMAC tag required; an entry that fails is a miss, said in one line
(:mod:`.run`). ``--mlguard-cache-clear`` empties the cache. Every file is written whole or not at
all, so xdist workers share one cache.

Example:
    >>> import numpy as np
    >>> fingerprint_arrays(np.zeros(3), np.ones(2)) == fingerprint_arrays(np.zeros(3), np.ones(2))
    True
"""

from __future__ import annotations

# a private module: no __all__; ``X as X`` marks a name re-exported (docs/extending.md, "Public and private modules")
from .fingerprint import Uncacheable as Uncacheable, fingerprint_arrays as fingerprint_arrays, fingerprint_model as fingerprint_model, fingerprint_paths as fingerprint_paths, machine_identity as machine_identity, model_print as model_print
from .keys import FORMAT as FORMAT, cache_key as cache_key, key_of as key_of
from .pipelines import fingerprint_pipeline as fingerprint_pipeline, pipeline_print as pipeline_print
from .run import cache_summary as cache_summary, cached_result as cached_result, run_cached as run_cached
from .storage import ENV_KEY as ENV_KEY, MAX_ARTIFACT_BYTES as MAX_ARTIFACT_BYTES, MAX_ENTRY_BYTES as MAX_ENTRY_BYTES, Rejected as Rejected, ResultCache as ResultCache, measurement_dict as measurement_dict

