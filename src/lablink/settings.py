"""Typed settings resolved once at the edge, then passed down.

Precedence, highest first: explicit overrides (command-line flags, ``init`` arguments),
``LABLINK_*`` environment variables, the repository's ``lablink.toml`` (``[lablink]``
table), the user's config file (``~/.config/lablink/config.toml``). Every key is declared
once in ``SETTINGS`` with its type, default and help; ``docs/settings.md`` is generated
from that table and a test keeps it complete.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lablink.errors import InvalidInput


def parse_bool(raw: str) -> bool:
    """Strict booleans: true/false/1/0/yes/no, anything else is an error."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def parse_size(raw: str) -> int:
    """Sizes like ``50GB``, ``512MiB``, ``1000`` (bytes)."""
    text = raw.strip().upper().replace(" ", "")
    units = {
        "KIB": 1024,
        "MIB": 1024**2,
        "GIB": 1024**3,
        "TIB": 1024**4,
        "KB": 1000,
        "MB": 1000**2,
        "GB": 1000**3,
        "TB": 1000**4,
        "K": 1024,
        "M": 1024**2,
        "G": 1024**3,
        "B": 1,
    }
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def parse_list(raw: str) -> tuple[str, ...]:
    """Comma-separated values, blanks dropped: ``http://a:8500, http://b:8500``."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def format_size(size: int) -> str:
    """``512 B``, ``3.4 kB``, ``1.2 GB``: powers of 1000, as ``parse_size`` reads them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


