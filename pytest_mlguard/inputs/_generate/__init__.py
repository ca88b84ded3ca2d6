"""The Hypothesis strategies behind :mod:`pytest_mlguard.strategies` and the ``inputs[...]`` checks.

Each strategy here draws a :class:`Case`: the raw input together with what it is (a description,
a file extension, the pixels it was made from, whether it is valid), so that a failure can say
what the input was and save it. The public strategies map the cases to their raw values.

Randomness is sampled apart from being applied: the strategies draw parameters (a size, a format,
an offset, a seed) and call the deterministic functions of :mod:`pytest_mlguard.inputs.files`,
:mod:`~pytest_mlguard.inputs.compression` and :mod:`~pytest_mlguard.inputs.records`. Every choice is ordered simplest first, so Hypothesis shrinks toward the smallest
image, the first format and mode, the first corruption and the mildest setting.

One module per kind of input: :mod:`.cases` (the :class:`Case`, argument checks, sizes and
pixels), :mod:`.image_files`, :mod:`.corrupt_files`, :mod:`.arrays`, :mod:`.compressed`,
:mod:`.record_cases`; this package exports them all.

Every argument takes a value or a strategy of values. Values are validated on first use (the
strategy is ``st.deferred``); drawn values when drawn. Either way a bad argument raises
:class:`~pytest_mlguard.errors.InvalidArgument` naming it.
"""

from __future__ import annotations

from .arrays import DTYPES as DTYPES, LAYOUTS as LAYOUTS, VALUE_RANGES as VALUE_RANGES, array_cases as array_cases
from .cases import PATTERNS as PATTERNS, Case as Case, make_pixels as make_pixels, resolutions as resolutions
from .compressed import compressed_cases as compressed_cases
from .corrupt_files import CORRUPTIONS as CORRUPTIONS, corrupt_file_cases as corrupt_file_cases
from .image_files import FLOAT_RANGES as FLOAT_RANGES, STRUCTURES as STRUCTURES, file_cases as file_cases, structure_cases as structure_cases, valid_file_cases as valid_file_cases
from .record_cases import malformed_record_cases as malformed_record_cases, record_values as record_values
