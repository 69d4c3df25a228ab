"""Medians, percentiles and the side-by-side table of project and naive figures."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p95(values: Sequence[float]) -> float:
    """95th percentile, interpolated between the closest ranks."""
    return statistics.quantiles(values, n=20, method="inclusive")[18]


@dataclass(frozen=True, slots=True)
class Row:
    """One figure for both variants; `lower_is_better` says how to read the ratio."""

    name: str
    project: float
    naive: float
    lower_is_better: bool = True
    digits: int = 1

    @property
    def naive_slower(self) -> float:
        """How many times worse the naive figure is (>1: the project's way wins)."""
        if self.lower_is_better:
            return self.naive / self.project if self.project else float("nan")
        return self.project / self.naive if self.naive else float("nan")

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "naive_slower": round(self.naive_slower, 2)}


def table(rows: Sequence[Row]) -> str:
    """Rows as fixed-width text: benchmark, project, naive, naive slower by."""
    width = max(len(row.name) for row in rows) + 2
    lines = [f"{'benchmark':<{width}}{'project':>10}{'naive':>10}{'naive slower by':>17}"]
    for row in rows:
        lines.append(
            f"{row.name:<{width}}{row.project:>10.{row.digits}f}{row.naive:>10.{row.digits}f}"
            f"{'x' + format(row.naive_slower, '.1f'):>17}"
        )
    return "\n".join(lines)
