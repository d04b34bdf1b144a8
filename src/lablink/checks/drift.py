"""Drift between two stored profiles: which columns moved, and by how much.

Numbers: the Kolmogorov-Smirnov statistic and its p-value, from the profiles' exact
value counts where both have them (the same D and p as ``scipy.stats.ks_2samp`` on the
raw values) and from their quantile sketches otherwise (``distribution.py``), and the
population stability index (PSI) over the baseline's deciles. Categories: a chi-square test of homogeneity with
Cramér's V, and the Jensen-Shannon distance (base 2, between 0 and 1). Both: the change
in the share of empty cells. A column drifts when an effect size crosses its threshold
(with a significant p-value where there is one); thresholds come from ``[drift]`` in
``lablink.toml``. Nothing here reads data: two 10-column profiles compare in
milliseconds whatever the tables' size.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from lablink.checks.distribution import Distribution, ks_two_sample, of_column
from lablink.errors import InvalidInput

_EPS = 1e-4  # share given to an empty PSI bin, so the log stays finite


@dataclasses.dataclass(frozen=True)
class DriftThresholds:
    """When a column counts as drifted; each key can be set under ``[drift]``."""

    ks: float = 0.1  # KS statistic D (largest gap between the two CDFs)
    psi: float = 0.2  # population stability index; 0.1-0.2 is "moderate"
    js: float = 0.1  # Jensen-Shannon distance, base 2
    cramers_v: float = 0.1  # effect size that must accompany a significant chi-square
    p_value: float = 0.01  # significance for KS and chi-square
    null_share: float = 0.05  # absolute change in the share of empty cells

    @classmethod
    def from_config(cls, config: Any, source: str = "lablink.toml") -> DriftThresholds:
        """Thresholds from a ``[drift]`` table (``Settings.project_config.get("drift")``).

        ``source`` names the file in error messages.

        Raises:
            InvalidInput: not a table, an unknown key or a value that is not a number >= 0.
        """
        if config is not None and not isinstance(config, Mapping):
            raise InvalidInput(
                f"{source}: [drift] must be a table, not {type(config).__name__}",
                "write it as [drift] with keys such as ks = 0.1",
            )
        values: dict[str, float] = {}
        names = [f.name for f in dataclasses.fields(cls)]
        for key, value in (config or {}).items():
            if key not in names:
                raise InvalidInput(
                    f"{source} [drift]: unknown key {key!r}", f"keys: {', '.join(names)}"
                )
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"{source} [drift]: {key} must be a number >= 0, got {value!r}")
            values[key] = float(value)
        return cls(**values)


@dataclasses.dataclass
class ColumnDrift:
    """One column's statistics and whether, and why, it drifted."""

    column: str
    kind: str
    drifted: bool
    stats: dict[str, float | None]
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return dataclasses.asdict(self)


