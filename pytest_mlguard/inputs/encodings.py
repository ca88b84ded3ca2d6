"""The same picture in other encodings: what ``inputs[same-content]`` sends the pipeline.

Each :class:`Encoding` writes the canonical 8-bit picture (gray (H, W) or RGB (H, W, 3) uint8) as
another file whose *decoded, correctly interpreted* picture is the same: an EXIF orientation with
the pixels stored turned so that the upright picture is unchanged, 16-bit and 32-bit samples
scaled to their full range, float samples in [0, 1], CMYK, a palette, an opaque alpha channel, an
ICC profile with the pixels converted to it, and the container variants (progressive JPEG,
interlaced PNG, lossless WebP, BMP, GIF, TIFF). A pipeline that reads one of them wrongly gives a
different class than on the canonical PNG, and the encoding's ``cause`` names the likely mistake.

Lossless encodings reproduce the canonical pixels exactly; the JPEG ones (quality 100, 4:4:4) and
the wide-gamut ICC one (8-bit ProPhoto) differ by rounding, a few levels at most.

Example:
    >>> gray = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16
    >>> data = ENCODINGS["exif-6"].encode(gray)
    >>> from PIL import Image, ImageOps
    >>> upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    >>> bool((np.asarray(upright) == gray).all())
    True
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .handmade import icc_rgb_profile, tiff_bytes

__all__ = ["ENCODINGS", "Encoding", "canonical_png", "to_uint8"]


@dataclass(frozen=True)
class Encoding:
    """One way to write the same picture.

    Attributes:
        name: the case's name (``exif-6``, ``png-16``).
        what: what the file is.
        cause: what a pipeline that changes its answer on it most likely does wrong.
        suffix: the file extension.
        channels: the canonical pictures it applies to: 1 (gray), 3 (RGB).
        encode: canonical uint8 pixels -> file bytes, or ``None`` when the picture cannot be held
            exactly (more than 256 colours for a palette).
    """

    name: str
    what: str
    cause: str
    suffix: str
    channels: tuple[int, ...]
    encode: Callable[[np.ndarray], bytes | None]


def to_uint8(sample: np.ndarray, value_range: tuple[float, float]) -> np.ndarray:
    """One evaluation sample, (C, H, W) or (H, W) in raw units, as the 8-bit picture of its PNG:
    (H, W) for one channel, (H, W, 3) for three."""
    low, high = value_range
    unit = np.clip((np.asarray(sample, dtype=np.float32) - low) / (high - low), 0.0, 1.0)
    if unit.ndim == 3:
        unit = unit[0] if unit.shape[0] == 1 else unit[:3].transpose(1, 2, 0)
    return np.round(unit * 255).astype(np.uint8)


def _save(image: Any, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _image(pixels: np.ndarray, rgb: bool = False) -> Any:
    from PIL import Image

    image = Image.fromarray(pixels)
    return image.convert("RGB") if rgb and image.mode == "L" else image


def canonical_png(pixels: np.ndarray) -> bytes:
    """The reference file: an 8-bit gray or RGB PNG."""
    return _save(_image(pixels), "PNG")


# -- EXIF orientation -------------------------------------------------------------------------------
# the transpose that stores the picture so that applying orientation ``o`` shows it upright
_STORED = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_90", 7: "TRANSVERSE", 8: "ROTATE_270"}
_TURNS = {
    2: "mirrored left-right",
    3: "rotated 180 degrees",
    4: "mirrored top-bottom",
    5: "transposed",
    6: "rotated 90 degrees counter-clockwise",
    7: "transversed",
    8: "rotated 90 degrees clockwise",
}


def _exif(orientation: int) -> Callable[[np.ndarray], bytes]:
    def encode(pixels: np.ndarray) -> bytes:
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = orientation
        stored = _image(pixels).transpose(getattr(Image.Transpose, _STORED[orientation]))
        return _save(stored, "PNG", exif=exif.tobytes())

    return encode


# -- bit depths -------------------------------------------------------------------------------------
def _rgb(pixels: np.ndarray) -> np.ndarray:
    return np.repeat(pixels[..., None], 3, axis=2) if pixels.ndim == 2 else pixels


def _png16(pixels: np.ndarray) -> bytes:
    from PIL import Image

    return _save(Image.fromarray(pixels.astype(np.uint16) * 257), "PNG")


def _png_rgb16(pixels: np.ndarray) -> bytes:
    import png

    rgb = _rgb(pixels).astype(np.uint16) * 257
    height, width = rgb.shape[:2]
    buffer = io.BytesIO()
    png.Writer(width, height, greyscale=False, bitdepth=16).write(buffer, rgb.reshape(height, width * 3).tolist())
    return buffer.getvalue()


def _tiff16(pixels: np.ndarray) -> bytes:
    return tiff_bytes(pixels.astype(np.uint16) * 257)


def _tiff_rgb16(pixels: np.ndarray) -> bytes:
    return tiff_bytes(_rgb(pixels).astype(np.uint16) * 257)


def _tiff_int32(pixels: np.ndarray) -> bytes:
    return tiff_bytes(np.round(pixels.astype(np.float64) / 255 * (2**31 - 1)).astype(np.int32))


def _tiff_float(pixels: np.ndarray) -> bytes:
    return tiff_bytes((pixels.astype(np.float64) / 255).astype(np.float32))


# -- colour and palettes ----------------------------------------------------------------------------
def _cmyk_jpeg(pixels: np.ndarray) -> bytes:
    return _save(_image(_rgb(pixels)).convert("CMYK"), "JPEG", quality=100, subsampling=0)


def _exact_palette(pixels: np.ndarray) -> Any:
    """A mode ``P`` image holding exactly the picture's colours, or ``None`` past 256 of them."""
    from PIL import Image

    rgb = _rgb(pixels).reshape(-1, 3)
    colours, index = np.unique(rgb, axis=0, return_inverse=True)
    if len(colours) > 256:
        return None
    image = Image.fromarray(index.reshape(pixels.shape[:2]).astype(np.uint8), mode="L")
    image = image.convert("P")
    image.putpalette(colours.astype(np.uint8).reshape(-1).tolist())
    return image


