"""``lablink.dataset("name@v3")``: a dataset version from training code.

::

    ds = lablink.dataset("cifar-mini@v3")   # or "cifar-mini", "@latest", a digest
    ds.files                                 # relative paths, from the manifest
    ds.path                                  # a read-only folder with every file
    with ds.open("train/0001.png") as fh:    # one file, fetched alone if need be
        ...
    ds = lablink.dataset("events@v2", validate=True)   # tables re-checked at load
    ds.profile                               # per-column statistics stored at add

Inside a run (``lablink.init``), the version is recorded as the run's input, through
the run's own transport, so ``lablink runs show`` and the run page list it. Files
come through the client cache (``sdk/cache.py``) from the nearest data endpoint, each
verified against its digest.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from lablink.core.datasets.refs import parse_ref
from lablink.errors import InvalidInput, NotFound
from lablink.models import DatasetVersion
from lablink.settings import Settings

if TYPE_CHECKING:  # `import lablink` must stay light: these load on first use
    from lablink.checks.drift import DriftReport, DriftThresholds
    from lablink.checks.validation_report import ValidationReport
    from lablink.core.datasets.manifest import FileEntry, Manifest
    from lablink.sdk.cache import ClientCache
    from lablink.sdk.remote import DataRemote
    from lablink.sdk.run import Run
    from lablink.sdk.transfer import Progress, PullResult, PushResult


def current() -> Run | None:
    """The run opened last that is still open (None: none is).

    No run can be open before ``lablink.sdk.run`` is imported, so it is not imported
    here: ``lablink data add`` starts without the SDK's run machinery.
    """
    runs = sys.modules.get("lablink.sdk.run")
    found: Run | None = None if runs is None else runs.current()
    return found


@contextlib.contextmanager
def session(settings: Settings) -> Iterator[tuple[DataRemote, ClientCache]]:
    """The remote and the client cache for ``settings``, closed afterwards."""
    from lablink.sdk.cache import ClientCache
    from lablink.sdk.connect import open_remote

    remote = open_remote(settings)
    try:
        cache = ClientCache(settings.cache_dir, settings.cache_size)
        try:
            yield remote, cache
        finally:
            cache.close()
    finally:
        remote.close()


class Dataset:
    """One version of a dataset: its files, a local read-only copy, single files."""

    def __init__(self, info: DatasetVersion, manifest: Manifest, settings: Settings) -> None:
        self.info = info
        self.manifest = manifest
        self.settings = settings
        self._path: Path | None = None
        self._by_path = {f.path: f for f in manifest.files}
        self.validation: ValidationReport | None = None  # set by validate()
        self._profile: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """The dataset's name."""
        return self.info.dataset

    @property
    def version(self) -> int:
        """The version number (3 for ``name@v3``)."""
        return self.info.version

    @property
    def ref(self) -> str:
        """``name@vN``."""
        return self.info.ref

    @property
    def digest(self) -> str:
        """The manifest digest: equal for versions with equal files."""
        return self.info.digest

    @property
    def files(self) -> list[str]:
        """Relative paths of the files, sorted."""
        return [f.path for f in self.manifest.files]

    @property
    def entries(self) -> Sequence[FileEntry]:
        """Path, size and digest of each file."""
        return self.manifest.files

    @property
    def path(self) -> Path:
        """A read-only folder holding every file (hardlinks into the cache), built once."""
        if self._path is None:
            with session(self.settings) as (remote, cache):
                remote.fetch(cache, self.manifest.blobs(), None)
                self._path = cache.view(self.digest, self.manifest)
        return self._path

    def open(self, path: str) -> IO[bytes]:
        """One file for reading (binary); only that file is fetched if not cached.

        Raises:
            NotFound: the version has no such file.
        """
        entry = self._by_path.get(path)
        if entry is None:
            raise NotFound(f"{self.ref} has no file {path!r}", "see ds.files")
        if entry.link is not None:
            raise InvalidInput(
                f"{path!r} in {self.ref} is a symlink to {entry.link!r}, stored as a link",
                "open the file it points to, or read it under ds.path",
            )
        if self._path is not None:
            return open(self._path / path, "rb")
        with session(self.settings) as (remote, cache):
            remote.fetch(cache, {entry.digest: entry.size}, None)
            return open(cache.path(entry.digest), "rb")

    @property
    def profile(self) -> dict[str, Any]:
        """Per-column statistics of the version's tables, stored when it was added.

        Raises:
            NotFound: the version has no table files (or was added with --no-profile).
        """
        if self._profile is None:
            with session(self.settings) as (remote, cache):
                self._profile = remote.read_profile(cache, self.info)
        return self._profile

    @property
    def schema(self) -> str | None:
        """The registered schema the tables passed at ``data add`` (``events@v2``), if any."""
        return self.info.schema_ref

    def validate(self, schema: str | None = None) -> ValidationReport:
        """Check the version's tables against ``schema`` (default: the one it was added with).

        Fetches the files first. Raises ValidationFailed with the report when rows break
        the schema; InvalidInput when there is no schema to check against or no table.
        """
        from lablink.sdk.data_tables import table_files, validate_tables

        schema = schema or self.schema
        if schema is None:
            raise InvalidInput(
                f"{self.ref} was added without a schema",
                'name one: lablink.dataset(ref, validate="events@v2")',
            )
        root = self.path
        self.validation = validate_tables(table_files(root), schema, self.settings, where=self.ref)
        return self.validation

    def __repr__(self) -> str:
        return f"<Dataset {self.ref} {len(self.manifest.files)} files {self.digest[:19]}>"


