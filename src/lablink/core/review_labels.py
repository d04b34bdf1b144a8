"""The label-quality check of the review report: likely label errors through cleanlab.

Optional: it runs when predicted probabilities are given and ``cleanlab`` is installed
(``pip install 'lablink[review]'``). The probabilities are one row per table row, in
the order the report reads the tables (files by path, rows in order), one column per
class: a ``.npy`` array (classes in sorted label order) or a ``.csv``/``.parquet``
table whose column names are the classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lablink.core.review_files import local_copy
from lablink.core.review_leakage import Check, Flag, check
from lablink.core.review_tables import TableScan
from lablink.errors import InvalidInput
from lablink.settings import ReviewThresholds

if TYPE_CHECKING:
    from lablink.core.datasets.manifest import FileEntry
    from lablink.core.review_context import ReviewLab
    from lablink.core.review_options import ReviewOptions

EXTRA = "pip install 'lablink[review]'"


def cleanlab_check(
    lab: ReviewLab,
    options: ReviewOptions,
    entry: FileEntry | None,
    tables: TableScan,
    t: ReviewThresholds,
    flagged: list[Flag],
) -> Check:
    """Rows whose given label the model's probabilities call into doubt."""
    if options.probabilities is None:
        return check(
            "labels.cleanlab", "skip", "no predicted probabilities given (--probabilities FILE)"
        )
    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        return check("labels.cleanlab", "skip", f"cleanlab is not installed: {EXTRA}")
    import polars as pl

    if entry is not None:
        with local_copy(lab.blobs, entry.digest) as local:
            probs, classes = read_probabilities(local, Path(entry.path).suffix)
    else:
        probs, classes = read_probabilities(
            Path(options.probabilities), Path(options.probabilities).suffix
        )
    labels = (
        pl.concat(tables.label_values) if tables.label_values else pl.Series([], dtype=pl.String)
    )
    if len(labels) != len(probs):
        raise InvalidInput(
            f"probabilities {options.probabilities!r} have {len(probs)} rows, the tables have "
            f"{len(labels)} rows with a {options.label} column",
            "give one row of probabilities per table row, in the order of the files' paths",
        )
    given = labels.cast(pl.String).to_list()
    names = classes if classes is not None else sorted({g for g in given if g is not None})
    if len(names) != probs.shape[1]:
        raise InvalidInput(
            f"probabilities have {probs.shape[1]} columns, the labels {len(names)} classes",
            "give one column per class (named after the classes in a .csv or .parquet)",
        )
    index = {name: i for i, name in enumerate(names)}
    unknown = sorted({g for g in given if g not in index}, key=str)
    if unknown:
        raise InvalidInput(
            f"label {unknown[0]!r} is not a class of the probabilities ({', '.join(names[:10])})",
            "name the probability columns after the label values",
        )
    codes = np.array([index[g] for g in given], dtype=np.int64)
    issues = np.asarray(find_label_issues(codes, probs, return_indices_ranked_by="self_confidence"))
    located = tables.located() if len(labels) == tables.rows else None
    shown: list[dict[str, Any]] = []
    for i in issues[: max(t.max_evidence, t.max_flagged)].tolist():
        where = {"path": None, "row": i}
        if located is not None:
            where = {"path": tables.files[int(located["file"][i])], "row": int(located["row"][i])}
        item = {**where, "given": given[i], "suggested": names[int(np.argmax(probs[i]))]}
        if len(shown) < t.max_evidence:
            shown.append(item)
        if where["path"] is not None:
            flagged.append(
                {**where, "reason": f"label {given[i]!r} may be wrong ({item['suggested']!r}?)"}
            )
    share = len(issues) / len(codes) if len(codes) else 0.0
    status = (
        "pass" if not len(issues) else ("fail" if share >= t.label_issue_fail_share else "warn")
    )
    message = (
        f"{len(issues)} of {len(codes)} rows may be mislabelled ({share:.1%})"
        if len(issues)
        else f"no likely label error in {len(codes)} rows"
    )
    return check("labels.cleanlab", status, message, count=len(issues), share=share, rows=shown)


def read_probabilities(path: Path, suffix: str) -> tuple[np.ndarray, list[str] | None]:
    """An (n, classes) float array, and the class names when the file names them.

    Raises:
        InvalidInput: an unknown format, a file that does not parse, values outside [0, 1].
    """
    import polars as pl

    suffix = suffix.lower()
    try:
        if suffix == ".npy":
            probs, classes = np.load(path, allow_pickle=False), None
        elif suffix in (".csv", ".parquet"):
            frame = pl.read_csv(path) if suffix == ".csv" else pl.read_parquet(path)
            probs, classes = frame.to_numpy().astype(np.float64), list(frame.columns)
        else:
            raise InvalidInput(
                f"probabilities: unknown format {suffix or '(no suffix)'}",
                "use .npy, .csv or .parquet",
            )
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        raise InvalidInput(
            f"probabilities {path.name}: cannot read: {exc}".splitlines()[0]
        ) from None
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2 or not np.all((probs >= 0) & (probs <= 1)):
        raise InvalidInput(
            f"probabilities {path.name}: need a 2-D array of values in [0, 1] with a column per class",
            f"got shape {probs.shape}",
        )
    return probs, classes
