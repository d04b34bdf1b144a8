"""``lablink data``: add, list, show, pull and diff versioned datasets.

Each command parses its flags, makes one SDK call (``lablink.sdk.data``) and renders
the answer, so the commands behave the same on the embedded store and against a
server (``--server``). Transfers draw Rich progress bars on stderr, so ``--json``
output on stdout stays clean.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from lablink.cli import output
from lablink.cli.data_render import (
    BarProgress,
    print_diff,
    print_pull,
    print_push,
    print_version,
    version_table,
)
from lablink.cli.state import get_state
from lablink.errors import InvalidInput
from lablink.settings import format_size

app = typer.Typer(
    help="Versioned datasets: add a folder as a version, pull it anywhere, diff versions.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command("add")
def add(
    ctx: typer.Context,
    path: Path = typer.Argument(..., help="A file or folder to add as a version."),
    name: str = typer.Option(..., "--name", "-n", help="The dataset's name, e.g. cifar-mini."),
    message: str | None = typer.Option(None, "--message", "-m", help="What changed and why."),
    parents: list[str] = typer.Option(
        [], "--from", help="A version this one was made from (repeatable), e.g. cifar-raw@v2."
    ),
    version: int | None = typer.Option(
        None, "--version", help="Expect this version number (an error if it is taken)."
    ),
    schema: str | None = typer.Option(
        None,
        "--schema",
        "-s",
        help="Validate every table file against this registered schema first (events, "
        "events@v2); a failing version is refused with the report.",
    ),
    profile: bool = typer.Option(
        True, "--profile/--no-profile", help="Store a profile of the table files (for drift)."
    ),
    exclude: list[str] = typer.Option(
        [],
        "--exclude",
        "-x",
        help="Leave out files matching this glob on the path (*.tmp) or under this folder "
        "(.git/); repeatable.",
    ),
    follow_symlinks: bool = typer.Option(
        True,
        "--follow-symlinks/--no-follow-symlinks",
        help="Add what symlinks point to (the default, warning about links out of the "
        "folder), or store them as links that a pull recreates.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a file or folder tree as the next version of a dataset (uploads only new files).

    Table files (.parquet, .csv, .jsonl) are profiled and the profile is stored with the
    version, so `lablink data drift` compares versions without reading their data.
    """
    from lablink.errors import ValidationFailed
    from lablink.sdk.data import add as add_version

    settings = get_state(ctx).settings
    # What was asked, rebuilt from the parsed flags (sys.argv may be a wrapper's).
    words = ["lablink", "data", "add", str(path), "--name", name]
    words += ["-m", message] if message else []
    words += [w for parent in parents for w in ("--from", parent)]
    words += ["--schema", schema] if schema else []
    words += [w for pattern in exclude for w in ("--exclude", pattern)]
    words += [] if follow_symlinks else ["--no-follow-symlinks"]
    command = shlex.join(words)
    try:
        with BarProgress(enabled=not as_json) as progress:
            result = add_version(
                path,
                name,
                message=message,
                parents=parents,
                version=version,
                source_command=command,
                schema=schema,
                profile=profile,
                exclude=exclude,
                follow_symlinks=follow_symlinks,
                settings=settings,
                progress=progress,
            )
    except ValidationFailed as failed:
        if as_json:
            output.print_json({"error": failed.to_dict()["error"]})
            raise typer.Exit(1) from None
        from lablink.cli.schema import print_report

        print_report(failed.report)
        raise
    if as_json:
        body = {"version": result.version.to_dict(), "created": result.created}
        body["outside_symlinks"] = [
            {"path": rel, "target": real} for rel, real in result.outside_symlinks
        ]
        if result.tables is not None and result.tables.report is not None:
            body["validation"] = result.tables.report.to_dict()
        output.print_json(body)
        return
    flags = {"-m": message, "--from": parents, "--version": version, "--schema": schema}
    print_push(output.console(), result, [flag for flag, value in flags.items() if value])


