"""``python -m bench [--quick] [--only FIGURE ...]``: run the benchmarks, print the table, and
write ``bench/results/latest.md`` and ``latest.json``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

from bench import figures
from bench.fakes import Fakes
from bench.report import Row, write
from bench.serve_load import serve_ack

RESULTS = Path(__file__).resolve().parent / "results"
FIGURES = ("cold", "ack", "throughput", "memory", "listing", "work", "reimport", "serve", "bundle")


def run(*, quick: bool, only: tuple[str, ...] = FIGURES, out: Path = RESULTS) -> list[Row]:
    sizes = figures.Sizes.quick() if quick else figures.Sizes()
    rows: list[Row] = []

    def step(name: str, rows_of: list[Row]) -> None:
        rows.extend(rows_of)
        print(f"… {name} done", file=sys.stderr, flush=True)

    if "cold" in only:
        step("cold init", figures.cold_init(sizes))
    if {"ack", "throughput", "memory", "listing", "work", "serve"} & set(only):
        with Fakes() as fakes:
            if "ack" in only:
                step("ack latency", figures.ack_latency(sizes, fakes))
            if "throughput" in only:
                step("throughput", figures.throughput(sizes, fakes))
            if "memory" in only:
                step("memory", figures.memory(sizes, fakes))
            if "listing" in only:
                step("/meetings listing", figures.listing(sizes, fakes))
            if "work" in only:
                step("per-event work", figures.per_event_work(sizes, fakes))
            if "serve" in only:
                step("serve", serve_ack(sizes.serve_requests, fakes))
    if "reimport" in only:
        step("ICS re-import", figures.reimport(sizes))
    if "bundle" in only:
        step("bundle", figures.bundle(build=not quick))
    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "quick": quick,
        "sizes": sizes.__dict__,
    }
    md, _ = write(rows, out, meta=meta)
    print(md.read_text())
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--only", nargs="+", choices=FIGURES, default=list(FIGURES))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    rows = run(quick=args.quick, only=tuple(args.only), out=args.out)
    return 0 if all(r.verdict != "FAIL" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
