"""Pulumi entry point: read the stack config, get the Lambda bundle, compose the stack, export.

Pulumi runs this file with ``infra/`` on ``sys.path``; the program's modules form the ``infra``
package (so the tests import them the same way), hence the repository root goes on the path.
Nothing from ``exec_assistant`` is imported: the handlers are contract strings.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pulumi

from infra.bundle import lambda_archive
from infra.config import load_config
from infra.stack import build

for output_name, value in build(load_config(), lambda_archive()).items():
    pulumi.export(output_name, value)
