"""The figures, each measured against its baseline in the same run.

Every function here runs in the harness process and starts subprocesses for the measurements
(:mod:`bench.cold_probe`, :mod:`bench.worker`); see docs/benchmarks.md for what
each figure means.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import env
from bench.fakes import Fakes
from bench.report import Row, median, percentile
from bench.worker import MARK

ROOT = env.ROOT
BUNDLE_DIR = ROOT / "build" / "bench"
BUNDLE_TARGET_MB = 25.0
#: Top-level packages of the floors' own dependency closures (the bundle's floor share).
FLOOR_PACKAGES = frozenset(
    {
        "slack_bolt",
        "slack_sdk",
        "boto3",
        "botocore",
        "s3transfer",
        "jmespath",
        "dateutil",
        "six",
        "urllib3",
        "pydantic",
        "pydantic_core",
        "annotated_types",
        "typing_extensions",
        "typing_inspection",
    }
)
#: Third-party packages worth naming when a handler imports them at init.
HEAVY = ("twilio", "requests", "aiohttp", "icalendar", "recurring_ical_events", "boto3")


class BenchError(RuntimeError):
    """A measurement could not be taken (a subprocess failed)."""


@dataclass(frozen=True)
class Sizes:
    """Run sizes; ``quick`` is the smoke test's."""

    cold_runs: int = 25
    ack_iterations: int = 300
    ack_warmup: int = 20
    events: int = 2000
    rss_invocations: int = 1000
    rss_warmup: int = 100
    listing_large: int = 1000
    listing_iterations: int = 100
    work_events: int = 200
    ics_occurrences: int = 5000
    ics_rounds: int = 2
    serve_requests: int = 2000

    @classmethod
    def quick(cls) -> Sizes:
        return cls(
            cold_runs=1,
            ack_iterations=12,
            ack_warmup=3,
            events=40,
            rss_invocations=50,
            rss_warmup=10,
            listing_large=60,
            listing_iterations=3,
            work_events=10,
            ics_occurrences=100,
            ics_rounds=1,
            serve_requests=64,
        )


