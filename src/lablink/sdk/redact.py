"""Secrets left out of what ``lablink.init`` captures: the git diff, argv and the config.

Detection is detect-secrets' (Yelp's maintained scanner): its pattern plugins for
well-known credentials (AWS, GitHub, GitLab, Slack, Stripe, private keys, JWTs, ...)
and its keyword detector (``password = "..."``, ``api_key: ...``). Its public-IP
plugin is left out (an address is not a credential) and so are the entropy plugins,
which fire on every commit hash and digest in a diff. Only this module imports
detect-secrets, and it never touches detect-secrets' global settings (which are not
thread-safe); plugins are loaded once, under a lock, and a scan holds the lock too.

Each secret is replaced by ``[redacted]``; a private key's body is replaced line by
line, so a diff's hunk line counts still hold. The functions return the kinds of
secrets found (detect-secrets' names, e.g. ``AWS Access Key``), never their values.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

REDACTED = "[redacted]"
# Pattern plugins that find things which are not credentials (the entropy plugins are
# not pattern plugins, so they are never loaded).
_SKIPPED = frozenset({"IPPublicDetector"})
# A matched group at least this long is the secret; a shorter one is a prefix
# (``ghp`` of a GitHub token), and then the whole match is.
_MIN_GROUP = 8
_DELIMITERS = " \t=:\"'"
# Where a private key's body ends (PEM, PuTTY), or a diff moves to another file.
_KEY_END = re.compile(r"-----END |Private-MAC:|^diff --git ")
_PRIVATE_KEY = "Private Key"
_KEYWORD = "Secret Keyword"

_lock = threading.Lock()
_scanner: _Scanner | None = None
# A secret found by a pattern runs on to the end of its token: detect-secrets' JWT
# pattern, for one, stops before the signature.
_TOKEN_TAIL = re.compile(r"[A-Za-z0-9_\-.+/=]*")


class _Detector:
    """One detect-secrets pattern plugin, its patterns made to work on many lines."""

    def __init__(self, plugin: Any, base: Any) -> None:
        self.plugin = plugin
        self.kind: str = plugin.secret_type
        self.patterns = [re.compile(p.pattern, p.flags | re.MULTILINE) for p in plugin.denylist]
        # a plugin with its own analyze_string checks what its patterns find (JWT's format)
        self.checks = type(plugin).analyze_string is not base.analyze_string

    def spans(self, text: str) -> Iterator[tuple[int, int]]:
        """Spans of the secrets this plugin finds in ``text``."""
        for pattern in self.patterns:
            for match in pattern.finditer(text):
                if self.checks and not any(True for _ in self.plugin.analyze_string(match.group())):
                    continue
                start, end = _secret_span(match)
                tail = _TOKEN_TAIL.match(text, end)
                yield start, tail.end() if tail else end


class _Scanner:
    """detect-secrets' plugins, loaded once."""

    def __init__(self) -> None:
        import importlib
        import inspect
        import pkgutil

        import detect_secrets.plugins as plugins
        from detect_secrets.plugins import keyword
        from detect_secrets.plugins.base import RegexBasedDetector
        from detect_secrets.util.filetype import FileType, determine_file_type

        self.detectors: list[_Detector] = []
        for info in pkgutil.iter_modules(plugins.__path__):
            module = importlib.import_module(f"{plugins.__name__}.{info.name}")
            for name, cls in inspect.getmembers(module, inspect.isclass):
                if (
                    issubclass(cls, RegexBasedDetector)
                    and cls.__module__ == module.__name__
                    and not inspect.isabstract(cls)
                    and name not in _SKIPPED
                ):
                    self.detectors.append(_Detector(cls(), RegexBasedDetector))
        self.quoted: Mapping[re.Pattern[str], int] = keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP
        self.unquoted: Mapping[re.Pattern[str], int] = keyword.CONFIG_DENYLIST_REGEX_TO_GROUP
        self.by_filetype: Mapping[Any, Mapping[re.Pattern[str], int]] = keyword.REGEX_BY_FILETYPE
        # every keyword pattern starts with this one: a line without it needs no more
        self.gate = re.compile(keyword.DENYLIST_REGEX, re.IGNORECASE)
        self.file_type = determine_file_type
        self.other = FileType.OTHER

    def keywords_for(self, path: str) -> Mapping[re.Pattern[str], int]:
        """The keyword patterns detect-secrets uses for a file at ``path``.

        A dotenv file (``.env``, ``.env.local``) has no extension to go by, so it is
        read as the config file it is: values need no quotes there.
        """
        kind = self.file_type(path)
        if kind == self.other and path.rsplit("/", 1)[-1].startswith(".env"):
            return self.unquoted
        return self.by_filetype.get(kind, self.quoted)

    def keyword_spans(
        self, line: str, keywords: Mapping[re.Pattern[str], int]
    ) -> Iterator[tuple[int, int]]:
        """Spans of the values assigned to secret-sounding names in ``line``."""
        for pattern, group in keywords.items():
            match = pattern.search(line)
            if match and match.group(group):
                yield match.span(group)


