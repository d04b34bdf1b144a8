"""One image file probed for a data review: does it decode, is it blank, its perceptual hash.

Decoding is Pillow's full ``load()`` (``verify()`` checks less and leaves the image
unusable); a truncated file raises there. The hash is ``imagehash.phash``: 64 bits from
the low frequencies of the image's DCT, stable under re-encoding, resizing and small
crops, so near duplicates differ in a few bits.
"""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path
from typing import IO

import numpy as np

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
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def probe_image(source: str | Path | IO[bytes]) -> ImageProbe:
    """Decode an image fully and hash it; a file that does not decode gives ``error``."""
    import imagehash
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # A decompression bomb is a corrupt file for a review, not a warning
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as image:
                image.load()
                extrema = image.getextrema()
                bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
                blank = all(low == high for low, high in bands)
                digest = imagehash.phash(image)
                bits = int.from_bytes(np.packbits(digest.hash.flatten()).tobytes(), "big")
                return ImageProbe(None, blank, bits, image.width, image.height)
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