@app.command("profile")
def profile_command(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="A version: name, name@v3, name@latest or a digest."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Per-column statistics of a version's tables, stored when it was added."""
    from lablink.cli.profile_render import print_profile
    from lablink.sdk.data import profile

    version, found = profile(ref, settings=get_state(ctx).settings)
    if as_json:
        output.print_json({"version": version.to_dict(), "profile": found})
        return
    print_profile(output.console(), version, found)


@app.command("drift")
def drift_command(
    ctx: typer.Context,
    old: str = typer.Argument(..., help="The baseline version, e.g. events-clean@v2."),
    new: str = typer.Argument(..., help="The version to compare, e.g. events-clean@v3."),
    threshold_from: Path | None = typer.Option(
        None,
        "--threshold-from",
        help="A TOML file whose [drift] table sets the thresholds "
        "(default: the [drift] table of the project's lablink.toml).",
    ),
    check: bool = typer.Option(False, "--check", help="Exit 1 when any column drifted."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Which columns drifted between two versions, from their stored profiles.

    KS and PSI for numbers, chi-square and Jensen-Shannon for categories.
    """
    from lablink.checks.drift import DriftThresholds
    from lablink.cli.profile_render import print_drift
    from lablink.sdk.data import drift

    settings = get_state(ctx).settings
    thresholds = (
        DriftThresholds.from_config(_drift_table(threshold_from), str(threshold_from))
        if threshold_from is not None
        else None  # the project's lablink.toml
    )
    a, b, report = drift(old, new, thresholds=thresholds, settings=settings)
    body = report.to_dict()
    if as_json:
        output.print_json({"old": a.ref, "new": b.ref, **body})
    else:
        print_drift(output.console(), a, b, body)
    if check and report.drifted:
        raise typer.Exit(1)


def _drift_table(path: Path) -> object:
    import tomllib

    from lablink.errors import InvalidInput

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh).get("drift")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"cannot read thresholds from {path}: {exc}") from None


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """List datasets with their latest version."""
    from lablink.sdk.data import session

    with session(get_state(ctx).settings) as (remote, _cache):
        found = remote.list_datasets()
    if as_json:
        import dataclasses

        output.print_json({"datasets": [dataclasses.asdict(d) for d in found]})
        return
    out = output.console()
    if not found:
        out.print("no datasets yet: add one with `lablink data add PATH --name NAME`")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("name", "latest", "versions", "files", "size", "updated", "by"):
        table.add_column(column, justify="right" if column in ("files", "size") else "left")
    for d in found:
        table.add_row(
            Text(d.name, style="cyan"),
            f"v{d.latest}",
            str(d.versions),
            str(d.files),
            format_size(d.size),
            output.fmt_ago(d.updated_at),
            d.created_by,
        )
    out.print(table)


@app.command("log")
def log(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The dataset's name."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List a dataset's versions, newest first, with aliases, messages and lineage."""
    from lablink.sdk.data import session

    with session(get_state(ctx).settings) as (remote, _cache):
        versions = remote.log(name)
        aliases = remote.aliases(name)["aliases"]
    if as_json:
        body = {"dataset": name, "versions": [v.to_dict() for v in versions], "aliases": aliases}
        output.print_json(body)
        return
    by_version: dict[int, list[str]] = {}
    for a in aliases:
        by_version.setdefault(a["version"], []).append(a["alias"])
    output.console().print(version_table(versions, by_version))


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(
        ..., help="A version: name, name@v3, name@latest, name@ALIAS or a digest."
    ),
    files: bool = typer.Option(False, "--files", "-f", help="List every file."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a version: size, files, digest, aliases, message, who made it and from what."""
    from lablink.sdk.data import session

    with session(get_state(ctx).settings) as (remote, cache):
        version = remote.resolve(ref)
        manifest = remote.read_manifest(cache, version)
        listed = remote.aliases(version.dataset)["aliases"]
    aliases = [a["alias"] for a in listed if a["version"] == version.version]
    if as_json:
        files_out = [f.to_dict() for f in manifest.files]
        body = {
            "version": version.to_dict(),
            "aliases": aliases,
            "algorithm": manifest.algorithm,
            "files": files_out,
        }
        output.print_json(body)
        return
    print_version(output.console(), version, manifest, list_files=files, aliases=aliases)


@app.command("alias")
def alias(
    ctx: typer.Context,
    ref: str = typer.Argument(
        ..., help="The version to alias: name@v7 (or a digest prefix, or another alias)."
    ),
    name: str = typer.Argument(..., help="The alias: a word such as prod or best."),
    delete: bool = typer.Option(
        False, "--delete", "-d", help="Remove the alias instead (REF may be just the name)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Point an alias at a dataset version, so name@ALIAS means it (moves are recorded).

    `lablink data alias images@v7 prod` makes `images@prod` resolve to v7, in `data
    show/pull` and `lablink.dataset("images@prod")`; setting it again moves it.
    """
    from lablink.core.datasets.refs import parse_ref
    from lablink.sdk.data import session

    parsed = parse_ref(ref)
    if parsed.name is None:
        raise InvalidInput(f"name the dataset: {ref!r} is a bare digest", "write images@v7")
    if not delete and parsed.latest and "@" not in ref:
        raise InvalidInput(f"name the version to alias: {ref}@v<N>", f"for example {ref}@v1 {name}")
    with session(get_state(ctx).settings) as (remote, _cache):
        if delete:
            answer = remote.delete_alias(parsed.name, name)
        else:
            answer = remote.set_alias(parsed.name, ref.partition("@")[2] or "latest", name)
    if as_json:
        output.print_json(answer)
        return
    dataset = answer["dataset"]
    if delete:
        output.console().print(f"removed {dataset}@{name} (was v{answer['previous']})")
        return
    moved = f" (moved from v{answer['previous']})" if answer["previous"] is not None else ""
    output.console().print(f"{dataset}@{name} -> v{answer['version']}{moved}")


@app.command("pull")
def pull(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="A version: name, name@v3, name@latest or a digest."),
    to: Path | None = typer.Option(
        None, "--to", "-o", help="Folder to put the files in (default: ./NAME, the dataset's name)."
    ),
    copy: bool = typer.Option(False, "--copy", help="Copy files instead of hardlinking them."),
    include: list[str] = typer.Option(
        [],
        "--include",
        "-i",
        help="Only files matching this glob on the path (train/*.png, *.csv) or under this "
        "folder (train/); repeatable.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Put a version's files in a folder: fetched into the cache, then hardlinked.

    Resumable: files already cached are not fetched again. With --include, only the
    matching files are fetched and placed.
    """
    from lablink.core.datasets.refs import parse_ref
    from lablink.sdk.data import download

    parsed = parse_ref(ref)
    dest = to or Path(parsed.name or "dataset")
    settings = get_state(ctx).settings
    with BarProgress(enabled=not as_json) as progress:
        result = download(
            ref, dest, link=not copy, include=include, settings=settings, progress=progress
        )
    if as_json:
        output.print_json(
            {
                "version": result.version.to_dict(),
                "to": str(result.dest),
                "files": result.files,
                "fetched_blobs": result.fetch.blobs,
                "fetched_bytes": result.fetch.bytes,
                "linked": result.materialised.linked,
                "copied": result.materialised.copied,
                "unchanged": result.materialised.unchanged,
                "corrupt": [{"endpoint": u, "digest": d} for u, d in result.fetch.corrupt],
                "failovers": [{"endpoint": u, "reason": r} for u, r in result.fetch.failovers],
            }
        )
        return
    print_pull(output.console(), result)


@app.command("diff")
def diff(
    ctx: typer.Context,
    old: str = typer.Argument(..., help="The older version, e.g. cifar-mini@v2."),
    new: str = typer.Argument(
        ..., help="The newer version, e.g. cifar-mini@v3, or a local folder (./data/cifar-mini)."
    ),
    exclude: list[str] = typer.Option(
        [], "--exclude", "-x", help="With a folder: leave out files as `data add --exclude` does."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Files added, removed and changed between two versions, or in a local folder.

    NEW is a local folder when it contains a / (dataset names never do), e.g.
    ./cifar-mini: the diff says what adding it would change, and only files changed
    since they were last hashed are read.
    """
    from lablink.sdk.data import diff_folder, session

    settings = get_state(ctx).settings
    if "/" in new or "\\" in new:
        changes = diff_folder(old, Path(new), exclude=exclude, settings=settings)
    else:
        with session(settings) as (remote, _cache):
            changes = remote.diff(old, new)
    if as_json:
        output.print_json(changes)
        return
    print_diff(output.console(), changes)


@app.command("used-by")
def used_by(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="A version, e.g. cifar-mini@v3."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Runs that read a version, and versions made from it."""
    from lablink.sdk.data import session

    with session(get_state(ctx).settings) as (remote, _cache):
        lineage = remote.used_by(ref)
    if as_json:
        output.print_json(lineage)
        return
    out = output.console()
    out.print(f"[bold]{lineage['version']['ref']}[/] is used by")
    if not lineage["runs"] and not lineage["versions"]:
        out.print("  nothing yet")
    for run in lineage["runs"]:
        status = output.status_text(run["status"])
        out.print(Text.assemble("  run ", (run["id"], "cyan"), f" {run['name']} ", status))
    for version in lineage["versions"]:
        out.print(Text.assemble("  version ", (version["ref"], "cyan")))


@app.command("endpoints")
def endpoints(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Probe the data endpoints and list them nearest first (what pulls will use)."""
    settings = get_state(ctx).settings
    if not settings.server:
        output.console().print("embedded store: files are read from " + settings.blobs)
        return
    from lablink.sdk.endpoints import Endpoints
    from lablink.sdk.wire import auth_headers

    urls = settings.data_endpoints or (settings.server,)
    eps = Endpoints(urls, settings.cache_dir / "endpoints.json", auth_headers(settings))
    try:
        latencies = eps.probe()
        order = eps.ordered()
    finally:
        eps.close()
    rows = [{"url": u, "latency_ms": _ms(latencies.get(u))} for u in order]
    if as_json:
        output.print_json({"endpoints": rows})
        return
    for row in rows:
        ms = row["latency_ms"]
        output.console().print(f"{row['url']}  " + (f"{ms} ms" if ms is not None else "down"))


@app.command("cache")
def cache(
    ctx: typer.Context,
    prune: str | None = typer.Option(
        None, "--prune", help="Evict least recently used blobs down to this size, e.g. 5GB."
    ),
    clear: bool = typer.Option(False, "--clear", help="Evict every blob (same as --prune 0)."),
    tidy: bool = typer.Option(
        False,
        "--tidy",
        help="Forget the hashes of files that are gone (--prune and --clear do too).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the client cache (where, how full) and the hash cache; prune, clear or tidy.

    Pulled folders keep their files: they are hardlinks, so evicting a blob frees its
    disk only once no pulled copy links to it. The next pull fetches what it needs again.
    """
    from lablink.sdk.cache import ClientCache
    from lablink.sdk.scan import HashCache
    from lablink.settings import parse_size

    settings = get_state(ctx).settings
    if clear and prune is not None:
        raise InvalidInput("give --prune SIZE or --clear, not both")
    limit = 0 if clear else None
    if prune is not None:
        try:
            limit = parse_size(prune)
        except ValueError:
            raise InvalidInput(
                f"{prune!r} is not a size", "sizes look like 5GB, 512MiB or 0"
            ) from None
    store = ClientCache(settings.cache_dir, settings.cache_size)
    try:
        before = store.usage()
        evicted = store.evict(limit=limit) if limit is not None else []
        used, blobs = store.usage(), store.count()
    finally:
        store.close()
    hashes = HashCache.usable(settings.cache_dir / "hashes.db")  # None: warned why
    forgotten = files = hash_bytes = 0
    if hashes is not None:
        try:
            if tidy or limit is not None:
                forgotten = hashes.forget_gone()
            files, hash_bytes = hashes.count(), hashes.size()
        finally:
            hashes.close()
    if as_json:
        output.print_json(
            {
                "path": str(settings.cache_dir),
                "bytes": used,
                "blobs": blobs,
                "limit": settings.cache_size,
                "evicted_blobs": len(evicted),
                "freed_bytes": before - used,
                "hashed_files": files,
                "hash_cache_bytes": hash_bytes,
                "forgotten_hashes": forgotten,
            }
        )
        return
    out = output.console()
    out.print(
        f"{settings.cache_dir}: {format_size(used)} in {blobs} blobs "
        f"(limit {format_size(settings.cache_size)})"
    )
    if hashes is not None:
        out.print(f"hash cache: {files} files ({format_size(hash_bytes)})")
    if limit is not None:
        out.print(f"evicted {len(evicted)} blobs ({format_size(before - used)})")
    if tidy or limit is not None:
        out.print(f"forgot the hashes of {forgotten} files that are gone")


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
