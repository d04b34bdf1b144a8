"""The docs cover every command and setting, and their generated parts are fresh."""

from __future__ import annotations

import re
from pathlib import Path

import typer

from lablink.cli import reference
from lablink.cli.main import app
from lablink.settings import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


def test_every_command_is_in_docs_cli() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    names = [name for name, _ in reference.iter_commands(typer.main.get_command(app))]
    assert len(names) >= 10
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"docs/cli.md lacks {missing}; run `make docs`"


def test_every_setting_is_in_docs_settings() -> None:
    text = (DOCS / "settings.md").read_text(encoding="utf-8")
    missing = [key.name for key in SETTINGS if f"`{key.name}`" not in text or key.env not in text]
    assert not missing, f"docs/settings.md lacks {missing}; run `make docs`"


def test_generated_reference_is_fresh() -> None:
    for name, build in reference.DOCS.items():
        text = (DOCS / name).read_text(encoding="utf-8")
        assert reference.generated_block(text) == build(), f"docs/{name} is stale: `make docs`"


def test_readme_names_the_two_commands_and_the_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    for link in re.findall(r"\]\(([^)#]+\.md)\)", readme):
        assert (ROOT / link).is_file(), f"README links to a missing {link}"


def test_ci_runs_the_readme_test_command() -> None:
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nmake test\n" in script and "\nmake lint\n" in script


def test_makefile_test_target_runs_parallel_then_serial() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert '-n $(PYTEST_WORKERS) -m "not serial"' in makefile and "-m serial" in makefile
    assert "PYTEST_WORKERS ?=" in makefile


def test_reference_check_mode(tmp_path: Path) -> None:
    for name in reference.DOCS:
        (tmp_path / name).write_text(f"# {name}\n{reference.BEGIN}\nold\n{reference.END}\n")
    assert reference.main(["--check", "--docs", str(tmp_path)]) == 1
    assert reference.main(["--write", "--docs", str(tmp_path)]) == 0
    assert reference.main(["--check", "--docs", str(tmp_path)]) == 0
