"""Make the seed corpus of odd and corrupt image files: ``python corpora/make_corpus.py``.

The files are made from sample photos that ship with scikit-image (astronaut, camera, coffee,
chelsea) and a handwritten digit from scikit-learn, downscaled to a few dozen pixels a side, with
the encoders and corruptions of :mod:`pytest_mlguard.inputs.files`; nothing is downloaded, and
every choice is fixed, so the script writes the same files each time. It writes them to
``corpora/images/`` and describes each in ``corpora/manifest.json`` (what it is, whether it is a
valid image, what a pipeline must do with it, its size and SHA-256).

The manifest's ``expect`` says what the inputs checks require of each file: ``"prediction"`` for a
valid picture (a pipeline that rejects it fails ``inputs[corpus-images]``), ``"prediction-or-rejection"``
for a damaged file or one whose meaning is ambiguous (float samples outside [0, 1], NaN).

Use the corpus as a corpus directory of the inputs checks (every file gets a verdict)::

    [tool.mlguard.inputs]
    corpora = ["../../corpora/images"]
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from pytest_mlguard.inputs import files as F
from pytest_mlguard.inputs import structures as S

HERE = Path(__file__).parent


def _unit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """An 8-bit image resized to (width, height), as floats in [0, 1]."""
    from PIL import Image

    resized = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)
    return np.asarray(resized, dtype=np.float32) / 255.0


def sources() -> dict[str, np.ndarray]:
    """The images the corpus is made from, small, as floats in [0, 1]."""
    from skimage import data
    from sklearn.datasets import load_digits

    digit = load_digits().images[0] / 16.0
    return {
        "astronaut": _unit(data.astronaut(), (48, 48)),
        "camera": _unit(data.camera(), (40, 40)),
        "coffee": _unit(data.coffee(), (48, 32)),
        "chelsea": _unit(data.chelsea(), (45, 30)),
        "digit": digit.astype(np.float32),
    }


def entries(images: dict[str, np.ndarray]) -> list[tuple[str, bytes, str, str]]:
    """(file name, contents, kind, description) of every corpus file; kind ``odd`` is a valid image
    in an unusual form, ``corrupt`` a damaged file (a decoder may reject it or read garbage)."""
    astronaut, camera, coffee, chelsea, digit = (images[k] for k in ("astronaut", "camera", "coffee", "chelsea", "digit"))
    gray = camera
    png = F.encode_file(astronaut, "PNG", "RGB")
    jpeg = F.encode_file(coffee, "JPEG", "RGB", quality=85)
    gif = F.encode_file(chelsea, "GIF", "P")
    bmp = F.encode_file(digit, "BMP", "L")
    floats = gray * 255.0
    with_nan = floats.copy()
    with_nan[0, :3] = [np.nan, np.inf, -np.inf]
    valid: list[tuple[str, Callable[[], bytes], str]] = [
        ("rgb.png", lambda: png, "astronaut 48x48 RGB PNG"),
        ("rgb.jpg", lambda: jpeg, "coffee 48x32 RGB JPEG, quality 85"),
        ("gray.bmp", lambda: bmp, "a handwritten 8 as an 8x8 gray BMP"),
        ("palette.gif", lambda: gif, "chelsea 45x30 palette GIF"),
        ("cmyk.jpg", lambda: F.encode_file(coffee, "JPEG", "CMYK"), "coffee as a CMYK JPEG (print workflows)"),
        ("cmyk.tif", lambda: F.encode_file(coffee, "TIFF", "CMYK"), "coffee as a CMYK TIFF"),
        ("progressive.jpg", lambda: F.encode_file(astronaut, "JPEG", "RGB", interlaced=True), "astronaut as a progressive JPEG"),
        ("exif-orientation-6.jpg", lambda: F.encode_file(chelsea, "JPEG", "RGB", exif_orientation=6), "chelsea JPEG with EXIF orientation 6 (rotate 90 degrees)"),
        ("exif-orientation-3.png", lambda: F.encode_file(coffee, "PNG", "RGB", exif_orientation=3), "coffee PNG with EXIF orientation 3 (rotate 180 degrees)"),
        ("gray16.png", lambda: F.encode_file(gray, "PNG", "I;16"), "camera as a 16-bit gray PNG"),
        ("gray16.tif", lambda: F.encode_file(gray, "TIFF", "I;16"), "camera as a 16-bit gray TIFF"),
        ("int32.tif", lambda: F.encode_file(gray, "TIFF", "I"), "camera as a 32-bit integer TIFF"),
        ("float32.tif", lambda: F.encode_file(floats, "TIFF", "F"), "camera as a float TIFF in 0..255"),
        ("float32-nan-inf.tif", lambda: F.encode_file(with_nan, "TIFF", "F"), "camera as a float TIFF with NaN, inf and -inf pixels"),
        ("palette-transparent.png", lambda: F.encode_file(chelsea, "PNG", "P", transparency=True), "chelsea as a palette PNG with a transparent entry"),
        ("palette-transparent.gif", lambda: F.encode_file(chelsea, "GIF", "P", transparency=True), "chelsea as a GIF with a transparent entry"),
        ("gray-alpha.png", lambda: F.encode_file(astronaut, "PNG", "LA"), "astronaut as gray with alpha (LA) PNG"),
        ("rgba.png", lambda: F.encode_file(astronaut, "PNG", "RGBA"), "astronaut RGBA PNG with a horizontal alpha ramp"),
        ("rgba.webp", lambda: F.encode_file(astronaut, "WEBP", "RGBA"), "astronaut RGBA WebP"),
        ("bilevel.png", lambda: F.encode_file(gray, "PNG", "1"), "camera as a 1-bit PNG"),
        ("bilevel.tif", lambda: F.encode_file(gray, "TIFF", "1"), "camera as a 1-bit TIFF"),
        ("bilevel.bmp", lambda: F.encode_file(gray, "BMP", "1"), "camera as a 1-bit BMP"),
        ("interlaced.png", lambda: F.encode_file(astronaut, "PNG", "RGB", interlaced=True), "astronaut as an Adam7-interlaced PNG"),
        ("interlaced16.png", lambda: F.encode_file(gray, "PNG", "I;16", interlaced=True), "camera as an interlaced 16-bit PNG"),
        ("interlaced.gif", lambda: F.encode_file(chelsea, "GIF", "P", interlaced=True), "chelsea as an interlaced GIF"),
        ("animated.gif", lambda: F.encode_file(chelsea, "GIF", "P", frames=3), "chelsea as a 3-frame animated GIF"),
        ("animated.png", lambda: F.encode_file(astronaut, "PNG", "RGB", frames=3), "astronaut as a 3-frame animated PNG (APNG)"),
        ("animated.webp", lambda: F.encode_file(astronaut, "WEBP", "RGB", frames=3), "astronaut as a 3-frame animated WebP"),
        ("multipage.tif", lambda: F.encode_file(coffee, "TIFF", "RGB", frames=3), "coffee as a 3-page TIFF"),
        ("1x1.png", lambda: F.encode_file(astronaut[:1, :1], "PNG", "RGB"), "a single RGB pixel"),
        ("1x48.png", lambda: F.encode_file(astronaut[:1], "PNG", "RGB"), "one row of astronaut: 48x1 pixels"),
        ("48x1.png", lambda: F.encode_file(astronaut[:, :1], "PNG", "RGB"), "one column of astronaut: 1x48 pixels"),
        ("2x2.jpg", lambda: F.encode_file(coffee[:2, :2], "JPEG", "RGB"), "a 2x2 JPEG"),
        ("33x31.png", lambda: F.encode_file(astronaut[:31, :33], "PNG", "RGB"), "33x31 pixels: odd sizes, off every stride"),
        ("quality-5.jpg", lambda: F.encode_file(coffee, "JPEG", "RGB", quality=5), "coffee as a JPEG at quality 5 (heavy block artifacts)"),
        ("subsampled-420.jpg", lambda: F.encode_file(coffee, "JPEG", "RGB", subsampling=2), "coffee as a JPEG with 4:2:0 chroma subsampling"),
        ("png-named.jpg", lambda: png, "a valid PNG with a .jpg extension"),
        *[
            (f"{name}{structure.suffix}", (lambda structure=structure: structure.encode(astronaut[:24, :24])), f"astronaut 24x24 as {structure.what}")
            for name, structure in S.STRUCTURES.items()
        ],
    ]
    corrupt: list[tuple[str, Callable[[], bytes], str]] = [
        ("zero-bytes.png", lambda: b"", "an empty file"),
        ("one-byte.jpg", lambda: jpeg[:1], "the first byte of a JPEG"),
        ("magic-only.png", lambda: F.truncate_at(png, 8), "the 8-byte PNG signature and nothing else"),
        ("header-only.png", lambda: F.truncate_at(png, 16), "the first 16 bytes of a PNG"),
        ("truncated-half.png", lambda: F.truncate(png, 0.5), "a PNG cut in the middle of its pixel data"),
        ("truncated-half.jpg", lambda: F.truncate(jpeg, 0.5), "a JPEG cut in the middle of its scan (an interrupted upload)"),
        ("truncated-half.gif", lambda: F.truncate(gif, 0.5), "a GIF cut in the middle"),
        ("truncated-half.bmp", lambda: F.truncate(bmp, 0.5), "a BMP cut in the middle of its pixels"),
        ("bit-flips.png", lambda: F.flip_bits(png, [8 * len(png) // 3 + 5 * i for i in range(8)]), "a PNG with 8 bits flipped in its pixel data (bad CRC)"),
        ("bit-flips.jpg", lambda: F.flip_bits(jpeg, [8 * len(jpeg) // 2 + 7 * i for i in range(8)]), "a JPEG with 8 bits flipped in its scan"),
        ("ihdr-length-huge.png", lambda: F.mangle_length(png, 0, 0xFFFFFFFF), "a PNG whose IHDR chunk claims 4 GiB"),
        ("jpeg-segment-length-0.jpg", lambda: F.mangle_length(jpeg, 1, 0), "a JPEG with a segment length of 0"),
        ("gif-width-0.gif", lambda: F.mangle_length(gif, 0, 0), "a GIF whose logical screen is 0 pixels wide"),
        ("jpeg-with-png-magic.png", lambda: F.replace_magic(jpeg, "PNG"), "JPEG data behind a PNG signature"),
        ("header-overwritten.jpg", lambda: F.overwrite(jpeg, 2, bytes(range(16))), "a JPEG with 16 bytes of its header overwritten"),
        ("garbage.bin", lambda: F.garbage(0, 1024), "1024 random bytes"),
        ("garbage-png-magic.png", lambda: F.garbage(1, 512, F.MAGIC["PNG"]), "a PNG signature followed by 512 random bytes"),
        ("text-named.png", lambda: F.not_an_image(png), "text with a .png extension"),
        ("error-page.jpg", lambda: b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>\n", "an HTML error page saved as .jpg (what a failed download leaves)"),
        ("vector.svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><rect width="8" height="8"/></svg>\n', "an SVG (a vector image, not a raster format)"),
        ("bomb-60000x60000.png", lambda: F.declare_size(F.encode_file(digit, "PNG", "L"), 60000, 60000), "a decompression bomb: a PNG declaring 60000x60000 pixels in 120 bytes (valid CRC)"),
        ("bomb-12000x12000.png", lambda: F.declare_size(F.encode_file(digit, "PNG", "L"), 12000, 12000), "a PNG declaring 12000x12000 pixels: over Pillow's bomb warning, under its error, so Pillow allocates 144 MB before it finds the data missing"),
        ("bomb-65535x65535.gif", lambda: F.declare_size(gif, 65535, 65535), "a GIF declaring a 65535x65535 screen"),
        ("bomb-60000x60000.bmp", lambda: F.declare_size(bmp, 60000, 60000), "a BMP declaring 60000x60000 pixels"),
        ("bomb-65535x65535.jpg", lambda: F.declare_size(jpeg, 65535, 65535), "a JPEG whose frame header declares 65535x65535 pixels"),
        *[
            (f"bomb-60000x60000-{name}{suffix}", (lambda name=name: S.bomb_in(name, 60000, 60000)), f"a decompression bomb in a {what} declaring 60000x60000 pixels")
            for (name, (what, _)), suffix in zip(S.BOMB_CONTAINERS.items(), (".tif", ".webp", ".ico", ".gif"))
        ],
        ("bad-colour-type.png", lambda: S.png_bad_colour_type(png, 7), "a PNG whose IHDR declares colour type 7 (valid CRC)"),
        ("bad-bit-depth.png", lambda: S.png_bad_bit_depth(png, 3), "a PNG whose IHDR declares bit depth 3 (valid CRC)"),
        ("no-idat.png", lambda: S.png_without_idat(png), "a PNG without its IDAT chunks (valid CRCs)"),
        ("data-after-iend.png", lambda: S.png_after_iend(png, F.garbage(2, 64)), "a PNG with 64 random bytes after IEND"),
        ("apng-sequence-error.png", lambda: S.apng_sequence_error(F.encode_file(astronaut, "PNG", "RGB", frames=3), 7), "a 3-frame APNG whose frame sequence numbers skip (valid CRCs)"),
        ("text-bomb.png", lambda: S.png_text_bomb(png, 32), "a PNG with a zTXt chunk inflating to 32 MiB"),
        ("bytes-inserted.jpg", lambda: S.insert_bytes(jpeg, len(jpeg) // 3, F.garbage(3, 17)), "a JPEG with 17 random bytes inserted in its scan"),
        ("bytes-deleted.png", lambda: S.delete_bytes(png, len(png) // 2, 9), "a PNG with 9 bytes deleted from its pixel data"),
    ]
    return [(name, make(), "odd", what) for name, make, what in valid] + [(name, make(), "corrupt", what) for name, make, what in corrupt]


#: valid files whose meaning is ambiguous: a pipeline may reject them (the rest of the odd files must get a prediction)
MAY_REJECT = {
    "float32.tif": "float samples in 0..255, outside [0, 1]: no scale reads them unambiguously",
    "float32-nan-inf.tif": "NaN and infinite samples",
}


def versions() -> dict[str, Any]:
    from importlib.metadata import version

    return {package: version(package) for package in ("pillow", "pypng", "scikit-image", "scikit-learn", "numpy")}


def write(directory: Path, manifest: Path) -> list[dict[str, Any]]:
    """Write the corpus files to ``directory`` and their descriptions to ``manifest``."""
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.iterdir():
        if old.is_file():
            old.unlink()
    listed = []
    for name, data, kind, what in entries(sources()):
        (directory / name).write_bytes(data)
        expect = "prediction" if kind == "odd" and name not in MAY_REJECT else "prediction-or-rejection"
        entry = {"file": name, "kind": kind, "expect": expect, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "what": what}
        if name in MAY_REJECT:
            entry["why"] = MAY_REJECT[name]
        listed.append(entry)
    document = {
        "about": "Seed corpus of image files, made by corpora/make_corpus.py. 'odd': a valid image in an "
        "unusual form, which a robust pipeline predicts on; 'corrupt': a damaged file, which a decoder may "
        "reject or read as garbage: a robust pipeline rejects it cleanly or predicts. 'expect' is what the "
        "inputs checks require: 'prediction' (a rejection fails the corpus check) or 'prediction-or-rejection'.",
        "made_with": versions(),
        "files": listed,
    }
    manifest.write_text(json.dumps(document, indent=1) + "\n")
    return listed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE / "images", help="directory of the files (default: corpora/images)")
    parser.add_argument("--manifest", type=Path, default=HERE / "manifest.json", help="the manifest (default: corpora/manifest.json)")
    args = parser.parse_args()
    listed = write(args.out, args.manifest)
    total = sum(entry["bytes"] for entry in listed)
    odd = sum(e["kind"] == "odd" for e in listed)
    print(f"{len(listed)} files ({odd} odd, {len(listed) - odd} corrupt), {total / 1024:.0f} KiB, in {args.out}; manifest {args.manifest}")


if __name__ == "__main__":
    main()