def _run(argv: list[str], environ: dict[str, str], *, timeout: float = 1800) -> str:
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.run(
            [sys.executable, *argv],
            env=environ,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            log.seek(0)
            tail = log.read()[-3000:]
            raise BenchError(f"{' '.join(argv)} exited {proc.returncode}:\n{tail}")
    return proc.stdout


def worker(args: list[str], environ: dict[str, str]) -> dict[str, Any]:
    out = _run(["-m", "bench.worker", *args], environ)
    for line in out.splitlines():
        if line.startswith(MARK):
            result: dict[str, Any] = json.loads(line.removeprefix(MARK))
            return result
    raise BenchError(f"bench.worker {' '.join(args)} printed no result")


def probe(target: str, environ: dict[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_run(["-m", "bench.cold_probe", target], environ))
    return result


# --- 1. cold start ---------------------------------------------------------------------------

COLD = {
    "slack_bot": ("slack-bot", "slack_floor", "bare Bolt App + SlackRequestHandler"),
    "prep_trigger": ("prep-trigger", "trigger_floor", "bare boto3 GetItem + WebClient"),
}
#: What each target's one request answers (checked: a cold start that failed is no figure).
ANSWERS = {
    "slack_bot": "challenge",
    "slack_floor": "challenge",
    "prep_trigger": "skipped",
    "trigger_floor": "skipped",
}
#: Standard-library folders Lambda's runtime never imports (skipped when precompiling it).
STDLIB_SKIP = r"[/\\](test|tests|idlelib|tkinter|turtledemo|lib2to3|ensurepip|pydoc_data)[/\\]"


@dataclass(frozen=True)
class Bytecode:
    """How a cold start finds byte-code: ``pyc`` — every module's ``.pyc`` is there (a prefix
    cache warmed by an untimed run of each target); ``source`` — only the standard library's
    (as in Lambda's runtime), everything else compiles from source and nothing is written,
    as from a bundle without ``.pyc`` on a read-only ``/var/task``."""

    mode: str
    prefix: Path

    def env(self) -> dict[str, str]:
        variables = {"PYTHONPYCACHEPREFIX": str(self.prefix)}
        if self.mode == "source":
            variables["PYTHONDONTWRITEBYTECODE"] = "1"
        return variables


def _stdlib_only_prefix(prefix: Path, quick: bool) -> None:
    """``prefix`` holding byte-code for the standard library only (``compileall``)."""
    if quick:  # the smoke test: leave the standard library to compile too
        prefix.mkdir(parents=True, exist_ok=True)
        return
    import sysconfig

    environ = env.clean() | {"PYTHONPYCACHEPREFIX": str(prefix)}
    stdlib = sysconfig.get_paths()["stdlib"]
    _run(["-m", "compileall", "-q", "-j", "0", "-x", STDLIB_SKIP, stdlib], environ)


def _moto_server() -> Any:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request on stderr

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


def cold_init(sizes: Sizes) -> list[Row]:
    """Median cold start over ``cold_runs`` fresh interpreters per target, handlers and their
    floors interleaved (the order rotates each round), with and without ``.pyc``."""
    order = ["slack_bot", "slack_floor", "prep_trigger", "trigger_floor"]
    function_of = {"slack_bot": "slack-bot", "slack_floor": "slack-bot"}
    server = _moto_server()
    host, port = server.get_host_and_port()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pyc-") as tmp:
            modes = [Bytecode("pyc", Path(tmp) / "all"), Bytecode("source", Path(tmp) / "stdlib")]
            _stdlib_only_prefix(modes[1].prefix, quick=sizes.cold_runs < 3)

            def environ(target: str, mode: Bytecode, **kw: bool) -> dict[str, str]:
                base = env.lambda_env(function_of.get(target, "prep-trigger"), **kw)
                return (
                    base
                    | {
                        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
                        "BENCH_SIGNING_SECRET": env.SIGNING_SECRET,  # to sign the probe request
                    }
                    | mode.env()
                )

            probe("create_tables", environ("prep_trigger", modes[0]))
            for target in order:  # warm the .pyc cache (and the moto server), untimed
                probe(target, environ(target, modes[0]))
            rows = []
            for mode in modes:
                times: dict[str, list[float]] = {t: [] for t in order}
                last: dict[str, dict[str, Any]] = {}
                for i in range(sizes.cold_runs):
                    for target in order[i % 4 :] + order[: i % 4]:
                        result = probe(target, environ(target, mode))
                        if result["error"] or ANSWERS[target] not in str(result["answer"]):
                            raise BenchError(f"cold start of {target} failed: {result}")
                        times[target].append(result["init_s"])
                        last[target] = result
                rows += _cold_rows(sizes, mode, times, last, environ)
            return rows
    finally:
        server.stop()


def _cold_rows(
    sizes: Sizes,
    mode: Bytecode,
    times: dict[str, list[float]],
    last: dict[str, dict[str, Any]],
    environ: Any,
) -> list[Row]:
    rows = []
    label = "with .pyc" if mode.mode == "pyc" else "without .pyc"
    for handler, (function, floor, floor_text) in COLD.items():
        extra = sorted(set(last[handler]["packages"]) - set(last[floor]["packages"]))
        third_party = [p for p in extra if p not in sys.stdlib_module_names]
        heavy = [p for p in HEAVY if p in last[handler]["packages"]]
        network = [n for n in last[handler]["network"] if "connect" in n]
        note = ""
        details: dict[str, Any] = {}
        if mode.mode == "pyc":
            secrets_probe = probe(handler, environ(handler, mode, secret_arns=True))
            note = (
                f"floor = {floor_text}, answering the same request; heavy packages: "
                f"{', '.join(heavy) or 'none'}; third-party beyond the floor: "
                f"{', '.join(third_party) or 'none'}; connections: {len(network)} with secrets"
                f" as values, {len(secrets_probe['network'])} network calls with secrets as "
                "Secrets Manager ARNs"
            )
            details = {"network_with_secret_arns": secrets_probe["network"]}
        rows.append(
            Row(
                figure=f"1. cold start, {function}, {label}",
                measured=median(times[handler]) * 1000,
                baseline=median(times[floor]) * 1000,
                unit="ms",
                target=1.2,
                direction="max",
                note=note,
                details=details
                | {
                    "runs": sizes.cold_runs,
                    "handler_s": times[handler],
                    "floor_s": times[floor],
                    "packages_beyond_floor": extra,
                    "network": last[handler]["network"],
                },
            )
        )
    return rows


# --- 2 and 3 share the fakes and an embedded runtime ------------------------------------------


@contextmanager
def embedded(fakes: Fakes) -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        yield env.embedded_env(Path(tmp) / "exec-assistant.db", fakes.slack_url, fakes.runtime_api)


def ack_latency(sizes: Sizes, fakes: Fakes) -> list[Row]:
    with embedded(fakes) as environ:
        result = worker(["ack", str(sizes.ack_iterations), str(sizes.ack_warmup)], environ)
        result["listed_blocks"] = fakes.slack_stats()["response_blocks"]
    s = result["samples"]
    checks = (
        f"/meetings answered {result['listed_blocks']} blocks through response_url; "
        f"{result['prep_started']}/{result['clicks']} clicks started prep; "
        f"{result['post_response_runs']} lazy listeners ran after the response "
        f"(p50 {result['post_response_p50'] * 1000:.1f} ms from the handler's return to the end "
        f"of the invocation); statuses {result['statuses']}"
    )
    rows = []
    for name, label in (("meetings", "/meetings, 50 meetings"), ("start_prep", "start_prep click")):
        for pct, target in ((50, None), (99, 2.0)):
            rows.append(
                Row(
                    figure=f"2. Slack ack p{pct}, {label}",
                    measured=percentile(s[name], pct) * 1000,
                    baseline=percentile(s[f"{name}_bare"], pct) * 1000,
                    unit="ms",
                    target=target,
                    direction="max" if target else "info",
                    note=checks if (name, pct) == ("start_prep", 99) else "",
                    details={"iterations": len(s[name])}
                    | (result if (name, pct) == ("meetings", 50) else {}),
                )
            )
    return rows


def throughput(sizes: Sizes, fakes: Fakes) -> list[Row]:
    rows = []
    for mode, label in (
        ("distinct", f"{sizes.events:,} distinct meetings"),
        ("duplicates", f"{sizes.events:,} meetings x 5 deliveries"),
    ):
        before = fakes.slack_calls().get("chat.postMessage", 0)
        with embedded(fakes) as environ:
            r = worker(["throughput", mode, str(sizes.events)], environ)
        posts = fakes.slack_calls().get("chat.postMessage", 0) - before
        handler_posts = posts - r["floor_posts"]
        extra = handler_posts - sizes.events
        r |= {"handler_posts": handler_posts, "extra_posts": extra}
        rows.append(
            Row(
                figure=f"3. prep trigger throughput, {label}",
                measured=r["events"] / r["seconds"],
                baseline=r["events"] / r["floor_seconds"],
                unit="events/s",
                target=0.8,
                direction="min",
                note=(
                    f"{r['events']:,} events in {r['seconds']:.1f} s (floor "
                    f"{r['floor_seconds']:.1f} s: the bare 'notify once' script, INSERT OR "
                    f"IGNORE + one post only when new); {handler_posts:,} Slack POSTs by the "
                    f"handler, {extra:+d} beyond one per meeting; actions {r['actions']}"
                ),
                details=r,
            )
        )
    return rows


def listing(sizes: Sizes, fakes: Fakes) -> list[Row]:
    """``/meetings`` answer time with 1,000 meetings in the window against 10 (same run)."""
    with embedded(fakes) as environ:
        r = worker(
            ["listing", "10", str(sizes.listing_large), str(sizes.listing_iterations)], environ
        )
    large, small = r["samples"]["large"], r["samples"]["small"]
    return [
        Row(
            figure=f"5. /meetings answer, {sizes.listing_large:,} vs 10 meetings in the window",
            measured=median(large) * 1000,
            baseline=median(small) * 1000,
            unit="ms",
            target=1.5,
            direction="max",
            note=(
                "median of the whole invocation (acknowledgement, then reading, rendering and "
                f"posting the list after the response), {len(large)} requests each, interleaved"
            ),
            details=r,
        )
    ]


def per_event_work(sizes: Sizes, fakes: Fakes) -> list[Row]:
    """Store calls, log lines and pydantic validations per prep-trigger event (no timing)."""
    with embedded(fakes) as environ:
        r = worker(["work", str(sizes.work_events)], environ)
    n = r["events"]
    rows = []
    for phase in ("delivered", "duplicate"):
        counts = r[phase]
        per = {k: sum(v.values()) / n for k, v in counts.items() if k != "actions"}
        detail = "; ".join(
            f"{kind}: "
            + ", ".join(f"{name} {count / n:g}" for name, count in sorted(counts[kind].items()))
            for kind in ("store_calls", "log_lines", "validations")
        )
        rows.append(
            Row(
                figure=f"6. work per {phase} trigger event",
                measured=per["store_calls"],
                baseline=None,
                unit="store calls",
                target=None,
                direction="info",
                note=(
                    f"{per['store_calls']:g} store calls, {per['log_lines']:g} log lines, "
                    f"{per['validations']:g} validations per event ({detail}); actions "
                    f"{counts['actions']}"
                ),
                details=counts,
            )
        )
    return rows


def reimport(sizes: Sizes) -> list[Row]:
    """Re-import of an unchanged feed against its first import (same process, fresh stores)."""
    r = worker(
        ["reimport", str(sizes.ics_occurrences), str(sizes.ics_rounds)],
        env.clean() | {"EXEC_ASSISTANT_STORE": "sqlite:///unused.db"},
    )
    again, first = median(r["again_s"]), median(r["first_s"])
    return [
        Row(
            figure=f"7. ICS re-import, unchanged {sizes.ics_occurrences:,}-occurrence feed",
            measured=again * 1000,
            baseline=first * 1000,
            unit="ms",
            target=0.3,
            direction="max",
            note=(
                f"median of {len(r['first_s'])} fresh SQLite stores: first import, then the "
                f"same bytes again; reports {r['reports'][:2]}"
            ),
            details=r,
        )
    ]


# --- 4. memory and bundle -------------------------------------------------------------------


def memory(sizes: Sizes, fakes: Fakes) -> list[Row]:
    args = [str(sizes.rss_invocations), str(sizes.rss_warmup)]
    results = {}
    for target in ("slack_bot", "slack_floor", "prep_trigger", "trigger_floor"):
        with embedded(fakes) as environ:
            results[target] = worker(["memory", target, *args], environ)
    rows = []
    for handler, floor, label in (
        ("slack_bot", "slack_floor", "slack-bot"),
        ("prep_trigger", "trigger_floor", "prep-trigger"),
    ):
        r, f = results[handler], results[floor]
        rows.append(
            Row(
                figure=f"4. peak RSS, {label}, {sizes.rss_invocations:,} warm invocations",
                measured=r["peak_kib"] / 1024,
                baseline=f["peak_kib"] / 1024,
                unit="MiB",
                target=None,
                direction="info",
                details={"handler": r, "floor": f},
            )
        )
        rows.append(
            Row(
                figure=f"4. RSS growth after warm-up, {label}",
                measured=r["rss_end_kib"] / 1024,
                baseline=r["rss_after_warmup_kib"] / 1024,
                unit="MiB",
                target=1.05,
                direction="max",
                note=(
                    f"RSS after {r['warmup']} warm-up invocations vs after "
                    f"{r['invocations']:,} more (floor: {f['rss_after_warmup_kib'] / 1024:.1f}"
                    f" → {f['rss_end_kib'] / 1024:.1f} MiB)"
                ),
            )
        )
    return rows


def _bundle_digest() -> str:
    digest = hashlib.sha256()
    paths = [ROOT / "pyproject.toml", ROOT / "infra" / "bundle.py"]
    paths += sorted(p for p in (ROOT / "exec_assistant").rglob("*.py"))
    for path in paths:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def bundle(*, build: bool) -> list[Row]:
    """Zipped size of ``infra/bundle.py``'s Lambda bundle, rebuilt when the sources changed;
    the baseline is the floor packages' share of the same zip."""
    figure = "4. Lambda bundle, zipped"
    if not (ROOT / "infra" / "bundle.py").exists():
        return [Row(figure, None, None, "MiB", BUNDLE_TARGET_MB, "abs_max", "no infra/bundle.py")]
    path = BUNDLE_DIR / f"lambda-{_bundle_digest()}.zip"
    if not path.exists():
        if not build:
            note = "not measured (--quick and no bundle built for these sources)"
            return [Row(figure, None, None, "MiB", BUNDLE_TARGET_MB, "abs_max", note)]
        for old in BUNDLE_DIR.glob("lambda-*.zip"):
            old.unlink()
        _run(["infra/bundle.py", "--out", str(path)], env.clean(), timeout=1800)
    sizes: dict[str, int] = {}
    unzipped = 0
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            top = info.filename.split("/")[0]
            if top.endswith(".dist-info"):
                top = top.split("-")[0].lower()
            sizes[top] = sizes.get(top, 0) + info.compress_size
            unzipped += info.file_size
    total = path.stat().st_size
    floor = sum(v for k, v in sizes.items() if k in FLOOR_PACKAGES)
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:5]
    mib = 1024 * 1024
    return [
        Row(
            figure=figure,
            measured=total / mib,
            baseline=floor / mib,
            unit="MiB",
            target=BUNDLE_TARGET_MB,
            direction="abs_max",
            note=(
                f"baseline = the floor packages' share of the zip; unzipped {unzipped / mib:.0f}"
                f" MiB; largest: {', '.join(f'{k} {v / mib:.1f}' for k, v in largest)} MiB"
            ),
            details={"path": str(path), "packages": sizes},
        )
    ]
