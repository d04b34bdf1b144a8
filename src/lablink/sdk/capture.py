"""What ``lablink.init`` records without being asked: code, command, machine, packages.

Every part is best effort: a part that fails is logged at WARNING and left out, so
capture never fails a run. Secrets in the command line, the dirty diff and the config
are replaced by ``[redacted]`` (sdk/redact.py, through detect-secrets); a part that
cannot be scanned is left out rather than stored as it is. Paths matched by the
project's ``[capture] exclude`` patterns are left out of the diff. All of it together takes a few tens of milliseconds (the
git calls dominate); packages are read from the names of ``*.dist-info`` folders, not
from each package's metadata file, which would cost far more with a large environment.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

GIT_TIMEOUT = 5.0
# A dirty diff larger than this is cut (a notebook or data file checked into git).
MAX_DIFF_BYTES = 8 * 1024 * 1024


REDACTED_TAG = "lablink.redacted"


@dataclasses.dataclass
class Capture:
    """Run fields for ``Transport.create_run`` and the dirty diff to store as a blob.

    ``config`` is the run's config with secrets redacted; ``redacted`` names, for each
    part that had secrets (``command``, ``git diff``, ``config``), the kinds found.
    """

    fields: dict[str, Any]
    diff: bytes | None = None
    config: dict[str, Any] = dataclasses.field(default_factory=dict)
    redacted: dict[str, list[str]] = dataclasses.field(default_factory=dict)

    def redaction_note(self) -> str | None:
        """A note saying what kinds of secrets were redacted where (never the values)."""
        if not self.redacted:
            return None
        parts = [f"{', '.join(kinds)} in the {part}" for part, kinds in self.redacted.items()]
        return (
            "lablink redacted secrets before storing this run: "
            + "; ".join(parts)
            + ". They were replaced by [redacted]."
        )


def capture(
    cwd: Path | None = None,
    own: Sequence[Path] = (),
    exclude: Sequence[str] = (),
    config: Mapping[str, Any] | None = None,
) -> Capture:
    """Gather git state, argv, host, Python, packages and GPU names; never raises.

    Args:
        cwd: where the training code runs (default: the current directory).
        own: lablink's own paths (home, spool, cache, database): they never make the
            working tree dirty nor appear in its diff.
        exclude: git pathspec patterns (``secrets/*``, ``*.env``) left out of the diff.
        config: the run's config, returned redacted as ``Capture.config``.
    """
    from lablink.sdk import redact

    cwd = Path.cwd() if cwd is None else cwd
    fields: dict[str, Any] = {}
    diff: bytes | None = None
    redacted: dict[str, list[str]] = {}

    def scrub(part: str, scan: Callable[[Any], tuple[Any, set[str]]], value: Any) -> Any:
        clean, kinds = scan(value)
        if kinds:
            redacted[part] = sorted(kinds)
        return clean

    parts: list[tuple[str, Callable[[], Any]]] = [
        (
            "command",
            lambda: scrub(
                "command", redact.redact_argv, getattr(sys, "orig_argv", None) or sys.argv
            ),
        ),
        ("host", socket.gethostname),
        ("python_version", platform.python_version),
        ("packages", installed_packages),
        ("gpus", gpu_names),
    ]
    for name, part in parts:
        try:
            fields[name] = part()
        except Exception as exc:
            logger.warning("lablink: could not capture %s: %s", name, exc)
    try:
        git, diff = git_state(cwd, own, exclude)
        fields.update(git)
    except Exception as exc:
        logger.warning("lablink: could not capture the git state: %s", exc)
    if diff is not None:
        try:
            diff = scrub("git diff", redact.redact_diff, diff)
        except Exception as exc:  # never store a diff that could not be scanned
            logger.warning("lablink: could not scan the git diff, leaving it out: %s", exc)
            diff = None
    if diff is not None:
        fields["git_diff_digest"] = "sha256:" + hashlib.sha256(diff).hexdigest()
    clean = dict(config or {})
    if clean:
        try:
            clean = scrub("config", redact.redact_config, clean)
        except Exception as exc:  # the config is the run's own data: kept, unscanned
            logger.warning("lablink: could not scan the config for secrets: %s", exc)
    return Capture(fields, diff, clean, redacted)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False
    )


def git_state(
    cwd: Path, own: Sequence[Path] = (), exclude: Sequence[str] = ()
) -> tuple[dict[str, Any], bytes | None]:
    """Commit, branch, remote and dirty flag of the repository at ``cwd``, and its diff.

    The diff is ``git diff HEAD`` followed by the names of untracked files; it is
    None for a clean tree or outside a repository. Paths in ``own`` (lablink's files)
    are left out of both the dirty flag and the diff. Paths matching ``exclude``
    (git pathspec patterns from the repository's root) still make the tree dirty, but
    only their names are listed, after the diff.
    """
    head = _git(cwd, "rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD")
    if head.returncode != 0:
        if b"not a git repository" in head.stderr:
            return {}, None
        # a repository without commits yet: no HEAD, everything is untracked
        top = _git(cwd, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            return {}, None
        lines = [top.stdout.decode().strip(), "", ""]
    else:
        lines = head.stdout.decode().splitlines()
    root = Path(lines[0])
    fields: dict[str, Any] = {
        "git_commit": lines[1] or None,
        "git_branch": None if lines[2] in ("", "HEAD") else lines[2],  # HEAD: detached
    }
    remote = _git(root, "config", "--get", "remote.origin.url")
    if remote.returncode == 0 and remote.stdout.strip():
        fields["git_remote"] = strip_credentials(remote.stdout.decode().strip())
    spec = pathspec(root, own)
    entries = _status(root, spec)
    fields["git_dirty"] = bool(entries)
    if not entries:
        return fields, None
    left_out: list[str] = []
    if exclude:
        spec = pathspec(root, own, exclude)
        kept = set(_status(root, spec))
        left_out = [_status_path(e) for e in entries if e not in kept]
        entries = [e for e in entries if e in kept]
    diff = (
        _git(root, "diff", "HEAD", "--no-color", "--no-ext-diff", *spec).stdout if lines[1] else b""
    )
    untracked = [e[3:] for e in entries if e.startswith("?? ")]
    if untracked:
        diff += b"\n# untracked files:\n" + "".join(f"# {u}\n" for u in untracked).encode()
    if left_out:
        diff += b"\n# changed, left out by [capture] exclude:\n"
        diff += "".join(f"# {p}\n" for p in left_out).encode()
    if len(diff) > MAX_DIFF_BYTES:
        diff = diff[:MAX_DIFF_BYTES] + b"\n# ... diff cut at %d bytes\n" % MAX_DIFF_BYTES
    return fields, diff


def _status(root: Path, spec: Sequence[str]) -> list[str]:
    """``git status --porcelain`` entries (``XY path``) of the tree within ``spec``."""
    status = _git(root, "status", "--porcelain=v1", "-z", "--untracked-files=all", *spec)
    return [e for e in status.stdout.decode(errors="replace").split("\0") if e]


def _status_path(entry: str) -> str:
    return entry[3:]


def pathspec(root: Path, own: Sequence[Path], exclude: Sequence[str] = ()) -> list[str]:
    """Git pathspec arguments for the whole tree except ``own`` paths inside ``root``.

    ``exclude`` patterns are git's wildcards from the root, where ``*`` also matches
    ``/`` (``*.env`` leaves out ``conf/prod.env``), and a folder's name leaves out
    everything in it.
    """
    root = root.resolve()
    excluded = []
    for path in own:
        try:
            rel = path.resolve().relative_to(root)
        except ValueError:
            continue  # outside the repository: git never sees it
        if rel.parts:  # the root itself would exclude everything
            excluded.append(f":(exclude,literal){rel.as_posix()}")
    # top: patterns count from the root, wherever in the tree the run starts
    excluded += [f":(exclude,top){pattern}" for pattern in exclude if pattern.strip()]
    return ["--", ".", *excluded] if excluded else []


def strip_credentials(url: str) -> str:
    """``https://user:token@host/x.git`` → ``https://host/x.git``; scp-style URLs unchanged."""
    if "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def installed_packages() -> dict[str, str]:
    """Installed distributions, name → version, as the first on ``sys.path`` wins.

    Read from the ``name-version.dist-info`` folder names on ``sys.path``, without
    importlib.metadata, which parses every package's metadata (slower, and about 2 MB
    that a training process would keep). Legacy ``.egg-info`` folders without a version
    in their name fall back to their ``PKG-INFO``.
    """
    # A folder's mtime changes when a distribution is installed into it or removed, so
    # the listing is reused for the next runs of one process until something changes.
    key = tuple((entry, _mtime(entry)) for entry in sys.path)
    cached = _listings.get(key)
    if cached is not None:
        return dict(cached)
    packages: dict[str, str] = {}
    for entry in sys.path:
        try:
            folders = list(os.scandir(entry or "."))
        except OSError:
            continue
        for folder in folders:
            name, version = _name_version(Path(folder.path))
            if name and version:
                packages.setdefault(name, version)
    listing = dict(sorted(packages.items(), key=lambda kv: kv[0].lower()))
    _listings.clear()
    _listings[key] = listing
    return dict(listing)


_listings: dict[tuple[tuple[str, int], ...], dict[str, str]] = {}


def _mtime(entry: str) -> int:
    try:
        return os.stat(entry or ".").st_mtime_ns
    except OSError:
        return -1


def _name_version(folder: Path) -> tuple[str | None, str | None]:
    if folder.suffix not in (".dist-info", ".egg-info"):
        return None, None
    stem = folder.name[: -len(folder.suffix)]
    name, sep, version = stem.partition("-")
    if sep and version:
        return name, version.split("-", 1)[0]
    info = folder / "PKG-INFO" if folder.is_dir() else folder
    fields: dict[str, str] = {}
    try:
        with open(info, encoding="utf-8", errors="replace") as fh:
            for line in fh:  # the header ends at the first blank line
                if not line.strip():
                    break
                key, sep, value = line.partition(": ")
                if sep:
                    fields.setdefault(key, value.strip())
    except OSError:
        return None, None
    return fields.get("Name"), fields.get("Version")


def gpu_names() -> list[str]:
    """Names of the NVIDIA GPUs, through nvidia-ml-py; empty without a GPU or driver."""
    from lablink.sdk.gpu import open_nvml

    nvml = open_nvml()
    if nvml is None:
        return []
    try:
        names = []
        for i in range(nvml.nvmlDeviceGetCount()):
            name = nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))
            names.append(name.decode() if isinstance(name, bytes) else str(name))
        return names
    finally:
        nvml.nvmlShutdown()