def dataset(
    ref: str,
    *,
    validate: bool | str = False,
    require_review: bool | None = None,
    settings: Settings | None = None,
    record: bool = True,
    **overrides: Any,
) -> Dataset:
    """The dataset version ``ref`` names; inside a run, recorded as the run's input.

    Args:
        ref: ``name``, ``name@latest``, ``name@v3``, ``name@<digest prefix>`` or a digest.
        validate: check the tables at load (fetching every file): True against the
            schema the version was added with, or a registered schema (``"events@v3"``).
        require_review: refuse a version whose review is not approved; default: the
            team rule ``[data] require_review`` of ``lablink.toml``.
        settings: resolved settings; default: the active run's, else ``Settings.load``.
        record: record the version as an input of the active run (if any).
        **overrides: settings by name (``server=``, ``home=``, ``cache_dir=``, ...).

    Raises:
        InvalidInput: a malformed reference; ``validate=True`` on a version without schema.
        NotFound: no such dataset or version.
        ValidationFailed: ``validate`` and rows break the schema (``.report``); the
            version is not recorded as the run's input.
        DatasetNotApproved: ``require_review`` and the version's review is missing or
            not approved; the hint names the command that requests it.
    """
    parse_ref(ref)  # a malformed reference fails here, before any store or server is opened
    run = current()
    if settings is None:
        settings = run._settings if run is not None and not overrides else Settings.load(overrides)
    with session(settings) as (remote, cache):
        info = remote.resolve(ref)
        manifest = remote.read_manifest(cache, info)
        cache.touch([info.digest])
    review = review_gate(info.ref, settings, require_review, record and run is not None)
    found = Dataset(info, manifest, settings)
    if validate:
        found.validate(validate if isinstance(validate, str) else None)
    if record and run is not None:
        run.use("dataset", info.ref, info.digest)
        if review is not None:
            run.use("review", info.ref, review)
    return found


def review_gate(ref: str, settings: Settings, required: bool | None, recording: bool) -> str | None:
    """Enforce ``require_review`` (the argument, else ``[data] require_review``) and
    return the state a run records as its ``review`` input, or None when there is none
    to record (the version has no review and none is required).

    Raises:
        DatasetNotApproved: review required and not approved.
    """
    from lablink.checks.review_policy import ReviewPolicy, raise_unless_approved

    if required is None:
        required = ReviewPolicy.from_config(settings.project_config).require_review
    if not required and not recording:
        return None
    from lablink.errors import LablinkError
    from lablink.sdk.reviews import open_reviews

    try:
        with open_reviews(settings) as reviews:
            exact, state = reviews.state(ref)
    except LablinkError:
        if required:
            raise
        return None  # only for the run's lineage: never fail training over it
    if required:
        raise_unless_approved(exact, state)
    # A version nobody asked to review is recorded only where the rule needs reviews.
    return state or ("unreviewed" if required else None)