@dataclasses.dataclass(frozen=True)
class Key:
    """One setting: its name, parser, default and help text."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str

    @property
    def env(self) -> str:
        return "LABLINK_" + self.name.upper()


SETTINGS: tuple[Key, ...] = (
    Key(
        "home",
        str,
        None,
        "Folder of the embedded store: lablink.db and blobs/. "
        "Default: .lablink/ at the git root of the current directory, else ~/.lablink.",
    ),
    Key(
        "db",
        str,
        None,
        "Database URL of the store, e.g. postgresql+psycopg://host/db. "
        "Default: SQLite at <home>/lablink.db.",
    ),
    Key(
        "durability",
        str,
        "commit",
        "What an acknowledged write to the embedded SQLite store survives: 'commit' (a "
        "power failure: WAL fsynced, shared by concurrent writes) or 'process' (the "
        "process crashing only; faster on slow disks).",
    ),
    Key("blobs", str, None, "fsspec URL of the blob store. Default: <home>/blobs."),
    Key("server", str, None, "URL of a lablink server; when set the SDK and CLI talk HTTP to it."),
    Key("token", str, None, "API token sent to the server as a bearer token."),
    Key("user", str, None, "Who you are in lablink. Default: git user.email, else the OS user."),
    Key("heartbeat_interval", float, 10.0, "Seconds between SDK heartbeats (with sys/* metrics)."),
    Key("flush_interval", float, 0.5, "Seconds between SDK background flushes of logged points."),
    Key("buffer_points", int, 1_000_000, "Points the SDK buffers in memory before run.log waits."),
    Key(
        "spool_dir",
        str,
        None,
        "Where the SDK spools batches while the server is unreachable. Default: <home>/spool.",
    ),
    Key("max_request_bytes", parse_size, 64 * 1024**2, "Largest request body the server accepts."),
    Key("system_metrics", parse_bool, True, "Sample CPU, RAM and GPU as sys/* with heartbeats."),
    Key(
        "stop_signal",
        str,
        "exception",
        "How a run asked to stop by the server ends the "
        "training loop: 'exception' (raise RunStopped in run.log) or 'sigterm'.",
    ),
    Key("public_url", str, None, "Base URL of the server's web UI, used in links in alerts."),
    Key(
        "docs_url",
        str,
        None,
        "Base URL of the repository's generated lab docs (docs/lab on your forge), e.g. "
        "https://git.example.org/team/repo/blob/main/docs/lab: the web UI links runs, models "
        "and datasets to their pages.",
    ),
    # Versioned datasets.
    Key(
        "data_endpoints",
        parse_list,
        (),
        "Comma-separated URLs of servers and edge caches to read dataset files from, "
        "nearest healthy first (also `[data] endpoints = [...]` in lablink.toml). "
        "Default: the server, else the embedded store.",
    ),
    Key("cache_dir", str, None, "Client cache of dataset files. Default: <home>/cache."),
    Key("cache_size", parse_size, 20 * 1000**3, "Size limit of the client cache (LRU), e.g. 50GB."),
    Key(
        "capture_exclude",
        parse_list,
        (),
        "Comma-separated git path patterns left out of the dirty diff init captures, "
        "e.g. `secrets/*, *.env` (also `[capture] exclude = [...]` in lablink.toml).",
    ),
    Key(
        "busfactor_repo",
        str,
        None,
        "A folder in a git repository whose bus factor the server's /team/busfactor page "
        "shows. Default: none (the page explains how to enable it).",
    ),
    # Single sign-on with OpenID Connect (docs/people.md).
    Key(
        "oidc_issuer",
        str,
        None,
        "Issuer URL of an OpenID Connect provider: the server's sign-in page offers single "
        "sign-on through it (with --auth required or proxy).",
    ),
    Key("oidc_client_id", str, None, "The client id lablink is registered under at the provider."),
    Key(
        "oidc_client_secret_file",
        str,
        None,
        "A file holding only the client secret the provider gave (never the secret itself).",
    ),
    Key(
        "oidc_name",
        str,
        None,
        "The provider's name on the sign-in button. Default: the issuer's host name.",
    ),
    Key(
        "oidc_create_users",
        parse_bool,
        False,
        "Make a user at the first single sign-on of an unknown, verified e-mail address "
        "(else an admin adds them first).",
    ),
    Key(
        "oidc_new_user_projects",
        parse_list,
        (),
        "Comma-separated projects a user made at single sign-on becomes a viewer of.",
    ),
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build with ``Settings.load()``."""

    home: Path
    db: str
    blobs: str
    server: str | None
    token: str | None
    user: str
    heartbeat_interval: float
    flush_interval: float
    buffer_points: int
    spool_dir: Path
    max_request_bytes: int
    system_metrics: bool
    stop_signal: str
    public_url: str | None
    docs_url: str | None = None
    durability: str = "commit"
    data_endpoints: tuple[str, ...] = ()
    cache_dir: Path = Path(".lablink/cache")
    cache_size: int = 20 * 1000**3
    capture_exclude: tuple[str, ...] = ()
    busfactor_repo: Path | None = None
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret_file: str | None = None
    oidc_name: str | None = None
    oidc_create_users: bool = False
    oidc_new_user_projects: tuple[str, ...] = ()
    project_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def review_thresholds(self) -> ReviewThresholds:
        """The data review's limits: ``[review]`` in lablink.toml over the defaults.

        Raises:
            InvalidInput: an unknown key or a bad value (docs/settings.md lists the keys).
        """
        return ReviewThresholds.from_config(self.project_config.get("review"))

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """Resolve settings from overrides, environment, lablink.toml and the user file."""
        environ = os.environ if environ is None else environ
        cwd = Path.cwd() if cwd is None else cwd
        git_root = find_git_root(cwd)
        project_file = find_project_file(cwd, git_root)
        project_config = _read_toml(project_file) if project_file else {}
        user_file = Path(environ.get("LABLINK_CONFIG", Path.home() / ".config/lablink/config.toml"))
        user_config = _read_toml(user_file) if user_file.is_file() else {}

        values: dict[str, Any] = {}
        for key in SETTINGS:
            values[key.name] = _resolve(
                key,
                overrides or {},
                environ,
                project_config.get("lablink", {}),
                user_config.get("lablink", user_config),
            )
        home = (
            Path(values["home"]).expanduser()
            if values["home"]
            else (git_root / ".lablink" if git_root else Path.home() / ".lablink")
        )
        db = values["db"] or f"sqlite:///{home / 'lablink.db'}"
        return cls(
            home=home,
            db=normalise_db_url(db),
            blobs=values["blobs"] or str(home / "blobs"),
            server=values["server"].rstrip("/") if values["server"] else None,
            token=values["token"],
            user=values["user"] or default_user(cwd),
            heartbeat_interval=values["heartbeat_interval"],
            flush_interval=values["flush_interval"],
            buffer_points=values["buffer_points"],
            spool_dir=Path(values["spool_dir"]) if values["spool_dir"] else home / "spool",
            max_request_bytes=values["max_request_bytes"],
            system_metrics=values["system_metrics"],
            stop_signal=_check_choice(
                "stop_signal", values["stop_signal"], ("exception", "sigterm")
            ),
            public_url=values["public_url"],
            durability=_check_choice("durability", values["durability"], ("commit", "process")),
            docs_url=values["docs_url"].rstrip("/") if values["docs_url"] else None,
            data_endpoints=_endpoints(values["data_endpoints"], project_config),
            cache_dir=Path(values["cache_dir"]).expanduser()
            if values["cache_dir"]
            else home / "cache",
            cache_size=values["cache_size"],
            capture_exclude=_capture_exclude(values["capture_exclude"], project_config),
            busfactor_repo=Path(values["busfactor_repo"]).expanduser()
            if values["busfactor_repo"]
            else None,
            oidc_issuer=values["oidc_issuer"],
            oidc_client_id=values["oidc_client_id"],
            oidc_client_secret_file=values["oidc_client_secret_file"],
            oidc_name=values["oidc_name"],
            oidc_create_users=values["oidc_create_users"],
            oidc_new_user_projects=_string_list("oidc_new_user_projects", values),
            project_config=project_config,
        )


