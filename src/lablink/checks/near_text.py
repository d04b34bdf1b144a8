"""Near-duplicate texts across splits: MinHash signatures and LSH (``datasketch``).

A text becomes the set of its words and word pairs (lowercased, punctuation dropped),
so a paraphrase that keeps most words and some of their order scores high, and a
MinHash of 128 permutations estimates the Jaccard similarity of two sets to within
about 0.09 (two standard deviations). ``MinHashLSH`` buckets the signatures by bands
tuned to the threshold, so only texts likely to be similar are compared: adding and
querying are linear in the number of texts.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

NUM_PERM = 128
_WORD = re.compile(r"\w+")
_SEED = 19
_SCHEME = "affine32"  # datasketch 2's default, named: it refuses to guess for stored values


def shingles(text: str) -> set[bytes]:
    """The words and consecutive word pairs of a text, lowercased."""
    words = _WORD.findall(text.lower())
    out = {w.encode() for w in words}
    out.update(f"{a} {b}".encode() for a, b in itertools.pairwise(words))
    return out


class TextIndex:
    """Texts added one by one (streamed), then the near-duplicate pairs across splits."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._lsh: Any = None  # made with the first text: datasketch takes a second to import
        self._minhash: Any = None
        self._template: Any = None
        self.signatures: list[np.ndarray] = []
        self.splits: list[int] = []
        self.where: list[Any] = []  # what the caller said each text is (a path, a row)

    def __len__(self) -> int:
        return len(self.splits)

    def add(self, text: str, split: int, where: Any = None) -> int:
        """Index one text; returns its number. Texts without a word are not indexed (-1)."""
        tokens = shingles(text)
        if not tokens:
            return -1
        if self._lsh is None:
            from datasketch import MinHash, MinHashLSH

            # The LSH finds candidates a little below the threshold; each is then checked.
            self._lsh = MinHashLSH(threshold=max(0.05, self.threshold * 0.9), num_perm=NUM_PERM)
            self._minhash = MinHash
            self._template = MinHash(num_perm=NUM_PERM, seed=_SEED, scheme=_SCHEME)
        sketch = self._minhash(
            num_perm=NUM_PERM,
            seed=_SEED,
            permutations=self._template.permutations,
            scheme=_SCHEME,
        )
        sketch.update_batch(list(tokens))
        number = len(self.splits)
        self._lsh.insert(number, sketch, check_duplication=False)
        self.signatures.append(sketch.hashvalues.astype(np.uint32))
        self.splits.append(split)
        self.where.append(where)
        return number

    def pairs(self) -> Iterable[tuple[int, int, float]]:
        """``(i, j, similarity)`` for texts in different splits at or above the threshold,
        ``i < j``, each pair once."""
        signatures = np.asarray(self.signatures) if self.signatures else np.empty((0, NUM_PERM))
        splits = np.asarray(self.splits)
        for i in range(len(self.splits)):
            sketch = self._minhash(
                num_perm=NUM_PERM,
                seed=_SEED,
                hashvalues=signatures[i].astype(np.uint64),
                scheme=_SCHEME,
            )
            found: Any = self._lsh.query(sketch)
            others = np.array([j for j in found if j > i and splits[j] != splits[i]], dtype=int)
            if len(others) == 0:
                continue
            similar = (signatures[others] == signatures[i]).mean(axis=1)
            for j, value in zip(others.tolist(), similar.tolist(), strict=True):
                if value >= self.threshold:
                    yield i, j, float(value)
