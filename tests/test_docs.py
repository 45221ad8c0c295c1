"""The documentation: the README stays short, the site builds offline with --strict, and every
``python`` code block in the README and the docs runs.

The blocks of one page run in order in one fresh interpreter (so a page may build up an example),
in a temporary directory with a clean environment: no credentials, HOME and XDG_DATA_HOME in the
temporary directory, so an example can neither reach a provider nor touch the user's database.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
EXAMPLE = ROOT / "tests" / "examples" / "library_example.py"

FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
SNIPPET = re.compile(r'^--8<-- "([^"]+)"\s*$', re.MULTILINE)

#: Replaces socket connect/getaddrinfo so anything but loopback fails: the build must be offline.
OFFLINE = """
import socket, sys

LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_connect = socket.socket.connect
_getaddrinfo = socket.getaddrinfo


def _host(address):
    return address[0] if isinstance(address, tuple) else None


def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and _host(address) not in LOOPBACK:
        raise OSError(f"network disabled in the docs build: {address!r}")
    return _connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host not in LOOPBACK and host is not None:
        raise OSError(f"network disabled in the docs build: {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
"""


def python_blocks(path: Path) -> list[str]:
    """The ``python`` fenced blocks of a page, with ``--8<-- "file"`` snippets expanded."""
    blocks = FENCE.findall(path.read_text())
    return [SNIPPET.sub(lambda m: (ROOT / m.group(1)).read_text(), block) for block in blocks]


def pages() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def clean_env(home: Path) -> dict[str, str]:
    keep = {"PATH", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR"}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "COLUMNS": "100"})
    return env


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=clean_env(cwd),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


PAGES_WITH_CODE = [p for p in pages() if python_blocks(p)]


def test_pages_with_code_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in PAGES_WITH_CODE}
    assert {"README.md", "docs/library.md", "docs/stores.md"} <= names


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_code_blocks_run(page: Path, tmp_path: Path) -> None:
    code = "\n\n".join(python_blocks(page))
    result = run_python(code, tmp_path)
    assert result.returncode == 0, f"{page.name}:\n{result.stdout}\n{result.stderr}"


def test_a_failing_block_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("text\n\n```python\nassert 1 == 2\n```\n")
    assert run_python("\n".join(python_blocks(page)), tmp_path).returncode != 0


def test_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 250


def test_readme_library_example_is_the_tested_file(tmp_path: Path) -> None:
    assert EXAMPLE.read_text() in python_blocks(README)
    result = run_python(EXAMPLE.read_text(), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "('console', 'delivered')" in result.stdout


def test_readme_quickstart_commands() -> None:
    text = README.read_text()
    assert "python3 dev.py demo" in text
    assert "python3 dev.py test" in text
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text()


def _nav_files(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [f for item in nav for f in _nav_files(item)]
    if isinstance(nav, dict):
        return [f for value in nav.values() for f in _nav_files(value)]
    return []


def _mkdocs_config() -> dict[str, object]:
    # mkdocs.yml uses a !!python/name tag (mermaid fences): read it without constructing that
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda *_: None)
    config: dict[str, object] = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    return config


def test_every_page_is_in_the_nav() -> None:
    nav = set(_nav_files(_mkdocs_config()["nav"]))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert on_disk == nav


def test_every_setting_is_described() -> None:
    from exec_assistant.config import Settings

    undescribed = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undescribed == [], "the configuration reference is generated from these descriptions"


def test_site_builds_strict_and_offline(tmp_path: Path) -> None:
    site = tmp_path / "site"
    script = OFFLINE + (
        "from mkdocs.__main__ import cli\n"
        f"sys.argv = ['mkdocs', 'build', '--strict', '--site-dir', {str(site)!r}]\n"
        "cli()\n"
    )
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    html = "\n".join(p.read_text() for p in site.rglob("*.html"))
    assert "fonts.googleapis.com" not in html  # theme.font: false

    from exec_assistant.cli import app
    from exec_assistant.config import Settings

    cli_page = (site / "cli-reference" / "index.html").read_text()
    for group in app.registered_groups:
        assert f"exec-assistant {group.name}" in cli_page
    for command in app.registered_commands:
        assert f"exec-assistant {command.name}" in cli_page
    config_page = (site / "configuration" / "index.html").read_text()
    for name in Settings.model_fields:
        assert name.upper() in config_page
    api_page = (site / "api" / "index.html").read_text()
    assert "prep_hours_before" in api_page  # model fields are listed
    assert "The prep window opens this many hours before the start" in api_page  # and described


def test_the_offline_guard_refuses_the_network(tmp_path: Path) -> None:
    code = (
        OFFLINE + "import urllib.request\nurllib.request.urlopen('https://pypi.org', timeout=5)\n"
    )
    result = run_python(code, tmp_path)
    assert result.returncode != 0
    assert "network disabled in the docs build" in result.stderr
