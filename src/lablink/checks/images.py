"""One image file probed for a data review: does it decode, is it blank, its perceptual hash.

Decoding is Pillow's full ``load()`` (``verify()`` checks less and leaves the image
unusable); a truncated file raises there. The hash is ``imagehash.phash``'s: 64 bits
from the low frequencies of the DCT of a 32x32 grey thumbnail, stable under
re-encoding, resizing and small crops, so near duplicates differ in a few bits. It is
computed here with two small matrix products (only the 8x8 low frequencies are
needed), which gives imagehash's bits without its per-call cost or scipy's import in
every worker process: over half the probe's time went there. A large JPEG is decoded
at a reduced scale (``Image.draft``, libjpeg's DCT scaling), about six times faster
for a 1024-pixel photo.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from pathlib import Path
from typing import IO, Any

import numpy as np

HASH_SIDE = 8  # 8x8 low frequencies: 64 bits
# A JPEG is decoded at the smallest 1/2, 1/4 or 1/8 scale that keeps it this big: four
# times the thumbnail the hash is taken from, so the hash hardly moves, while the
# decoder still reads every byte (a truncated or corrupt file still fails)
DRAFT_SIDE = 128
SAMPLE_SIDE = 32  # of a 32x32 thumbnail (imagehash's hash_size * highfreq_factor)
IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


@dataclasses.dataclass(frozen=True)
class ImageProbe:
    """What one image file turned out to be."""

    error: str | None = None  # why it does not decode
    blank: bool = False  # every pixel the same
    phash: int | None = None  # 64-bit perceptual hash
    width: int = 0
    height: int = 0


def is_image(path: str) -> bool:
    """Whether a version's file is an image, by its suffix."""
    return os.path.splitext(path)[1].lower() in IMAGE_SUFFIXES


@functools.cache
def _dct_rows() -> np.ndarray:
    """The first 8 rows of the 32-point DCT-II matrix, unnormalised as scipy's type 2."""
    n = np.arange(SAMPLE_SIDE)
    k = np.arange(HASH_SIDE)[:, None]
    rows: np.ndarray = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * SAMPLE_SIDE))
    return rows


def phash_bits(image: Any) -> int:
    """The 64-bit perceptual hash of a Pillow image, bit for bit ``imagehash.phash``:
    the 8x8 low frequencies of the DCT of its 32x32 grey Lanczos thumbnail, each bit
    set where a frequency is above their median (the first frequency is the top bit)."""
    from PIL import Image

    grey = image.convert("L").resize((SAMPLE_SIDE, SAMPLE_SIDE), Image.Resampling.LANCZOS)
    rows = _dct_rows()
    low = rows @ np.asarray(grey, dtype=np.float64) @ rows.T
    # rounding error of the products (~1e-10) must not decide a bit: a flat image's
    # zero frequencies are zero, not noise around the median
    low = np.round(low, 6)
    ordered = np.sort(low, axis=None)
    median = (ordered[31] + ordered[32]) / 2
    return int.from_bytes(np.packbits(low > median).tobytes(), "big")


def probe_image(source: str | Path | IO[bytes]) -> ImageProbe:
    """Decode an image (a large JPEG at a reduced scale, every byte still read) and hash
    it; a file that does not decode gives ``error``. Width and height are the file's."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # A decompression bomb is a corrupt file for a review, not a warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                width, height = image.size
                if image.format == "JPEG":
                    image.draft(image.mode, (DRAFT_SIDE, DRAFT_SIDE))
                image.load()
                extrema = image.getextrema()
                bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
                blank = all(low == high for low, high in bands)
                bits = phash_bits(image)
                return ImageProbe(None, blank, bits, width, height)
    except (UnidentifiedImageError, Image.DecompressionBombWarning) as exc:
        return ImageProbe(error=_first_line(exc) or "not an image Pillow can read")
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        return ImageProbe(error=_first_line(exc) or type(exc).__name__)


def probe_images(paths: list[str]) -> list[ImageProbe]:
    """``probe_image`` of each path (one task of a process pool)."""
    return [probe_image(path) for path in paths]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""
