"""Aliases of dataset versions: ``lablink data alias images@v7 prod`` makes ``images@prod``.

An alias is a movable name for one version of one dataset. Every move is recorded with
who made it and when; references (``lablink.dataset("images@prod")``) resolve through
``Datasets.resolve``, which reads the alias at that moment.
"""

from __future__ import annotations

from lablink.core.datasets.refs import check_alias, check_name, parse_ref
from lablink.core.datasets.versions import Datasets
from lablink.errors import InvalidInput
from lablink.models import DatasetVersion
from lablink.store.dataset_aliases_sql import AliasMove, AliasRow, DatasetAliasSql
from lablink.store.sql import SqlStore


class DatasetAliases:
    """Set, delete and list the aliases of dataset versions."""

    def __init__(self, store: SqlStore, datasets: Datasets) -> None:
        self.sql = DatasetAliasSql(store)
        self.datasets = datasets

    def set(self, actor: str, ref: str, alias: object) -> tuple[DatasetVersion, int | None]:
        """Point ``alias`` at the version ``ref`` names (``images@v7``, or another alias);
        answers the version and the number the alias pointed at before (None: new).

        Raises:
            InvalidInput: a bad reference or alias (one that reads as a version, a digest
                or ``latest``).
            NotFound: no such dataset or version.
        """
        name = check_alias(alias)
        parsed = parse_ref(ref)
        if parsed.name is None:
            raise InvalidInput(
                f"name the dataset: {ref!r} is a bare digest", "write images@v7 or images@<hex>"
            )
        version = self.datasets.resolve(parsed)
        return version, self.sql.move(version.dataset, name, version.version, actor)

    def delete(self, actor: str, dataset: str, alias: object) -> int:
        """Remove an alias; answers the version it pointed at. Raises ``NotFound``."""
        previous = self.sql.move(check_name(dataset), check_alias(alias), None, actor)
        assert previous is not None  # move raises NotFound for an alias not set
        return previous

    def of(self, dataset: str) -> list[AliasRow]:
        """A dataset's aliases, by name."""
        return self.sql.aliases(check_name(dataset))

    def moves(self, dataset: str) -> list[AliasMove]:
        """The latest moves of a dataset's aliases, newest first."""
        return self.sql.moves(check_name(dataset))
