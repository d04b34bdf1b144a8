"""Dataset names and version references, validated before anything is looked up.

A reference names one version::

    cifar-mini            the latest version
    cifar-mini@latest     the same
    cifar-mini@v3         version 3
    cifar-mini@3fa2c1d0   the version whose manifest digest starts with these hex digits
    cifar-mini@prod       the version the alias ``prod`` points at (``lablink data alias``)
    blake3:3fa2c1d0...    a manifest digest (or a prefix of 8+ hex digits), any dataset

Names are letters, digits, ``.``, ``_`` and ``-`` (up to 200), starting with a letter
or digit: the same rule as project names, so a name is always safe in a URL path.
"""

from __future__ import annotations

import dataclasses
import re

from lablink.checks import names
from lablink.errors import InvalidInput

_VERSION = re.compile(r"v([1-9][0-9]{0,8})")
_HEX = re.compile(r"[0-9a-f]{8,64}")
_DIGEST = re.compile(r"(sha256|blake3):([0-9a-f]{8,64})")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
REF_HINT = (
    "write name, name@latest, name@v3, name@<alias>, name@<8+ hex of its digest> or blake3:<hex>"
)
ALIAS_HINT = "an alias is a word of letters, digits, _ and - starting with a letter: prod, best"


@dataclasses.dataclass(frozen=True)
class Ref:
    """A parsed reference: a name with a version, a digest prefix, or neither (latest)."""

    name: str | None
    version: int | None = None
    digest: str | None = None  # "algo:hexprefix" or a bare hex prefix
    alias: str | None = None

    @property
    def latest(self) -> bool:
        """Whether the reference means the newest version of ``name``."""
        return self.version is None and self.digest is None and self.alias is None

    def __str__(self) -> str:
        if self.name is None:
            return str(self.digest)
        if self.version is not None:
            return f"{self.name}@v{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return f"{self.name}@{self.digest}" if self.digest else self.name


def check_name(name: object) -> str:
    """A valid dataset name (the rule of ``checks/names.py``), or InvalidInput naming it."""
    return names.check_name(name, "dataset name", "cifar-mini")


def check_version(number: object) -> int:
    """A version number: a whole number from 1."""
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number < 10**9:
        raise InvalidInput(f"invalid version number {number!r}", "versions count from 1: v1, v2")
    return number


def parse_ref(text: object) -> Ref:
    """Parse a reference (see the module docstring).

    Raises:
        InvalidInput: the text is not a reference, naming what is wrong.
    """
    if not isinstance(text, str):
        raise InvalidInput(f"a dataset reference is text, not {type(text).__name__}", REF_HINT)
    if not text.strip():
        raise InvalidInput("a dataset reference is empty", REF_HINT)
    # Only spaces are forgiven: a newline or tab from the wire is a malformed reference.
    text = text.strip(" ")
    digest = _DIGEST.fullmatch(text)
    if digest:
        return Ref(None, digest=text)
    name, sep, tail = text.partition("@")
    check_name(name)
    if not sep or tail == "latest":
        return Ref(name)
    if version := _VERSION.fullmatch(tail):
        return Ref(name, version=int(version.group(1)))
    if _HEX.fullmatch(tail) or _DIGEST.fullmatch(tail):
        return Ref(name, digest=tail)
    if re.fullmatch(r"[vV]?[0-9]+|v[^A-Za-z][\s\S]*", tail):
        raise InvalidInput(f"invalid version {tail!r} in {text!r}", "versions look like v1, v2, v3")
    if _ALIAS.fullmatch(tail):
        return Ref(name, alias=tail)
    raise InvalidInput(f"invalid dataset reference {text!r}", REF_HINT)


def check_alias(alias: object) -> str:
    """A dataset alias: a word that reads as neither a version, ``latest`` nor a digest.

    Raises:
        InvalidInput: naming why the alias cannot be one.
    """
    if not isinstance(alias, str) or not alias:
        raise InvalidInput("an alias is a non-empty word", ALIAS_HINT)
    if re.fullmatch(r"[vV]?[0-9]+", alias):
        raise InvalidInput(
            f"alias {alias!r} looks like a version number", f"{ALIAS_HINT}; versions are v1, v2"
        )
    if alias.lower() == "latest":
        raise InvalidInput("alias 'latest' is reserved: it always means the newest version")
    if _HEX.fullmatch(alias):
        raise InvalidInput(f"alias {alias!r} looks like a digest prefix", ALIAS_HINT)
    if not _ALIAS.fullmatch(alias):
        raise InvalidInput(f"invalid alias {alias[:80]!r}", ALIAS_HINT)
    return alias


def digest_matches(prefix: str, digest: str) -> bool:
    """Whether a full manifest digest matches a reference's digest (prefix)."""
    if ":" in prefix:
        return digest.startswith(prefix)
    return digest.split(":", 1)[-1].startswith(prefix)