@dataclasses.dataclass
class DriftReport:
    """Drift from a baseline profile to a current one."""

    rows: tuple[int, int]
    columns: list[ColumnDrift]
    added: list[str]
    removed: list[str]
    thresholds: DriftThresholds

    @property
    def drifted(self) -> list[str]:
        """Names of the columns that drifted."""
        return [c.column for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, as the CLI's ``--json`` prints it."""
        return {
            "rows": list(self.rows),
            "drifted": self.drifted,
            "added": self.added,
            "removed": self.removed,
            "thresholds": dataclasses.asdict(self.thresholds),
            "columns": [c.to_dict() for c in self.columns],
        }


def compare_profiles(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    thresholds: DriftThresholds | None = None,
) -> DriftReport:
    """Drift of every column the two profiles share, from ``baseline`` to ``current``."""
    t = thresholds or DriftThresholds()
    a_cols, b_cols = baseline.get("columns", {}), current.get("columns", {})
    out: list[ColumnDrift] = []
    for name, a in a_cols.items():
        b = b_cols.get(name)
        if b is None:
            continue
        kind = a.get("kind")
        if kind != b.get("kind") or kind not in ("numeric", "categorical"):
            out.append(
                ColumnDrift(
                    name,
                    str(kind),
                    kind != b.get("kind"),
                    {},
                    ["kind changed"] if kind != b.get("kind") else [],
                )
            )
            continue
        stats: dict[str, float | None] = {}
        reasons: list[str] = []
        if kind == "numeric":
            _numeric(a, b, t, stats, reasons)
        else:
            _categorical(a, b, t, stats, reasons)
        null_a, null_b = _null_share(a), _null_share(b)
        stats["null_share_change"] = null_b - null_a
        if abs(null_b - null_a) >= t.null_share:
            reasons.append(f"empty cells {null_a:.1%} → {null_b:.1%}")
        out.append(ColumnDrift(name, kind, bool(reasons), stats, reasons))
    return DriftReport(
        rows=(int(baseline.get("rows", 0)), int(current.get("rows", 0))),
        columns=out,
        added=[c for c in b_cols if c not in a_cols],
        removed=[c for c in a_cols if c not in b_cols],
        thresholds=t,
    )


def _null_share(col: Mapping[str, Any]) -> float:
    total = col.get("count", 0) + col.get("nulls", 0)
    return col.get("nulls", 0) / total if total else 0.0


def _numeric(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    t: DriftThresholds,
    stats: dict[str, float | None],
    reasons: list[str],
) -> None:
    da, db = of_column(a), of_column(b)
    if da is None or db is None:
        return
    d, p = ks_two_sample(da, db)
    psi = population_stability(da, db)
    stats.update(ks=d, ks_p_value=p, psi=psi, mean_change=b.get("mean", 0) - a.get("mean", 0))
    if d >= t.ks and p < t.p_value:
        reasons.append(f"KS D={d:.3f} ≥ {t.ks} (p={p:.2g})")
    if psi >= t.psi:
        reasons.append(f"PSI={psi:.3f} ≥ {t.psi}")


def population_stability(baseline: Distribution, current: Distribution, bins: int = 10) -> float:
    """PSI over the baseline's quantile bins (deciles by default).

    Bins hold their right edge, so a whole-number value sits in one bin on both sides.
    """
    edges = np.unique(baseline.quantiles(np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.diff(np.concatenate(([0.0], baseline.cdf(edges), [1.0])))
    actual = np.diff(np.concatenate(([0.0], current.cdf(edges), [1.0])))
    expected, actual = np.maximum(expected, _EPS), np.maximum(actual, _EPS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _categorical(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    t: DriftThresholds,
    stats: dict[str, float | None],
    reasons: list[str],
) -> None:
    from scipy.stats import chi2

    ca, cb = dict(a.get("counts", {})), dict(b.get("counts", {}))
    ca["\x00other"], cb["\x00other"] = a.get("other", 0), b.get("other", 0)
    keys = [k for k in dict.fromkeys([*ca, *cb]) if ca.get(k, 0) + cb.get(k, 0) > 0]
    if not keys:
        return
    table = np.array([[ca.get(k, 0) for k in keys], [cb.get(k, 0) for k in keys]], dtype=float)
    na, nb = table.sum(axis=1)
    if not na or not nb:
        return
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(np.sum((table - expected) ** 2 / expected))
    dof = len(keys) - 1
    p = float(chi2.sf(statistic, dof)) if dof else 1.0
    v = math.sqrt(statistic / table.sum()) if dof else 0.0
    js = jensen_shannon(table[0] / na, table[1] / nb)
    stats.update(chi2=statistic, chi2_p_value=p, cramers_v=v, js=js)
    if p < t.p_value and v >= t.cramers_v:
        reasons.append(f"chi-square p={p:.2g}, Cramér's V={v:.3f} ≥ {t.cramers_v}")
    if js >= t.js:
        reasons.append(f"Jensen-Shannon distance {js:.3f} ≥ {t.js}")


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance (the square root of the divergence), base 2, in [0, 1]."""
    m = (p + q) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return math.sqrt(max(0.0, (kl(p) + kl(q)) / 2))
