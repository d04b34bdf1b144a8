"""What a review report needs to know about a version beyond its files."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from lablink.errors import InvalidInput


@dataclasses.dataclass(frozen=True)
class ReviewOptions:
    """What the report needs to know about a version beyond its files."""

    # split name -> path prefix in the version; empty: top-level folders named train,
    # val, valid, validation or test, else a ``split`` column of the tables
    splits: dict[str, str] = dataclasses.field(default_factory=dict)
    key: str | None = None  # group key column (group leakage)
    label: str | None = None  # label column; for image folders, the parent folder's name
    groups: tuple[str, ...] = ()  # subgroup columns
    probabilities: str | None = (
        None  # predicted probabilities (a path in the version, or a local file)
    )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (what the review record stores)."""
        return {
            "splits": dict(self.splits),
            "key": self.key,
            "label": self.label,
            "groups": list(self.groups),
            "probabilities": self.probabilities,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReviewOptions:
        """Options from ``to_dict`` output (or a request body).

        Raises:
            InvalidInput: an unknown key or a value of the wrong type, naming it.
        """
        if not isinstance(data, Mapping):
            raise InvalidInput("review options must be an object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(
                f"unknown review option {unknown[0]!r}", f"options: {', '.join(sorted(known))}"
            )
        splits = data.get("splits") or {}
        if not isinstance(splits, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) for k, v in splits.items()
        ):
            raise InvalidInput(
                "splits must map split names to path prefixes", 'e.g. {"train": "train/"}'
            )
        for name in ("key", "label", "probabilities"):
            value = data.get(name)
            if value is not None and (not isinstance(value, str) or not value):
                raise InvalidInput(f"{name} must be a column name (text), got {value!r}")
        groups = data.get("groups") or ()
        if isinstance(groups, str) or not all(isinstance(g, str) and g for g in groups):
            raise InvalidInput("groups must be a list of column names", 'e.g. ["sex", "site"]')
        return cls(
            dict(splits),
            data.get("key"),
            data.get("label"),
            tuple(groups),
            data.get("probabilities"),
        )


def parse_splits(text: str | None) -> dict[str, str]:
    """``train=train/,val=val/`` as ``{"train": "train/", "val": "val/"}`` (the CLI's
    ``--splits`` and the web form's field).

    Raises:
        InvalidInput: a part without ``=``, or a split named twice.
    """
    splits: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, prefix = part.partition("=")
        if not sep or not name.strip() or not prefix.strip():
            raise InvalidInput(
                f"splits: {part.strip()!r} is not NAME=PATH", "write train=train/,val=val/"
            )
        if name.strip() in splits:
            raise InvalidInput(f"splits: {name.strip()!r} is named twice")
        splits[name.strip()] = prefix.strip()
    return splits
