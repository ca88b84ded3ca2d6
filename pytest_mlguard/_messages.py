"""Exception messages as the reports write them: without the memory addresses of default object reprs.

A pipeline's or a model's exception often quotes an object, and Python's default repr carries its address
(Pillow's ``cannot identify image file <_io.BytesIO object at 0x7f4b25470270>``), which differs from run to
run: two runs with the same seed would write different reports. The type name stays; the address goes.

Example:
    >>> without_addresses("cannot identify image file <_io.BytesIO object at 0x7f4b25470270>")
    'cannot identify image file <_io.BytesIO object>'
    >>> exception_text(ValueError("bad <Net object at 0x55d0c2a1e9f0> output"))
    'ValueError: bad <Net object> output'
"""

from __future__ import annotations

import re

#: `` at 0x7f4b25470270`` inside a default repr ``<module.Class object at 0x...>``
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+(?=>)")


def without_addresses(text: str) -> str:
    """``text`` with the addresses of default object reprs left out (``<X object at 0x...>`` -> ``<X object>``)."""
    return _ADDRESS.sub("", text)


def exception_text(exc: BaseException) -> str:
    """``"TypeName: message"`` of ``exc``, its message :func:`without_addresses`."""
    return f"{type(exc).__name__}: {without_addresses(str(exc))}"
