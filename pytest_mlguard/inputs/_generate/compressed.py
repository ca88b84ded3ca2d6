"""Images with compression artifacts."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

from .. import files as F
from ..compression import COMPRESSION_FORMATS, SUBSAMPLING, recompress
from .cases import Case, _choices, _draw_integer, _fail, _integer, _pick, make_pixels, resolutions


def compressed_cases(
    *,
    images: Any = None,
    formats: Any = COMPRESSION_FORMATS,
    min_quality: int | SearchStrategy[int] = 1,
    subsampling: Any = tuple(SUBSAMPLING),
    max_generations: int | SearchStrategy[int] = 10,
    scales: Any = (1.0, 0.75, 0.5, 0.25),
    output: str = "array",
) -> SearchStrategy[Case]:
    """Images with compression artifacts: down- then up-scaled, re-encoded ``generations`` times at a
    JPEG or WebP quality with a chroma subsampling. Shrinks toward the mildest: quality 100, one
    generation, no rescaling, 4:4:4. ``output``: ``"array"`` (decoded pixels in [0, 1]) or
    ``"bytes"`` (the last file)."""

    def build() -> SearchStrategy[Case]:
        fmts = _choices(formats, "formats", COMPRESSION_FORMATS)
        worst = _integer(min_quality, "min_quality", 1, 100)
        generations_max = _integer(max_generations, "max_generations", 1, 100)
        subs = _choices(subsampling, "subsampling", tuple(SUBSAMPLING))
        if isinstance(scales, SearchStrategy):
            scale_choices: Any = scales
        else:
            scale_choices = tuple(scales) if isinstance(scales, (list, tuple)) else (scales,)
            if not scale_choices or not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in scale_choices):
                raise _fail("scale factors in (0, 1]", "scales", scales, False)
        if output not in ("array", "bytes"):
            raise _fail("'array' or 'bytes'", "output", output, False)
        source = images if images is not None else st.builds(
            lambda size, seed: make_pixels("noise", size[0], size[1], 3, seed, 0.0),
            resolutions(min_side=8, max_side=64, max_pixels=4096),
            st.integers(0, 2**32 - 1),
        )
        if not isinstance(source, SearchStrategy):
            raise _fail("a strategy of images (H, W) or (H, W, 3) in [0, 1]", "images", images, False)
        return _compressed_case(source, fmts, worst, subs, generations_max, scale_choices, output)

    return st.deferred(build)


@st.composite
def _compressed_case(
    draw: Any, source: SearchStrategy[Any], fmts: Any, worst: Any, subs: Any, generations_max: Any, scale_choices: Any, output: str
) -> Case:
    """One image of :func:`compressed_cases`."""
    image = np.asarray(draw(source), dtype=np.float32)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise _fail("images of shape (H, W) or (H, W, 3)", "images", image.shape, True)
    fmt = _pick(draw, fmts, "formats", COMPRESSION_FORMATS)
    low = _draw_integer(draw, worst, "min_quality", 1, 100)
    quality = 100 - draw(st.integers(0, 100 - low))
    sub = _pick(draw, subs, "subsampling", tuple(SUBSAMPLING))  # drawn for WebP too: equal-length choices
    sub = sub if fmt == "JPEG" else None
    generations = draw(st.integers(1, _draw_integer(draw, generations_max, "max_generations", 1, 100)))
    scale = draw(scale_choices) if isinstance(scale_choices, SearchStrategy) else draw(st.sampled_from(scale_choices))
    out = recompress(image, fmt, quality, subsampling=sub, generations=generations, scale=scale)
    description = f"{fmt} quality {quality}" + (f" {sub}" if sub else "") + (
        f", {generations} generations" if generations > 1 else ""
    ) + (f", rescaled by {scale:g}" if scale < 1 else "")
    if output == "bytes":
        mode = "L" if out.ndim == 2 and fmt == "JPEG" else "RGB"
        pixels = out if mode == "L" or out.ndim == 3 else np.repeat(out[..., None], 3, axis=2)
        data = F.encode_file(pixels, fmt, mode, quality=quality)
        return Case(data, description, F.EXTENSIONS[fmt], valid=True, pixels=out)
    return Case(out, description, ".npy", valid=True, pixels=out)
