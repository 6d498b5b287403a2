"""The production image carries production code only: no demo, no local stack, no review page.

No Docker engine runs here, so the image's code is derived from the Dockerfile itself: the files
its COPY instructions take from the build context (what .dockerignore lets through), and the
package ``pip install`` makes of them. The development package ``localdev`` must be in neither,
production code must never import it, and without it the CLI explains ``demo`` in one line.
"""

from __future__ import annotations

import ast
import importlib.abc
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.cli import main
from shared.settings import REPO_ROOT
from tests.deploy.dockerfile_config import context_sources, parse_dockerfile, sent_to_builder

PRODUCTION_PACKAGES = ("shared", "functions", "jobs")
REVIEW_PAGE_SUFFIXES = {".html", ".js", ".css"}


def copied_files() -> list[Path]:
    """The files the context COPYs put into /app, relative to the repository (caches are .dockerignored)."""
    files = []
    for source in context_sources(parse_dockerfile()[1]):
        path = REPO_ROOT / source
        for file in ([path] if path.is_file() else sorted(path.rglob("*"))):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                files.append(file.relative_to(REPO_ROOT))
    return files


def localdev_imports(source: str, filename: str) -> list[str]:
    """Every import statement of a module that names ``localdev``, wherever it stands (also inside functions)."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{filename}:{node.lineno} imports {name}"
                  for name in names if name.split(".")[0] == "localdev"]
    return found


def test_the_image_copies_no_development_code() -> None:
    files = copied_files()
    assert Path("shared/cli.py") in files and Path("functions/main.py") in files
    assert not [file for file in files if file.parts[0] == "localdev"]
    assert not [file for file in files if file.suffix in REVIEW_PAGE_SUFFIXES], "the review page is development-only"
    assert "localdev" not in sent_to_builder(), ".dockerignore must not send localdev/ to the builder"


def test_installing_the_image_selection_leaves_out_localdev(tmp_path: Path) -> None:
    """``pip install .`` of exactly what the image copies: a wheel of the production packages only."""
    app = tmp_path / "app"
    for file in copied_files():
        (app / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / file, app / file)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(tmp_path / "dist"), str(app)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("facecluster-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == set(PRODUCTION_PACKAGES)
    assert "shared/cli.py" in names
    assert not [name for name in names if Path(name).suffix in REVIEW_PAGE_SUFFIXES]


def test_production_code_never_imports_localdev() -> None:
    modules = [path for package in PRODUCTION_PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))]
    assert len(modules) > 100
    assert [found for path in modules
            for found in localdev_imports(path.read_text(), str(path.relative_to(REPO_ROOT)))] == []


def test_the_import_check_finds_imports_inside_functions() -> None:
    source = ("import os\nfrom . import sibling\n\n\ndef later():\n    from localdev.stack import processes\n"
              "    import localdev.review.server as server\n    return processes, server, os, sibling\n")
    assert localdev_imports(source, "probe.py") == ["probe.py:6 imports localdev.stack",
                                                    "probe.py:7 imports localdev.review.server"]


class _Absent(importlib.abc.MetaPathFinder):
    """Makes ``localdev`` unimportable, as in the image, where nothing provides it."""

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if fullname.split(".")[0] == "localdev":
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)


@pytest.fixture
def without_localdev(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in [name for name in sys.modules if name.split(".")[0] == "localdev"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Absent(), *sys.meta_path])
    yield


def test_without_localdev_demo_says_in_one_line_it_is_a_development_command(
        without_localdev: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "../shared/data/faces", "--keep-running"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("facecluster: error: `demo` is a development command: run it from a checkout")
    assert err.rstrip().endswith("lacks the module localdev")
