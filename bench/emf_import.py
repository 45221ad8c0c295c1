"""What an EMF metrics writer adds to a cold start: Powertools' ``Metrics`` against
:mod:`exec_assistant.metrics` (the reason for the latter is in its docstring).

    pip install --target /tmp/ptools aws-lambda-powertools
    python bench/emf_import.py /tmp/ptools [RUNS] [--pyc]

Both are measured in the same run, interleaved, each in a fresh interpreter that first imports the
prep trigger's handler module (what is already loaded when a metric is first written), then times
the writer's import and the creation of one data point. The package and Powertools are copied
without ``__pycache__`` and run with ``-B``, so every one of their modules compiles from source;
with ``--pyc`` they are byte-compiled first, as the Lambda bundle now ships them
(infra/bytecode.py). The standard library keeps its ``.pyc`` either way.
Prints the median, the range and the ratio; not part of ``python -m bench`` (Powertools is not a
dependency of the project).
"""

from __future__ import annotations

import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import time
import exec_assistant.workflows.prep_trigger_handler
start = time.perf_counter()
{body}
print(time.perf_counter() - start)
"""
TARGETS = {
    "powertools": (
        "from aws_lambda_powertools.metrics import Metrics, MetricUnit\n"
        "m = Metrics(namespace='ExecAssistant', service='exec-assistant')\n"
        "m.add_metric(name='NotificationDelivered', unit=MetricUnit.Count, value=1)"
    ),
    "exec_assistant.metrics": (
        "from exec_assistant.metrics import Metric, document\n"
        "document(Metric.NOTIFICATION_DELIVERED, 1, environment='dev')"
    ),
}


def _once(target: str, path: str, pyc: bool) -> float:
    env = {**os.environ, "PYTHONPATH": path}
    probe = PROBE.format(body=TARGETS[target])
    flags = [] if pyc else ["-B"]
    done = subprocess.run(
        [sys.executable, *flags, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main(powertools_dir: str, runs: int, *, pyc: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / "exec_assistant", Path(tmp, "exec_assistant"), ignore=ignore)
        shutil.copytree(powertools_dir, Path(tmp, "deps"), ignore=ignore)
        path = os.pathsep.join([tmp, str(Path(tmp, "deps")), *sys.path[1:]])
        if pyc:
            compileall.compile_dir(tmp, quiet=1)
        times: dict[str, list[float]] = {t: [] for t in TARGETS}
        for _ in range(runs):
            for target in TARGETS:
                times[target].append(_once(target, path, pyc))
    for target, values in times.items():
        print(
            f"{target:24} median {statistics.median(values) * 1000:6.1f} ms "
            f"(min {min(values) * 1000:.1f}, max {max(values) * 1000:.1f}, n={runs})"
        )
    ratio = statistics.median(times["powertools"]) / statistics.median(
        times["exec_assistant.metrics"]
    )
    print(f"powertools / exec_assistant.metrics: {ratio:.0f}x")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--pyc"]
    main(args[0], int(args[1]) if len(args) > 1 else 15, pyc="--pyc" in sys.argv)
