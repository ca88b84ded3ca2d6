"""The generators of the structures real decoder bugs come from: each valid structure is written
as named (the TIFF's compression tag says LZW, the BMP's compression field says RLE8), each
corruption changes what it names and keeps the PNG CRCs valid, and the strategies draw them."""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, settings
from PIL import Image

from pytest_mlguard import strategies as mst
from pytest_mlguard.errors import InvalidArgument
from pytest_mlguard.inputs import _generate as G
from pytest_mlguard.inputs import structures as S
from pytest_mlguard.inputs.files import encode_file
from pytest_mlguard.inputs.handmade import png_chunks, tiff_tags

PIXELS = np.random.default_rng(0).random((20, 34, 3))
# the first example that matches, not shrunk: these tests prove what is drawn, not how it shrinks
SEARCH = settings(database=None, max_examples=400, phases=(Phase.generate,), suppress_health_check=list(HealthCheck))


def bmp_compression(data: bytes) -> int:
    return struct.unpack("<I", data[30:34])[0]


#: structure -> what its bytes must say
STRUCTURE_CHECKS = {
    "tiff-lzw": lambda d: tiff_tags(d)[259] == (5,),
    "tiff-deflate": lambda d: tiff_tags(d)[259] == (8,),
    "tiff-jpeg": lambda d: tiff_tags(d)[259] == (7,),
    "tiff-g4": lambda d: tiff_tags(d)[259] == (4,) and tiff_tags(d)[258] == (1,),
    "bigtiff": lambda d: d[:4] == b"II+\x00",
    "tiff-tiled": lambda d: tiff_tags(d)[322] == (16,) and 324 in tiff_tags(d) and 273 not in tiff_tags(d),
    "bmp-rle8": lambda d: d[:2] == b"BM" and bmp_compression(d) == 1,
    "bmp-rle4": lambda d: bmp_compression(d) == 2 and struct.unpack("<H", d[28:30])[0] == 4,
    "bmp-bitfields-16": lambda d: bmp_compression(d) == 3 and struct.unpack("<H", d[28:30])[0] == 16,
    "bmp-bitfields-32": lambda d: bmp_compression(d) == 3 and struct.unpack("<H", d[28:30])[0] == 32,
    "ico": lambda d: d[:4] == b"\x00\x00\x01\x00",
    "mpo": lambda d: d[:2] == b"\xff\xd8" and b"MPF\x00" in d,
    "tiff-lab": lambda d: tiff_tags(d)[262] == (8,),  # PhotometricInterpretation: CIELab
    "sgi": lambda d: d[:2] == b"\x01\xda",
    "jpeg2000": lambda d: d[4:8] == b"jP  " or d[:4] == b"\xff\x4f\xff\x51",
    "pcx": lambda d: d[0] == 0x0A,
}


@pytest.mark.parametrize("name", list(S.STRUCTURES))
def test_each_structure_is_written_as_named_and_decodes(name):
    data = S.STRUCTURES[name].encode(PIXELS)
    assert STRUCTURE_CHECKS[name](data), name
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size[0] >= 1
    assert set(STRUCTURE_CHECKS) == set(S.STRUCTURES)


def crcs_valid(data: bytes) -> bool:
    offset = 8
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        if int.from_bytes(data[offset + 8 + length : offset + 12 + length], "big") != zlib.crc32(kind + body) & 0xFFFFFFFF:
            return False
        offset += 12 + length
        if kind == b"IEND":
            break
    return True


