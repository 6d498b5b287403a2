"""The deployment guide (docs/deployment.md) names resources, secrets and services; they must exist
as named, or an operator following the guide runs commands that fail half-way through a first deploy."""

from __future__ import annotations

import re

from shared.settings import REPO_ROOT
from tests.deploy.terraform_config import load_terraform

GUIDE = (REPO_ROOT / "docs" / "deployment.md").read_text()


def test_bootstrap_targets_exist():
    tf = load_terraform()
    targets = re.findall(r"-target=(\w+)\.(\w+)", GUIDE)
    assert targets
    for type_, name in targets:
        assert (type_, name) in tf.resources, f"-target={type_}.{name} is not in infra/terraform"
    # The partial apply must create what the first build needs: the registry it pushes to,
    # the secret it migrates with, the bucket it reads its source from (dependencies included).
    assert {"google_artifact_registry_repository_iam_member", "google_secret_manager_secret_iam_member",
            "google_storage_bucket_iam_member", "google_secret_manager_secret"} <= {t for t, _ in targets}


def test_secret_names_in_the_guide_are_the_terraform_ones():
    secrets = set(load_terraform().locals["secrets"].values())
    named = set(re.findall(r"gcloud secrets versions add ([\w-]+)", GUIDE))
    assert named and named <= secrets
    assert secrets <= set(re.findall(r"facecluster-[a-z-]+", GUIDE))


def test_terraform_variables_in_the_guide_exist():
    variables = set(load_terraform().variables)
    table = GUIDE[GUIDE.index("Variables ("):GUIDE.index("### 3. Secret values")]
    first_cells = re.findall(r"^\| ([^|]+) \|", table, re.MULTILINE)[2:]  # after the header rows
    named = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert named and named <= variables, sorted(named - variables)


def test_the_guide_names_every_deployed_service():
    tf = load_terraform()
    for name in [tf.locals["detect_service_name"], tf.locals["cluster_job_name"], *tf.locals["functions"]]:
        assert f"`{name}`" in GUIDE, name


def test_the_files_the_guide_points_to_exist():
    named = set(re.findall(r"`((?:infra/terraform/[\w.-]+\.tf)|Dockerfile|cloudbuild\.yaml)`", GUIDE))
    assert named
    missing = sorted(path for path in named if not (REPO_ROOT / path).is_file())
    assert not missing, missing
