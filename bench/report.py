"""Result rows, the markdown table and the JSON file."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

#: ``max``/``min``: the ratio must be ≤/≥ the target; ``abs_max``: the measured value itself
#: must be ≤ the target (in ``unit``); ``info``: context, no target.
Direction = Literal["max", "min", "abs_max", "info"]


@dataclass
class Row:
    """One figure: ``measured`` against ``baseline`` (absolute, in ``unit``), their ratio, and
    the target on that ratio (``max``: ratio ≤ target, ``min``: ratio ≥ target)."""

    figure: str
    measured: float | None
    baseline: float | None
    unit: str
    target: float | None
    direction: Direction
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.baseline:
            return None
        return self.measured / self.baseline

    @property
    def verdict(self) -> str:
        if self.direction == "info" or self.target is None:
            return "info"
        value = self.measured if self.direction == "abs_max" else self.ratio
        if value is None:
            return "not measured"
        ok = value >= self.target if self.direction == "min" else value <= self.target
        return "pass" if ok else "FAIL"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio, "verdict": self.verdict}


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".strip()


def _target(row: Row) -> str:
    if row.direction == "info" or row.target is None:
        return "—"
    if row.direction == "abs_max":
        return f"≤ {row.target:g} {row.unit}"
    return f"{'≤' if row.direction == 'max' else '≥'} {row.target:g}x"


def markdown(rows: list[Row], *, header: str) -> str:
    lines = [
        header,
        "",
        "| figure | measured | baseline | ratio | target | result |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else "—"
        lines.append(
            f"| {row.figure} | {_num(row.measured, row.unit)} | {_num(row.baseline, row.unit)} "
            f"| {ratio} | {_target(row)} | {row.verdict} |"
        )
    notes = [f"- {row.figure}: {row.note}" for row in rows if row.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def write(rows: list[Row], out_dir: Path, *, meta: dict[str, Any]) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"Benchmarks, {stamp}: {meta.get('machine', '')}, python {meta.get('python', '')}"
        f"{' (quick mode)' if meta.get('quick') else ''}"
    )
    md = out_dir / "latest.md"
    md.write_text(markdown(rows, header=header))
    js = out_dir / "latest.json"
    js.write_text(
        json.dumps({"date": stamp, **meta, "rows": [r.as_dict() for r in rows]}, indent=2) + "\n"
    )
    return md, js
