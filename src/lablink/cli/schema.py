"""``lablink schema`` (infer, register, check, ls, show, diff) and ``lablink validate``.

Each command parses its arguments, calls one registry operation and renders the result.
The registry is reached like everything else: embedded (``core.schemas.Schemas`` over
the store) or, with ``--server``, over the REST API; both give the same JSON, which
``--json`` prints as it is. ``check`` and ``validate`` exit 1 when they find a problem.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from lablink.cli import output
from lablink.cli.state import get_state
from lablink.errors import InvalidInput

app = typer.Typer(
    help="Versioned table schemas with compatibility rules (Frictionless Table Schema).",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
JSON_FLAG = typer.Option(False, "--json", help="Print JSON instead of text.")


class _Direct:
    """The registry in the embedded store; answers in the REST API's JSON shapes."""

    def __init__(self, settings: Any) -> None:
        from lablink.core.schemas import Schemas
        from lablink.store import open_store

        self.settings = settings
        self.store = open_store(settings.db, durability=settings.durability)
        self.schemas = Schemas(self.store)

    def call(self, op: str, **kw: Any) -> Any:
        import dataclasses

        from lablink.core.schemas import version_to_dict

        s = self.schemas
        if op == "register":
            version, created = s.register(kw["subject"], kw["text"], self.settings.user, compat_mode=kw["compat"], description=kw["description"], version=kw["version"])  # fmt: skip
            return {**version_to_dict(version), "created": created}
        if op == "check":
            return s.check(kw["subject"], kw["text"], kw["compat"]).to_dict()
        if op == "ls":
            return {"subjects": [dataclasses.asdict(x) for x in s.subjects()]}
        if op == "subject":
            versions = [version_to_dict(v) for v in s.versions(kw["subject"])]
            return {**dataclasses.asdict(s.subject(kw["subject"])), "versions": versions}
        if op == "get":
            return version_to_dict(s.get(kw["ref"]))
        return s.diff(kw["a"], kw["b"])

    def close(self) -> None:
        self.store.close()


class _Remote:
    """The registry on a lablink server."""

    def __init__(self, settings: Any) -> None:
        from lablink.sdk.api import ApiClient

        self.api = ApiClient(settings)

    def call(self, op: str, **kw: Any) -> Any:
        from lablink.core.schemas import parse_ref

        api = self.api
        if op in ("register", "check"):
            body = {"text": kw["text"], "compat": kw["compat"]}
            if op == "register":
                body.update(description=kw["description"], version=kw["version"])
            path = "versions" if op == "register" else "check"
            return api.json("POST", f"/schemas/{kw['subject']}/{path}", json=body)
        if op == "ls":
            return api.json("GET", "/schemas")
        if op == "subject":
            return api.json("GET", f"/schemas/{kw['subject']}")
        if op == "get":
            subject, version = parse_ref(kw["ref"])
            return api.json("GET", f"/schemas/{subject}/versions/{version or 'latest'}")
        subject, _ = parse_ref(kw["a"])
        return api.json("GET", f"/schemas/{subject}/diff", params={"from": kw["a"], "to": kw["b"]})

    def close(self) -> None:
        self.api.close()


@contextlib.contextmanager
def _registry(ctx: typer.Context) -> Iterator[_Direct | _Remote]:
    settings = get_state(ctx).settings
    registry = _Remote(settings) if settings.server else _Direct(settings)
    try:
        yield registry
    finally:
        registry.close()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read {path}: {exc}", "schema files are UTF-8 text") from None


@app.command("infer")
def infer(
    files: list[Path] = typer.Argument(..., help="Parquet, CSV or JSON Lines files or folders."),
    name: str | None = typer.Option(None, "--name", help="Name written into the schema."),
    fmt: str = typer.Option("yaml", "--format", help="yaml or json."),
) -> None:
    """Infer a schema (types, nullability, ranges, categories) for a person to edit."""
    from lablink.checks.infer import infer_files
    from lablink.checks.schema_format import dump_schema

    if fmt not in ("yaml", "json"):
        raise InvalidInput(f"unknown format {fmt!r}", "use --format yaml or --format json")
    sys.stdout.write(dump_schema(infer_files(files, name), fmt))


@app.command("register")
def register(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="Subject, e.g. events (or events@v3 to insist on v3)."),
    file: Path = typer.Argument(..., help="The schema file (YAML or JSON)."),
    compat: str | None = typer.Option(
        None, "--compat", help="Mode: none, backward, forward, full, or *_transitive."
    ),
    description: str | None = typer.Option(None, "--description", "-m", help="What changed."),
    as_json: bool = JSON_FLAG,
) -> None:
    """Register a schema as the next immutable version of SUBJECT."""
    from lablink.core.schemas import parse_ref

    name, version = parse_ref(subject)
    with _registry(ctx) as registry:
        found = registry.call("register", subject=name, text=_read(file), compat=compat, description=description, version=version)  # fmt: skip
    if as_json:
        output.print_json(found)
    elif found["created"]:
        output.console().print(f"registered [bold]{found['ref']}[/] ({found['compat']})")
    else:
        output.console().print(f"{found['ref']} unchanged: the schema equals the latest version")