def _palette_png(pixels: np.ndarray) -> bytes | None:
    image = _exact_palette(pixels)
    return None if image is None else _save(image, "PNG")


def _gif(pixels: np.ndarray) -> bytes | None:
    image = _exact_palette(pixels)
    return None if image is None else _save(image, "GIF", optimize=False)


def _la(pixels: np.ndarray) -> bytes:
    from PIL import Image

    return _save(Image.fromarray(np.dstack([pixels, np.full(pixels.shape, 255, np.uint8)]), mode="LA"), "PNG")


def _rgba(pixels: np.ndarray) -> bytes:
    from PIL import Image

    return _save(Image.fromarray(np.dstack([_rgb(pixels), np.full(pixels.shape[:2], 255, np.uint8)])), "PNG")


# -- containers -------------------------------------------------------------------------------------
def _progressive(pixels: np.ndarray) -> bytes:
    return _save(_image(pixels), "JPEG", quality=100, subsampling=0, progressive=True)


def _interlaced(pixels: np.ndarray) -> bytes:
    import png

    height, width = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else 3
    buffer = io.BytesIO()
    png.Writer(width, height, greyscale=channels == 1, bitdepth=8, interlace=True).write(
        buffer, pixels.reshape(height, width * channels).tolist()
    )
    return buffer.getvalue()


def _webp(pixels: np.ndarray) -> bytes:
    return _save(_image(pixels, rgb=True), "WEBP", lossless=True, quality=0, method=0)


def _bmp(pixels: np.ndarray) -> bytes:
    return _save(_image(pixels), "BMP")


def _tiff8(pixels: np.ndarray) -> bytes:
    return tiff_bytes(pixels)


# -- ICC profiles -----------------------------------------------------------------------------------
@functools.cache
def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


@functools.cache
def _to_wide() -> tuple[bytes, Any]:
    """The wide-gamut profile and the transform from sRGB to it (built once: it takes milliseconds)."""
    from PIL import ImageCms

    wide = icc_rgb_profile()
    transform = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.ImageCmsProfile(io.BytesIO(wide)), "RGB", "RGB")
    return wide, transform


def _icc_srgb(pixels: np.ndarray) -> bytes:
    return _save(_image(pixels, rgb=True), "PNG", icc_profile=_srgb_profile())


