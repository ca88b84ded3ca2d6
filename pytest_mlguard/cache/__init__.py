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
    >>> fingerprint_arrays(np.zeros(3), np.ones(2)) == fingerprint_arrays(np.zeros(3), np.ones(2))
    True
"""

from __future__ import annotations

from .fingerprint import Uncacheable, fingerprint_arrays, fingerprint_model, fingerprint_paths, machine_identity, model_print
from .keys import FORMAT, cache_key, key_of
from .pipelines import fingerprint_pipeline, pipeline_print
from .run import cache_summary, cached_result, run_cached
from .storage import ENV_KEY, MAX_ARTIFACT_BYTES, MAX_ENTRY_BYTES, Rejected, ResultCache, measurement_dict

__all__ = [
    "ENV_KEY",
    "FORMAT",
    "MAX_ARTIFACT_BYTES",
    "MAX_ENTRY_BYTES",
    "Rejected",
    "ResultCache",
    "Uncacheable",
    "cache_key",
    "cache_summary",
    "cached_result",
    "fingerprint_arrays",
    "fingerprint_model",
    "fingerprint_paths",
    "fingerprint_pipeline",
    "key_of",
    "machine_identity",
    "measurement_dict",
    "model_print",
    "pipeline_print",
    "run_cached",
]