def _resolve(key: Key, *layers: Mapping[str, Any]) -> Any:
    overrides, environ, project, user = layers
    if overrides.get(key.name) is not None:
        return overrides[key.name]
    if key.env in environ and environ[key.env] != "":
        raw = environ[key.env]
        try:
            return key.parse(raw)
        except ValueError as exc:
            raise InvalidInput(
                f"{key.env}={raw!r} is not valid: {exc}",
                f"see `lablink --help` or docs/settings.md for {key.env}",
            ) from exc
    for layer in (project, user):
        if key.name in layer:
            value = layer[key.name]
            return key.parse(value) if isinstance(value, str) and key.parse is not str else value
    return key.default


def _endpoints(value: Any, project_config: Mapping[str, Any]) -> tuple[str, ...]:
    """Data endpoints from the setting, else the project file's ``[data] endpoints``."""
    if not value:
        value = project_config.get("data", {}).get("endpoints", ())
    if isinstance(value, str):
        value = parse_list(value)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            "data endpoints must be a list of URLs", "e.g. endpoints = ['http://a:8500']"
        )
    return tuple(v.rstrip("/") for v in value)


def _capture_exclude(value: Any, project_config: Mapping[str, Any]) -> tuple[str, ...]:
    """Patterns from the setting, else the project file's ``[capture] exclude``."""
    if not value:
        table = project_config.get("capture", {})
        value = table.get("exclude", ()) if isinstance(table, Mapping) else ()
    if isinstance(value, str):
        value = parse_list(value)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            "[capture] exclude must be a list of path patterns",
            "e.g. exclude = ['secrets/*', '*.env']",
        )
    return tuple(v for v in value if v.strip())


def _string_list(name: str, values: Mapping[str, Any]) -> tuple[str, ...]:
    value = values[name]
    if isinstance(value, str):
        value = parse_list(value)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of names", f"e.g. {name} = ['vision']")
    return tuple(v.strip() for v in value if v.strip())


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only where a config file exists: a start-up cost otherwise

    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}", "fix the file or remove it") from exc


def normalise_db_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` as the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def find_git_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` holding ``.git``."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def find_project_file(start: Path, git_root: Path | None) -> Path | None:
    """The nearest ``lablink.toml`` between ``start`` and the git root."""
    stop = git_root or start
    for folder in (start, *start.parents):
        candidate = folder / "lablink.toml"
        if candidate.is_file():
            return candidate
        if folder == stop:
            break
    return None


def default_user(cwd: Path) -> str:
    """git user.email if set, else the login name.

    Remembered per process while the folder, the ``GIT_*``/login variables and the git
    config files stay the same: ``git config`` costs a process start on every
    ``lablink.init`` otherwise.
    """
    key = _user_key(cwd)
    known = _users.get(key)
    if known is not None:
        return known
    user = _ask_user(cwd)
    _users.clear()
    _users[key] = user
    return user


_users: dict[tuple[object, ...], str] = {}
_USER_VARS = ("HOME", "XDG_CONFIG_HOME", "USER", "LOGNAME", "LNAME", "USERNAME")