def _icc_wide(pixels: np.ndarray) -> bytes:
    from PIL import ImageCms

    wide, transform = _to_wide()
    return _save(ImageCms.applyTransform(_image(pixels, rgb=True), transform), "PNG", icc_profile=wide)


_EXIF_CAUSE = "EXIF orientation ignored: apply it before reading the pixels (PIL.ImageOps.exif_transpose)"
_DEPTH_CAUSE = "16-bit pixels clipped or cut to 8 bits: scale them by 255/65535 instead of converting the mode"
_ALL = (1, 3)

#: every encoding, in the order the check runs them
ENCODINGS: dict[str, Encoding] = {
    e.name: e
    for e in [
        *[
            Encoding(f"exif-{o}", f"PNG with EXIF orientation {o}, pixels stored {_TURNS[o]}", _EXIF_CAUSE, ".png", _ALL, _exif(o))
            for o in range(2, 9)
        ],
        Encoding("png-16", "16-bit gray PNG (I;16)", _DEPTH_CAUSE, ".png", (1,), _png16),
        Encoding("png-rgb16", "16-bit RGB PNG", "16-bit RGB pixels mishandled: keep the high byte or scale by 255/65535", ".png", _ALL, _png_rgb16),
        Encoding("tiff-16", "16-bit gray TIFF (I;16)", _DEPTH_CAUSE, ".tif", (1,), _tiff16),
        Encoding("tiff-rgb16", "16-bit RGB TIFF", "16-bit RGB pixels mishandled: keep the high byte or scale by 255/65535", ".tif", _ALL, _tiff_rgb16),
        Encoding(
            "tiff-int32",
            "32-bit signed integer gray TIFF (mode I), full range",
            "32-bit integer pixels clipped to 8 bits: scale them by 255/(2**31 - 1)",
            ".tif",
            (1,),
            _tiff_int32,
        ),
        Encoding(
            "tiff-float",
            "32-bit float gray TIFF (mode F), values in [0, 1]",
            "float pixels in [0, 1] read as 0..255 (a black picture): multiply them by 255",
            ".tif",
            (1,),
            _tiff_float,
        ),
        Encoding("jpeg-cmyk", "CMYK JPEG, quality 100, 4:4:4", "CMYK not converted to RGB (or the Adobe inversion ignored)", ".jpg", _ALL, _cmyk_jpeg),
        Encoding("png-palette", "palette PNG (mode P), the exact colours", "palette indices read as gray levels: convert a P image to RGB or L", ".png", _ALL, _palette_png),
        Encoding("png-la", "gray PNG with an opaque alpha channel (LA)", "an alpha channel mishandled (read as a colour channel)", ".png", (1,), _la),
        Encoding("png-rgba", "RGBA PNG with an opaque alpha channel", "an alpha channel mishandled (read as a colour channel)", ".png", _ALL, _rgba),
        Encoding("jpeg-progressive", "progressive JPEG, quality 100, 4:4:4", "progressive JPEG mishandled", ".jpg", _ALL, _progressive),
        Encoding("png-interlaced", "Adam7-interlaced PNG", "interlaced PNG mishandled", ".png", _ALL, _interlaced),
        Encoding("webp-lossless", "lossless WebP (RGB)", "WebP mishandled", ".webp", _ALL, _webp),
        Encoding("bmp", "BMP", "BMP mishandled (rows bottom-up, BGR order)", ".bmp", _ALL, _bmp),
        Encoding("gif", "single-frame GIF, the exact palette", "GIF palette mishandled: convert a P image to RGB or L", ".gif", _ALL, _gif),
        Encoding("tiff", "8-bit TIFF", "TIFF mishandled", ".tif", _ALL, _tiff8),
        Encoding("icc-srgb", "RGB PNG tagged with an sRGB ICC profile", "an sRGB ICC profile mishandled", ".png", _ALL, _icc_srgb),
        Encoding(
            "icc-wide-gamut",
            "RGB PNG converted to a ProPhoto (wide-gamut, gamma 1.8) ICC profile and tagged with it",
            "ICC profile ignored: convert the pixels to sRGB with the embedded profile (PIL.ImageCms)",
            ".png",
            _ALL,
            _icc_wide,
        ),
    ]
}
