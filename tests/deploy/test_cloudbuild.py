"""cloudbuild.yaml: loaded the way `gcloud builds submit` loads it, and its steps in order.

Where the Google Cloud SDK is installed (/usr/lib/google-cloud-sdk/lib on these machines),
the file goes through the SDK's own loader (googlecloudsdk.api_lib.cloudbuild.config), which
turns it into a Build message and rejects unknown fields, bad substitution keys and a missing
step list exactly as `gcloud builds submit` would. It runs in a child process so the SDK's
vendored libraries never mix with this test run's. Without the SDK, plain YAML is checked.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shared.face_analysis.packs import PACKS
from shared.settings import REPO_ROOT
from tests.deploy.dockerfile_config import parse_dockerfile
from tests.deploy.terraform_config import load_terraform

CLOUDBUILD = REPO_ROOT / "cloudbuild.yaml"
SDK_LIB = Path("/usr/lib/google-cloud-sdk/lib")

_SDK_LOADER = """
import sys
from apitools.base.py import encoding
from googlecloudsdk.api_lib.cloudbuild import cloudbuild_util, config
build = config.LoadCloudbuildConfigFromPath(sys.argv[1], cloudbuild_util.GetMessagesModule())
print(encoding.MessageToJson(build))
"""


def load_with_sdk(path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{SDK_LIB}{os.pathsep}{SDK_LIB / 'third_party'}"}
    result = subprocess.run([sys.executable, "-c", _SDK_LOADER, str(path)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, f"the Cloud SDK rejected {path.name}:\n{result.stderr}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def build() -> dict:
    if SDK_LIB.is_dir():
        return load_with_sdk(CLOUDBUILD)
    return yaml.safe_load(CLOUDBUILD.read_text())


@pytest.fixture(scope="module")
def steps(build) -> dict[str, dict]:
    return {step["id"]: step for step in build["steps"]}


def substitutions(build) -> dict[str, str]:
    return build["substitutions"]


def test_sdk_loader_rejects_a_broken_config(tmp_path):
    """The loader used above really validates: an unknown field fails it."""
    if not SDK_LIB.is_dir():
        pytest.skip("no Google Cloud SDK here; the plain YAML checks below still run")
    broken = tmp_path / "cloudbuild.yaml"
    broken.write_text("steps:\n- name: alpine\n  nosuchfield: 1\n")
    env = {**os.environ, "PYTHONPATH": f"{SDK_LIB}{os.pathsep}{SDK_LIB / 'third_party'}"}
    result = subprocess.run([sys.executable, "-c", _SDK_LOADER, str(broken)], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode != 0 and "nosuchfield" in result.stderr


def test_substitutions_for_region_repository_and_pack(build):
    subs = substitutions(build)
    assert {"_REGION", "_REPOSITORY", "_MODEL_PACK", "_DEPLOY", "_IMAGE"} <= set(subs)
    assert subs["_MODEL_PACK"] in PACKS
    assert subs["_EXTRA_MODEL_PACKS"] == ""   # only while events wait to be re-embedded
    tf = load_terraform()
    assert subs["_MODEL_PACK"] == tf.variables["model_pack"]["default"]
    assert subs["_REGION"] == tf.variables["region"]["default"]
    assert subs["_REPOSITORY"] == tf.variables["artifact_repository"]["default"]
    if "${_" in subs["_IMAGE"]:
        assert build["options"]["dynamicSubstitutions"] is True, "_IMAGE nests substitutions"


def test_the_build_arguments_are_the_dockerfiles(steps):
    """A --build-arg the Dockerfile does not declare is silently ignored: the pack would not change."""
    declared = {arg.partition("=")[0] for stage in parse_dockerfile()[1] for arg in stage.all("ARG")}
    passed = {arg.removeprefix("--build-arg=").partition("=")[0]
              for arg in steps["build"]["args"] if arg.startswith("--build-arg=")}
    assert {"MODEL_PACK", "EXTRA_MODEL_PACKS"} <= passed
    assert passed - {"BUILDKIT_INLINE_CACHE"} <= declared, sorted(passed - declared)


def test_the_image_built_is_pushed_and_is_the_one_the_later_steps_run(steps):
    tags = [arg.removeprefix("--tag=") for arg in steps["build"]["args"] if arg.startswith("--tag=")]
    assert "${_IMAGE}:${BUILD_ID}" in tags
    push = steps["push"]["args"]
    assert "--all-tags" in push and push[-1] == "${_IMAGE}"
    assert steps["migrate"]["name"] == "${_IMAGE}:${BUILD_ID}"


def test_migrations_run_from_the_new_image_with_the_secret_database_url(build, steps):
    migrate = steps["migrate"]
    assert [migrate["entrypoint"], *migrate["args"]] == ["facecluster", "db", "migrate"]
    assert migrate["secretEnv"] == ["DATABASE_URL"]
    secret = build["availableSecrets"]["secretManager"]
    assert secret == [{"versionName": "projects/${PROJECT_ID}/secrets/facecluster-database-url/versions/latest",
                       "env": "DATABASE_URL"}]
    assert load_terraform().locals["secrets"]["DATABASE_URL"] == "facecluster-database-url"
    # Only the migration sees the database.
    assert [step["id"] for step in build["steps"] if step.get("secretEnv")] == ["migrate"]


def test_steps_run_in_order_build_push_migrate_then_deploy(build, steps):
    order = [step["id"] for step in build["steps"]]
    assert order.index("build") < order.index("push") < order.index("migrate")
    deploys = [step_id for step_id in order if step_id.startswith(("deploy-", "update-"))]
    for step_id in deploys:
        assert steps[step_id]["waitFor"] == ["migrate"], step_id


def test_every_service_and_the_job_get_the_new_image(steps):
    tf = load_terraform()
    services = [tf.locals["detect_service_name"], *tf.locals["functions"]]
    for service in services:
        script = steps[f"deploy-{service}"]["args"][-1]
        assert f"gcloud run services update {service} --image=${{_IMAGE}}:${{BUILD_ID}} --region=${{_REGION}}" in script
    jobs = [tf.locals["cluster_job_name"], tf.locals["reembed_job_name"]]
    for job in jobs:
        script = steps[f"update-{job}"]["args"][-1]
        assert f"gcloud run jobs update {job} --image=${{_IMAGE}}:${{BUILD_ID}} --region=${{_REGION}}" in script
    rollouts = [step_id for step_id in steps if step_id.startswith(("deploy-", "update-"))]
    assert len(rollouts) == len(services) + len(jobs)


def test_no_secret_in_the_file(build):
    text = CLOUDBUILD.read_text()
    for pattern in (r"postgres(ql)?://", r"eyJ[A-Za-z0-9_-]{10,}", r"Bearer\s+\S", r"sb_secret_", r"password"):
        assert not re.search(pattern, text, re.IGNORECASE), pattern
    # A bash variable ($VAR) in a step would be taken for a substitution; only ${_X} and built-ins are used.
    used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", text))
    assert used <= set(substitutions(build)) | {"PROJECT_ID", "BUILD_ID"}, used


def test_logs_go_to_cloud_logging_as_a_user_service_account_requires(build):
    assert build["options"]["logging"] == "CLOUD_LOGGING_ONLY"