def _user_key(cwd: Path) -> tuple[object, ...]:
    env = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith("GIT_") or k in _USER_VARS)
    )
    home = Path(os.environ.get("HOME") or "~").expanduser()
    xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    files = [home / ".gitconfig", xdg / "git" / "config"]
    root = find_git_root(cwd)
    if root is not None:
        files.append(root / ".git" / "config")
    return (str(cwd), env, tuple(_stamp(f) for f in files))


def _stamp(path: Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return (-1, -1)
    return (stat.st_mtime_ns, stat.st_size)


def _ask_user(cwd: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "config", "user.email"], cwd=cwd, capture_output=True, text=True, timeout=5
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


# The data review report's limits: the ``[review]`` table of lablink.toml,
# documented in docs/settings.md. Drift thresholds are ``[drift]``'s (checks/drift.py).


@dataclasses.dataclass(frozen=True)
class ReviewThresholds:
    """Limits of the automated review report; see docs/data.md."""

    # Leakage: any duplicate across splits warns; this share of a split's rows or files
    # (exact, near or group) fails.
    leakage_fail_share: float = 0.01
    # Near duplicates: Hamming distance of 64-bit perceptual hashes (imagehash.phash)
    image_distance: int = 8
    # Near duplicates: estimated Jaccard similarity of word shingles (datasketch MinHash)
    text_similarity: float = 0.5
    # Normalised table rows round floats to this many significant digits
    table_digits: int = 6
    # A table string column is text (compared by MinHash) when cells average this long
    text_min_chars: float = 40.0
    # At most this many texts (files and cells) are compared for near duplicates
    max_texts: int = 200_000
    # Balance: largest over smallest label count in a split
    imbalance_warn: float = 10.0
    imbalance_fail: float = 100.0
    # Subgroups with fewer rows in a split warn
    subgroup_min: int = 30
    # NaN/inf: any warns; this share of a column's cells fails
    nonfinite_fail_share: float = 0.01
    # Likely label errors (cleanlab): any warns; this share of rows fails
    label_issue_fail_share: float = 0.05
    # Evidence: pairs, rows or files listed per check, and flagged samples in the report
    max_evidence: int = 20
    max_flagged: int = 200

    @classmethod
    def from_config(cls, config: Any, source: str = "lablink.toml") -> ReviewThresholds:
        """Thresholds from a ``[review]`` table (``Settings.project_config.get("review")``).

        Raises:
            InvalidInput: not a table, an unknown key, or a value of the wrong kind.
        """
        if config is None:
            return cls()
        if not isinstance(config, Mapping):
            raise InvalidInput(
                f"{source}: [review] must be a table, not {type(config).__name__}",
                "write it as [review] with keys such as imbalance_fail = 50",
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in config.items():
            field = fields.get(key)
            if field is None:
                raise InvalidInput(
                    f"{source} [review]: unknown key {key!r}", f"keys: {', '.join(fields)}"
                )
            values[key] = _checked(source, key, value, field.type == "int")
        thresholds = cls(**values)
        if thresholds.imbalance_fail < thresholds.imbalance_warn:
            raise InvalidInput(
                f"{source} [review]: imbalance_fail ({thresholds.imbalance_fail}) is below "
                f"imbalance_warn ({thresholds.imbalance_warn})",
                "a ratio that fails must also warn: raise imbalance_fail",
            )
        if thresholds.image_distance > 32:
            raise InvalidInput(
                f"{source} [review]: image_distance must be at most 32 of the 64 bits",
                "near duplicates differ in a few bits (the default is 8)",
            )
        return thresholds

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return dataclasses.asdict(self)


_SHARES = frozenset(
    {"leakage_fail_share", "text_similarity", "nonfinite_fail_share", "label_issue_fail_share"}
)


def _checked(source: str, key: str, value: Any, integer: bool) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidInput(f"{source} [review]: {key} must be a number >= 0, got {value!r}")
    if integer:
        if value != int(value):
            raise InvalidInput(f"{source} [review]: {key} must be a whole number, got {value!r}")
        return int(value)
    if key in _SHARES and value > 1:
        raise InvalidInput(f"{source} [review]: {key} is a share between 0 and 1, got {value!r}")
    return float(value)