@app.command("check")
def check(
    ctx: typer.Context,
    subject: str = typer.Argument(..., help="Registered subject to check against."),
    file: Path = typer.Argument(..., help="The candidate schema file."),
    compat: str | None = typer.Option(None, "--compat", help="Check under this mode instead."),
    as_json: bool = JSON_FLAG,
) -> None:
    """Would FILE register under SUBJECT? Names each break; exits 1 if any."""
    with _registry(ctx) as registry:
        found = registry.call("check", subject=subject, text=_read(file), compat=compat)
    if as_json:
        output.print_json(found)
    else:
        out = output.console()
        against = ", ".join(f"v{v}" for v in found["against"]) or "nothing"
        if found["compatible"]:
            out.print(f"[green]compatible[/] ({found['mode']}, checked against {against})")
        else:
            out.print(f"[bold red]incompatible[/] ({found['mode']}, checked against {against}):")
            for b in found["breaks"]:
                out.print(
                    f"  v{b['against']} {b['direction']:<8} [red]{b['rule']}[/] {escape(b['message'])}"
                )
    if not found["compatible"]:
        raise typer.Exit(1)


@app.command("ls")
def ls(ctx: typer.Context, as_json: bool = JSON_FLAG) -> None:
    """List subjects with their mode and latest version."""
    with _registry(ctx) as registry:
        found = registry.call("ls")
    if as_json:
        output.print_json(found["subjects"])
        return
    if not found["subjects"]:
        output.console().print("no schemas yet; register one with `lablink schema register`")
        return
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("subject", "latest", "versions", "compat", "updated"):
        table.add_column(column)
    for s in found["subjects"]:
        table.add_row(
            s["name"],
            f"v{s['latest']}",
            str(s["versions"]),
            s["compat"],
            output.fmt_ago(s["updated_at"]),
        )
    output.console().print(table)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., help="events@v2, or events for the latest version."),
    as_json: bool = JSON_FLAG,
) -> None:
    """Show a version as YAML (`--json`: the stored record)."""
    from lablink.checks.schema_format import dump_schema, schema_from_dict

    with _registry(ctx) as registry:
        found = registry.call("get", ref=ref)
    if as_json:
        output.print_json(found)
        return
    out = output.console()
    note = f" · {found['description']}" if found.get("description") else ""
    out.print(
        f"[bold]{found['ref']}[/] ({found['compat']}) by {found['created_by']}, {output.fmt_time(found['created_at'])}{escape(note)}"
    )
    sys.stdout.write(dump_schema(schema_from_dict(found["schema"], found["ref"])))


@app.command("diff")
def diff(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="The old version, e.g. events@v1."),
    b: str = typer.Argument(..., help="The new version, e.g. events@v2."),
    as_json: bool = JSON_FLAG,
) -> None:
    """What changed between two versions, and which changes break compatibility."""
    with _registry(ctx) as registry:
        found = registry.call("diff", a=a, b=b)
    if as_json:
        output.print_json(found)
        return
    out = output.console()
    out.print(f"[bold]{found['from']} → {found['to']}[/]")
    for f in found["added"]:
        out.print(f"[green]+ {escape(f['name'])}[/] ({f['type']})")
    for name in found["removed"]:
        out.print(f"[red]- {escape(name)}[/]")
    for c in found["changed"]:
        for ch in c["changes"]:
            out.print(
                f"[yellow]~ {escape(c['field'])}.{ch['key']}[/]: {ch['from']!r} → {ch['to']!r}"
            )
    for ch in found["table"]:
        out.print(f"[yellow]~ {ch['key']}[/]: {ch['from']!r} → {ch['to']!r}")
    for direction in ("backward", "forward"):
        breaks = found[direction]
        verdict = "[green]compatible[/]" if not breaks else f"[red]{len(breaks)} break(s)[/]"
        out.print(f"{direction}: {verdict}")
        for br in breaks:
            out.print(f"  [red]{br['rule']}[/] {escape(br['message'])}")


def validate_command(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Parquet, CSV or JSON Lines files or folders."),
    schema: str = typer.Option(
        ..., "--schema", "-s", help="events@v2, events (latest) or a schema file."
    ),
    report: Path | None = typer.Option(None, "--report", help="Also write a Markdown report here."),
    as_json: bool = JSON_FLAG,
    batch_rows: int = typer.Option(1_000_000, "--batch-rows", min=1, help="Rows per batch read."),
) -> None:
    """Validate files against a schema, streaming; exits 1 on any violation."""
    from lablink.sdk.tables import validate

    found = validate(
        [str(f) for f in files], schema, settings=get_state(ctx).settings, batch_rows=batch_rows
    )
    if report is not None:
        report.write_text(found.to_markdown(), encoding="utf-8")
    if as_json:
        output.print_json(found.to_dict())
    else:
        print_report(found)
    if not found.ok:
        raise typer.Exit(1)


def print_report(found: Any) -> None:
    """A validation report: the verdict, then each failed rule with example rows."""
    from lablink.checks.validation_report import location

    out = output.console()
    out.print(("[green]" if found.ok else "[bold red]") + escape(found.summary()) + "[/]")
    if found.extra_columns:
        out.print(f"columns not in the schema (ignored): {escape(', '.join(found.extra_columns))}")
    for f in found.failures:
        share = "" if f.share is None else f" ({f.share:.2%})"
        out.print(
            f"  [red]{f.rule}[/] {escape(f.column or 'table')}: {f.count:,} rows{share}: {escape(f.message)}"
        )
        for ex in f.examples:
            extra = f" repeats {location(ex['repeats'])}" if "repeats" in ex else ""
            out.print(f"      {escape(location(ex))}: {escape(repr(ex.get('value')) + extra)}")
