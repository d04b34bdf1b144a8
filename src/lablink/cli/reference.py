"""Generate the reference parts of ``docs/cli.md`` and ``docs/settings.md``.

The CLI reference is built from the Typer app's own commands and parameters, and the
settings table from ``lablink.settings.SETTINGS``, so neither can drift: a test
compares the files with this output. Regenerate with ``make docs`` (that is,
``python -m lablink.cli.reference --write``).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from lablink.settings import SETTINGS

BEGIN = "<!-- BEGIN GENERATED: python -m lablink.cli.reference --write -->"
END = "<!-- END GENERATED -->"


def iter_commands(group: Any, prefix: str = "lablink") -> Iterator[tuple[str, Any]]:
    """Every command of a Click/Typer group, depth first, with its full name.

    A sub-group is listed itself only when it takes options of its own (a group that
    runs without a sub-command, like ``lablink gate``).
    """
    for name in sorted(group.commands):
        command = group.commands[name]
        full = f"{prefix} {name}"
        if hasattr(command, "commands"):
            if any(p.name != "help" for p in command.params):
                yield full, command
            yield from iter_commands(command, full)
        else:
            yield full, command


def root_command() -> Any:
    """The Click command behind the ``lablink`` Typer app."""
    from lablink.cli.main import app

    return typer.main.get_command(app)


def _option_names(param: Any) -> str:
    names = [*param.opts, *param.secondary_opts]
    return ", ".join(f"`{n}`" for n in names)


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|").replace("<", "\\<")


def _default(param: Any) -> str:
    default = param.default
    if default is None or default is False or default == () or default == []:
        return ""
    if default is True and getattr(param, "secondary_opts", None):
        return f"`{param.opts[0]}`"
    return f"`{default}`"


def command_markdown(name: str, command: Any) -> str:
    """One command: summary, usage, arguments and options."""
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option"]
    usage = name + (" [OPTIONS]" if options else "")
    for arg in arguments:
        label = arg.name.upper() + ("..." if arg.nargs == -1 else "")
        usage += f" {label}" if arg.required else f" [{label}]"
    lines = [f"### `{name}`", "", _cell(command.help), "", "```", usage, "```", ""]
    if arguments or options:
        lines += ["| argument or option | default | description |", "|---|---|---|"]
        for arg in arguments:
            lines.append(f"| `{arg.name.upper()}` | | {_cell(getattr(arg, 'help', ''))} |")
        for opt in options:
            lines.append(f"| {_option_names(opt)} | {_default(opt)} | {_cell(opt.help)} |")
        lines.append("")
    return "\n".join(lines)


def cli_reference() -> str:
    """The generated block of ``docs/cli.md``: global options, then every command."""
    root = root_command()
    lines = ["## Reference", "", "### Global options (before the command)", ""]
    lines += ["| option | description |", "|---|---|"]
    for opt in root.params:
        if opt.param_type_name == "option" and opt.help and "--help" not in opt.opts:
            lines.append(f"| {_option_names(opt)} | {_cell(opt.help)} |")
    lines.append("")
    for name, command in iter_commands(root):
        lines.append(command_markdown(name, command))
    return "\n".join(lines).rstrip() + "\n"


def settings_reference() -> str:
    """The generated block of ``docs/settings.md``: one row per declared setting."""
    lines = [
        "| key | environment variable | default | description |",
        "|---|---|---|---|",
    ]
    for key in SETTINGS:
        default = "" if key.default is None else f"`{key.default}`"
        lines.append(f"| `{key.name}` | `{key.env}` | {default} | {_cell(key.help)} |")
    return "\n".join(lines) + "\n"


def splice(text: str, generated: str) -> str:
    """Replace what lies between the BEGIN and END markers of ``text``."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{generated}{END}{tail}"


def generated_block(text: str) -> str:
    """What lies between the markers now (empty when they are missing)."""
    if BEGIN not in text or END not in text:
        return ""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].lstrip("\n")


DOCS = {"cli.md": cli_reference, "settings.md": settings_reference}


def main(argv: list[str]) -> int:
    """``--write`` refreshes the docs in ``docs/``; ``--check`` fails when they are stale."""
    docs = Path(argv[argv.index("--docs") + 1]) if "--docs" in argv else Path("docs")
    stale = []
    for name, build in DOCS.items():
        path = docs / name
        text = path.read_text(encoding="utf-8")
        if generated_block(text) != build():
            stale.append(name)
            if "--write" in argv:
                path.write_text(splice(text, build()), encoding="utf-8")
    if stale and "--check" in argv:
        sys.stderr.write(f"stale: {', '.join(stale)}; run `make docs`\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
