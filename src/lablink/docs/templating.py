"""The Jinja2 templates of the lab docs, which a team may override in its repository.

Each page is a template under ``lablink/docs/templates``; a file of the same name in the
docs folder's ``templates/`` (``docs/lab/templates/model_card.md.j2``) replaces it. The
renderers (``cards.py``, ``experiments.py``, ...) compute the tables and lists a page
shows and pass them, with the records they came from, as the template's context.

Templates run in Jinja2's sandbox: a pull request that edits a template runs in CI with
the store's token, and must not reach Python's internals from there.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lablink.docs.markdown import HEADER, date, fmt_value, keep, table
from lablink.errors import InvalidInput
from lablink.settings import format_size

OVERRIDES = "templates"  # inside the docs folder


class Templates:
    """Renders the docs' pages, a repository's own templates first."""

    def __init__(self, override: Path | None = None) -> None:
        import jinja2  # here, not above: every CLI command imports this module's callers
        from jinja2.sandbox import SandboxedEnvironment

        loaders: list[jinja2.BaseLoader] = []
        if override is not None and override.is_dir():
            loaders.append(jinja2.FileSystemLoader(override))
        loaders.append(jinja2.PackageLoader("lablink.docs", "templates"))
        self.override = override
        self.env = SandboxedEnvironment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,  # a misspelt name is an error, not a blank
            autoescape=False,  # Markdown, not HTML
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(keep=keep, table=table, fmt=fmt_value, date=date, size=format_size)

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """The page from template ``name`` (``model_card.md.j2``), with the generated marker.

        Raises:
            InvalidInput: the template does not parse or fails while rendering; the
                message names its file and line.
        """
        import jinja2

        try:
            body = self.env.get_template(name).render(context)
        except jinja2.TemplateSyntaxError as err:
            raise InvalidInput(
                f"template {self._where(name)} line {err.lineno}: {err.message}",
                "fix the template, or delete it to use lablink's own",
            ) from None
        except (jinja2.TemplateError, TypeError, ValueError, LookupError) as err:
            raise InvalidInput(
                f"template {self._where(name)} failed: {err}",
                f"the names a page's template gets are listed in docs/docs-as-code.md; "
                f"lablink's own {name} is a starting point",
            ) from None
        return f"{HEADER}\n\n{body.strip()}\n"

    def _where(self, name: str) -> str:
        if self.override is not None and (self.override / name).is_file():
            return str(self.override / name)
        return f"lablink's {name}"