def _secret_span(match: re.Match[str]) -> tuple[int, int]:
    for group in range(match.re.groups, 0, -1):
        if match.group(group) and len(match.group(group)) >= _MIN_GROUP:
            return match.span(group)
    start, end = match.span()
    text = match.group()
    return start + len(text) - len(text.lstrip(_DELIMITERS)), end - (
        len(text) - len(text.rstrip(_DELIMITERS))
    )


def _get_scanner() -> _Scanner:
    global _scanner
    if _scanner is None:
        _scanner = _Scanner()
    return _scanner


def _redact(text: str, diff: bool, kinds: set[str]) -> str:
    """``text`` with every secret span replaced; the kinds found are added to ``kinds``."""
    scanner = _get_scanner()
    spans: list[tuple[int, int]] = []
    key_lines: set[int] = set()  # offsets of lines that begin a private key
    for detector in scanner.detectors:
        for start, end in detector.spans(text):
            kinds.add(detector.kind)
            if detector.kind == _PRIVATE_KEY:
                key_lines.add(text.rfind("\n", 0, start) + 1)
            else:
                spans.append((start, end))
    # one pass for the keyword gate, then the keyword patterns on the lines it hit
    named = {text.rfind("\n", 0, m.start()) + 1 for m in scanner.gate.finditer(text)}
    keywords = scanner.quoted
    pos, in_key = 0, False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        if diff and line.startswith("+++ b/"):
            keywords = scanner.keywords_for(body[len("+++ b/") :])
        if in_key and not _KEY_END.search(line):
            skip = 1 if diff and line[:1] in ("+", "-", " ") else 0
            if len(body) > skip:
                spans.append((pos + skip, pos + len(body)))
        else:
            in_key = pos in key_lines
            if pos in named:
                for start, end in scanner.keyword_spans(body, keywords):
                    kinds.add(_KEYWORD)
                    spans.append((pos + start, pos + end))
        pos += len(line)
    return _replace(text, spans)


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for start, end in sorted(spans):
        if start < at:  # overlaps a span already replaced
            at = max(at, end)
            continue
        out.append(text[at:start] + REDACTED)
        at = end
    return "".join(out) + text[at:]


def redact_text(text: str, *, diff: bool = False) -> tuple[str, set[str]]:
    """``text`` with its secrets replaced, and the kinds found.

    Args:
        text: any text; a ``git diff`` when ``diff`` is set, whose ``+++ b/<path>``
            headers choose detect-secrets' keyword patterns by file type (unquoted
            values count in ``.env``, YAML, INI and TOML files).
        diff: keep the ``+``/``-``/space prefix of redacted private key lines.
    """
    kinds: set[str] = set()
    with _lock:
        redacted = _redact(text, diff, kinds)
    return redacted, kinds


def redact_diff(diff: bytes) -> tuple[bytes, set[str]]:
    """A git diff with its secrets replaced; undecodable bytes pass through unchanged."""
    text = diff.decode("utf-8", "surrogateescape")
    redacted, kinds = redact_text(text, diff=True)
    return (redacted.encode("utf-8", "surrogateescape") if kinds else diff), kinds


def redact_argv(argv: Iterable[str]) -> tuple[list[str], set[str]]:
    """A command line with its secrets replaced.

    ``--db-password=x`` and ``--db-password x`` are read as ``db_password = x``, so
    detect-secrets' keyword list applies to flags as it does to config files.
    """
    args = list(argv)
    kinds: set[str] = set()
    out = []
    with _lock:
        for i, arg in enumerate(args):
            flag = args[i - 1] if i else ""
            if arg.startswith("-") and "=" in arg:
                name, _, rest = arg.partition("=")
                value = name + "=" + _redact_value(name, _redact(rest, False, kinds), kinds)
            elif flag.startswith("-") and "=" not in flag and not arg.startswith("-"):
                value = _redact_value(flag, _redact(arg, False, kinds), kinds)
            else:
                value = _redact(arg, False, kinds)
            out.append(value)
    return out, kinds


def redact_config(config: Mapping[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """A (nested) config with secret string values replaced, keys kept."""
    kinds: set[str] = set()
    with _lock:
        redacted = _redact_mapping(config, kinds)
    return redacted, kinds


def _redact_mapping(config: Mapping[str, Any], kinds: set[str]) -> dict[str, Any]:
    return {key: _redact_item(str(key), value, kinds) for key, value in config.items()}


def _redact_item(key: str, value: Any, kinds: set[str]) -> Any:
    if isinstance(value, Mapping):
        return _redact_mapping(value, kinds)
    if isinstance(value, list | tuple):
        return [_redact_item(key, item, kinds) for item in value]
    if not isinstance(value, str):
        return value
    return _redact_value(key, _redact(value, False, kinds), kinds)


def _redact_value(name: str, value: str, kinds: set[str]) -> str:
    """``value``, or the marker if ``name = value`` reads as a secret assignment."""
    if not value or REDACTED in value:
        return value
    prefix = name.lstrip("-").replace("-", "_") + " = "
    scanner = _get_scanner()
    if not scanner.gate.match(prefix):
        return value
    for start, _ in scanner.keyword_spans(prefix + value, scanner.unquoted):
        if start >= len(prefix):
            kinds.add(_KEYWORD)
            return REDACTED
    return value