def test_png_corruptions_keep_valid_crcs_and_change_what_they_name():
    png = S.STRUCTURE_PNG(PIXELS)
    bad_colour = S.png_bad_colour_type(png, 7)
    assert crcs_valid(bad_colour) and png_chunks(bad_colour)[0][1][9] == 7
    bad_depth = S.png_bad_bit_depth(png, 3)
    assert crcs_valid(bad_depth) and png_chunks(bad_depth)[0][1][8] == 3
    no_idat = S.png_without_idat(png)
    assert crcs_valid(no_idat) and b"IDAT" not in [k for k, _ in png_chunks(no_idat)] and b"IDAT" in [k for k, _ in png_chunks(png)]
    after = S.png_after_iend(png, b"trailing")
    assert after.endswith(b"IEND\xaeB`\x82trailing") and crcs_valid(after)
    bomb = S.png_text_bomb(png, 32)
    text = dict(png_chunks(bomb))[b"zTXt"]
    assert crcs_valid(bomb) and len(bomb) < 64 * 1024 and len(zlib.decompress(text.split(b"\x00", 1)[1][1:])) == 32 << 20
    apng = encode_file(PIXELS, "PNG", "RGB", frames=3)
    shuffled = S.apng_sequence_error(apng, 7)
    numbers = lambda d: [int.from_bytes(b[:4], "big") for k, b in png_chunks(d) if k in (b"fcTL", b"fdAT")]  # noqa: E731
    assert numbers(apng) == list(range(len(numbers(apng)))) and numbers(shuffled)[1:] == [n + 7 for n in numbers(apng)[1:]]
    assert crcs_valid(shuffled)
    with pytest.raises(SyntaxError, match="sequence"), Image.open(io.BytesIO(shuffled)) as image:
        image.seek(1)


def test_bytes_inserted_and_deleted():
    assert S.insert_bytes(b"abcdef", 2, b"XY") == b"abXYcdef" and S.insert_bytes(b"ab", 99, b"Z") == b"abZ"
    assert S.delete_bytes(b"abcdef", 1, 3) == b"aef" and S.delete_bytes(b"ab", 5, 3) == b"ab"


@pytest.mark.parametrize("container", list(S.BOMB_CONTAINERS))
def test_bombs_in_other_containers_declare_the_size_in_few_bytes(container):
    bomb = S.bomb_in(container, 60000, 50000)
    assert len(bomb) < 512
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(bomb)).load()
    if container == "tiff":
        assert tiff_tags(bomb)[256] == (60000,) and tiff_tags(bomb)[257] == (50000,)
    if container == "gif-frame":
        assert struct.unpack("<HH", bomb[6:10]) == (1, 1) and struct.unpack("<HH", bomb[24:28]) == (60000, 50000)
    if container == "webp":
        assert bomb[12:16] == b"VP8X" and int.from_bytes(bomb[24:27], "little") + 1 == 60000


@pytest.mark.parametrize("name", list(S.STRUCTURES))
def test_structure_strategy_draws_each_structure(name):
    case = find(G.structure_cases(structures=name), lambda c: True, settings=SEARCH, random=random.Random(0))
    assert STRUCTURE_CHECKS[name](case.raw) and case.valid and case.suffix == S.STRUCTURES[name].suffix
    assert case.description.startswith(S.STRUCTURES[name].what + " ")


def test_structure_strategy_shrinks_to_the_first_structure_and_draws_the_rest():
    first = find(G.structure_cases(), lambda c: True, settings=settings(database=None), random=random.Random(0))
    assert first.description.startswith("TIFF, LZW-compressed 1x1")
    late = find(G.structure_cases(), lambda c: c.suffix in (".pcx", ".jp2"), settings=SEARCH, random=random.Random(0))
    assert late.suffix in (".pcx", ".jp2")


@pytest.mark.parametrize("kind", ["insert", "delete", *S.PNG_CORRUPTIONS, "container-bomb"])
def test_corrupt_strategy_draws_the_new_corruptions(kind):
    case = find(G.corrupt_file_cases(corruptions=kind), lambda c: True, settings=SEARCH, random=random.Random(0))
    words = {"insert": "inserted at", "delete": "deleted at", "container-bomb": "decompression bomb declaring"}
    assert words.get(kind, S.PNG_CORRUPTIONS.get(kind, ("",))[0]) in case.description
    if kind in S.PNG_CORRUPTIONS:
        assert case.raw[:8] == b"\x89PNG\r\n\x1a\n" and crcs_valid(case.raw)


def test_public_strategy_validates_structures():
    with pytest.raises(InvalidArgument, match=r"Expected one of \('tiff-lzw'.* but got structures='tiff-zip'"):
        find(mst.image_structures(structures="tiff-zip"), lambda d: True, settings=SEARCH)
    data = find(mst.image_structures(structures="bigtiff"), lambda d: True, settings=SEARCH)
    assert data[:4] == b"II+\x00"