def add(
    path: str | Path,
    name: str,
    *,
    message: str | None = None,
    parents: Sequence[str] = (),
    version: int | None = None,
    source_command: str | None = None,
    schema: str | None = None,
    profile: bool = True,
    exclude: Sequence[str] = (),
    follow_symlinks: bool = True,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> PushResult:
    """Push a file or folder as the next version of ``name`` (see ``lablink data add``).

    Its tables (Parquet, CSV, JSON Lines) are first validated against ``schema`` (a
    registered one, ``events`` or ``events@v2``), which refuses a failing version with
    ``ValidationFailed`` before anything is uploaded, then profiled (unless ``profile``
    is False) so the profile is stored with the version. Inside a run, the run is
    recorded as the version's source. ``exclude`` leaves out files matching its globs
    or folders (``.git/``, ``*.tmp``). Symlinks are followed (those leading out of the
    folder are warned about and listed in ``outside_symlinks``) unless
    ``follow_symlinks`` is False: then they are stored as links, recreated by a pull.
    """
    from lablink.sdk.data_tables import TableCheck, check_tables
    from lablink.sdk.transfer import push

    run = current()
    settings = settings or (run._settings if run is not None else Settings.load())

    def check(tables: list[Path], unchanged: bool) -> TableCheck:
        # The same files as the latest version are that version again: nothing to
        # profile (a schema, when given, is still checked and reported).
        wanted = profile and not unchanged
        return check_tables(tables, schema, settings, profile=wanted, where=Path(path))

    with session(settings) as (remote, cache):
        return push(
            remote,
            settings.cache_dir / "hashes.db",
            Path(path),
            name,
            message=message,
            parents=parents,
            source_run=run.id if run is not None else None,
            source_command=source_command,
            version=version,
            progress=progress,
            check_tables=check,
            exclude=exclude,
            follow_symlinks=follow_symlinks,
            cache=cache,
        )


def profile(ref: str, *, settings: Settings | None = None) -> tuple[DatasetVersion, dict[str, Any]]:
    """A version and the profile of its tables (see ``lablink data profile``).

    Raises:
        NotFound: no such version, or it has no table files.
    """
    with session(settings or Settings.load()) as (remote, cache):
        version = remote.resolve(ref)
        return version, remote.read_profile(cache, version)


def drift(
    old: str,
    new: str,
    *,
    thresholds: DriftThresholds | None = None,
    settings: Settings | None = None,
) -> tuple[DatasetVersion, DatasetVersion, DriftReport]:
    """Which columns drifted from version ``old`` to ``new``, from their stored profiles.

    ``thresholds`` default to the ``[drift]`` table of ``lablink.toml``.
    """
    from lablink.checks.drift import DriftThresholds, compare_profiles

    settings = settings or Settings.load()
    if thresholds is None:
        thresholds = DriftThresholds.from_config(settings.project_config.get("drift"))
    with session(settings) as (remote, cache):
        a, b = remote.resolve(old), remote.resolve(new)
        report = compare_profiles(
            remote.read_profile(cache, a), remote.read_profile(cache, b), thresholds
        )
    return a, b, report


def diff_folder(
    ref: str,
    folder: str | Path,
    *,
    exclude: Sequence[str] = (),
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Files added, removed and changed in a local folder since version ``ref``.

    What ``lablink data add`` of the folder (with the same ``exclude``) would change.
    Files are hashed through the hash cache, so only those changed since they were last
    hashed are read.

    Raises:
        InvalidInput: a malformed reference; the folder does not exist or is empty.
        NotFound: no such dataset or version.
    """
    from lablink.core.datasets.manifest import diff
    from lablink.sdk.scan import HashCache, exclude_files, list_files, scan

    settings = settings or Settings.load()
    path = Path(folder)
    parse_ref(ref)
    listed = list_files(path)
    files = exclude_files(listed, exclude, path)
    with session(settings) as (remote, cache):
        version = remote.resolve(ref)
        manifest = remote.read_manifest(cache, version)
    hashes = HashCache.usable(settings.cache_dir / "hashes.db")
    try:
        local, _sources, _hashed = scan(path, files, hashes, listed=[p for _, p, _ in listed])
    finally:
        if hashes is not None:
            hashes.close()
    return {"old": version.ref, "new": str(path), **diff(manifest, local)}


def download(
    ref: str,
    dest: str | Path,
    *,
    link: bool = True,
    include: Sequence[str] = (),
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> PullResult:
    """Materialise a version under ``dest`` (see ``lablink data pull``).

    ``include``: only the files matching these globs or folders (``train/``, ``*.csv``).
    """
    from lablink.sdk.transfer import pull

    settings = settings or Settings.load()
    with session(settings) as (remote, cache):
        return pull(
            remote,
            cache,
            ref,
            Path(dest),
            link=link,
            include=include,
            progress=progress,
            hash_cache=settings.cache_dir / "hashes.db",
        )
