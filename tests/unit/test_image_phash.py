"""The review's perceptual hash against its reference, ``imagehash.phash``: the same 64
bits for any image, without scipy; and the probe built on it (issue #19)."""

from __future__ import annotations

import io
from pathlib import Path

import imagehash
import numpy as np
import scipy.fftpack
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image

from lablink.checks.images import is_image, phash_bits, probe_image


def reference(image: Image.Image) -> int:
    digest = imagehash.phash(image)
    return int.from_bytes(np.packbits(digest.hash.flatten()).tobytes(), "big")


def clear_of_ties(image: Image.Image) -> bool:
    """No low frequency within rounding reach of the median (where any two exact
    computations may disagree on a bit)."""
    grey = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    pixels = np.asarray(grey, dtype=np.float64)
    low = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)[:8, :8]
    return bool(np.min(np.abs(low - np.median(low))) > 1e-3)


sides = st.integers(min_value=1, max_value=80)


@settings(max_examples=150, deadline=None)
@given(
    st.tuples(sides, sides, st.sampled_from(["L", "RGB", "RGBA"])).flatmap(
        lambda shape: st.tuples(
            st.just(shape[2]),
            arrays(
                np.uint8,
                (shape[0], shape[1], len(shape[2])) if shape[2] != "L" else (shape[0], shape[1]),
            ),
        )
    )
)
def test_the_hash_is_imagehash_phash_bit_for_bit(drawn: tuple[str, np.ndarray]) -> None:
    mode, pixels = drawn
    image = Image.fromarray(pixels, mode)
    if clear_of_ties(image):
        assert phash_bits(image) == reference(image)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(8, 120))
def test_smooth_pictures_hash_as_imagehash_does(seed: int, side: int) -> None:
    rng = np.random.default_rng(seed)
    base = Image.fromarray((rng.random((5, 5, 3)) * 255).astype(np.uint8))
    image = base.resize((side, side), Image.Resampling.BICUBIC)
    if clear_of_ties(image):
        assert phash_bits(image) == reference(image)


def test_a_flat_image_hashes_the_same_every_time() -> None:
    # only the first frequency (the mean) is above the median of zeros: the top bit
    flat = Image.new("RGB", (40, 30), (7, 7, 7))
    assert phash_bits(flat) == phash_bits(Image.new("RGB", (64, 64), (200, 1, 1))) == 1 << 63
    assert phash_bits(Image.new("L", (16, 16), 0)) == 0


def test_the_probe_decodes_hashes_and_flags(tmp_path: Path) -> None:
    picture = Image.effect_noise((48, 48), 60).convert("RGB")
    picture.save(tmp_path / "a.png")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    (tmp_path / "cut.png").write_bytes(buffer.getvalue()[:200])
    Image.new("L", (9, 9), 3).save(tmp_path / "blank.png")
    good = probe_image(tmp_path / "a.png")
    assert good.error is None and not good.blank and (good.width, good.height) == (48, 48)
    assert good.phash == reference(Image.open(tmp_path / "a.png"))
    assert probe_image(tmp_path / "cut.png").error
    assert probe_image(tmp_path / "blank.png").blank
    assert is_image("train/cat/0001.JPG") and not is_image("train/labels.csv")


def test_a_large_jpeg_is_decoded_reduced_yet_checked_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    base = Image.fromarray((rng.random((6, 6, 3)) * 255).astype(np.uint8))
    photo = base.resize((1024, 768), Image.Resampling.BICUBIC)
    photo.save(tmp_path / "big.jpg", quality=90)
    data = (tmp_path / "big.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) - 500])
    probe = probe_image(tmp_path / "big.jpg")
    assert probe.error is None and (probe.width, probe.height) == (1024, 768)
    with Image.open(tmp_path / "big.jpg") as whole:
        whole.load()
        full = reference(whole)
    assert probe.phash is not None and bin(probe.phash ^ full).count("1") <= 2
    assert "truncated" in (probe_image(tmp_path / "cut.jpg").error or "")
