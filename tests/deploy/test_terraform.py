"""The Terraform wiring that decides whether the deployed system works and stays closed.

Each test names one property a reviewer would otherwise have to trace by hand across files:
who may invoke the detection service, where dead letters go, which secrets reach which
component, that every environment variable is one the code reads.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from shared.face_analysis.packs import PACKS
from shared.settings import VARIABLES
from tests.deploy.terraform_config import TERRAFORM_DIR, block, load_terraform, parse_file

IAM_SUFFIXES = ("_iam_member", "_iam_binding", "_iam_policy")
SECRET_NAMES = {"CALLBACK_SECRET", "MEDIA_WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "DATABASE_URL",
                "SUPABASE_JWT_SECRET"}
FUNCTIONS = {"ml-enqueue": "ml_enqueue", "ml-callback": "ml_callback", "ml-media-inserted": "media_inserted",
             "face-persons": "face_persons", "face-person-actions": "face_person_actions",
             "face-selfie-search": "face_selfie_search"}


@pytest.fixture(scope="module")
def tf():
    return load_terraform()


def iam_grants(tf, account: str) -> dict[tuple[str, str], dict]:
    """Every IAM resource that grants something to google_service_account.<account>."""
    ref = f"google_service_account.{account}."
    return {key: body for key, body in tf.resources.items()
            if key[0].endswith(IAM_SUFFIXES) and ref in str(body.get("member", ""))}


def container(service: dict) -> dict:
    return block(block(service, "template"), "containers")


def env_blocks(container_body: dict) -> list[dict]:
    return [item["env"] for item in container_body.get("dynamic", []) if "env" in item]


def test_every_tf_file_parses():
    files = sorted(TERRAFORM_DIR.glob("*.tf"))
    assert len(files) >= 8
    for path in files:
        assert parse_file(path), f"{path.name} parsed to nothing"


def test_terraform_fmt_is_clean_when_terraform_is_installed():
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("no terraform binary on this machine (formatting is then not checked)")
    result = subprocess.run([terraform, f"-chdir={TERRAFORM_DIR}", "fmt", "-check", "-diff"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_variables_have_descriptions_and_types(tf):
    assert tf.variables
    for name, body in tf.variables.items():
        assert body.get("description", "").strip(), f"variable {name} has no description"
        assert "type" in body, f"variable {name} has no type"


def test_outputs_have_descriptions(tf):
    for name, body in tf.outputs.items():
        assert body.get("description", "").strip(), f"output {name} has no description"


def test_push_subscription_targets_the_detection_service_with_its_own_oidc_identity(tf):
    subscription = tf.resource("google_pubsub_subscription", "detect_push")
    assert subscription["topic"] == "${google_pubsub_topic.detect.id}"
    push = block(subscription, "push_config")
    assert push["push_endpoint"] == "${google_cloud_run_v2_service.detect.uri}"
    oidc = block(push, "oidc_token")
    assert oidc["service_account_email"] == "${google_service_account.push.email}"
    # The audience is set, Cloud Run accepts it, and the service checks the same value.
    assert oidc["audience"] == "${local.detect_audience}"
    detect = tf.resource("google_cloud_run_v2_service", "detect")
    assert detect["custom_audiences"] == ["${local.detect_audience}"]
    assert "PUSH_AUTH_AUDIENCE = local.detect_audience" in tf.locals["detect_env"]
    assert "PUSH_AUTH_SERVICE_ACCOUNT = google_service_account.push.email" in tf.locals["detect_env"]


def test_push_identity_may_only_invoke_the_detection_service(tf):
    grants = iam_grants(tf, "push")
    assert list(grants) == [("google_cloud_run_v2_service_iam_member", "push_invokes_detect")]
    grant = grants[("google_cloud_run_v2_service_iam_member", "push_invokes_detect")]
    assert grant["role"] == "roles/run.invoker"
    assert grant["name"] == "${google_cloud_run_v2_service.detect.name}"
    # Pub/Sub mints its tokens, on this one account (not project-wide token creation).
    minting = tf.resource("google_service_account_iam_member", "pubsub_mints_push_tokens")
    assert minting["service_account_id"] == "${google_service_account.push.name}"
    assert minting["role"] == "roles/iam.serviceAccountTokenCreator"
    assert minting["member"] == "${local.pubsub_agent}"


def test_detection_service_is_private(tf):
    detect = tf.resource("google_cloud_run_v2_service", "detect")
    assert detect["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    invokers = {key for key, body in tf.resources.items()
                if key[0] == "google_cloud_run_v2_service_iam_member"
                and body["name"] == "${google_cloud_run_v2_service.detect.name}"
                and body["role"] == "roles/run.invoker"}
    assert invokers == {("google_cloud_run_v2_service_iam_member", "push_invokes_detect")}
    assert "allUsers" not in str({k: v for k, v in tf.resources.items() if v.get("name") == detect["name"]})


def test_dead_letter_policy_and_the_iam_it_needs(tf):
    subscription = tf.resource("google_pubsub_subscription", "detect_push")
    dead_letter = block(subscription, "dead_letter_policy")
    assert dead_letter["dead_letter_topic"] == "${google_pubsub_topic.detect_dead_letter.id}"
    assert dead_letter["max_delivery_attempts"] == "${var.detect_max_delivery_attempts}"
    attempts = tf.variables["detect_max_delivery_attempts"]
    assert 5 <= attempts["default"] <= 100
    # Dead-lettered only after the job row has used up its own attempts.
    assert attempts["default"] >= tf.variables["job_max_attempts"]["default"]

    publisher = tf.resource("google_pubsub_topic_iam_member", "pubsub_publishes_dead_letters")
    assert publisher == {"topic": "${google_pubsub_topic.detect_dead_letter.name}",
                         "role": "roles/pubsub.publisher", "member": "${local.pubsub_agent}"}
    subscriber = tf.resource("google_pubsub_subscription_iam_member", "pubsub_acks_dead_lettered")
    assert subscriber == {"subscription": "${google_pubsub_subscription.detect_push.name}",
                          "role": "roles/pubsub.subscriber", "member": "${local.pubsub_agent}"}
    assert tf.locals["pubsub_agent"] == (
        "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com")

    inspect = tf.resource("google_pubsub_subscription", "detect_dead_letter_inspect")
    assert inspect["topic"] == "${google_pubsub_topic.detect_dead_letter.id}"
    assert "push_config" not in inspect, "dead letters are pulled by an operator, not pushed"


def test_retry_and_ack_deadline_fit_one_image(tf):
    subscription = tf.resource("google_pubsub_subscription", "detect_push")
    retry = block(subscription, "retry_policy")
    assert retry["minimum_backoff"] == "10s" and retry["maximum_backoff"] == "600s"
    assert subscription["ack_deadline_seconds"] == "${var.detect_ack_deadline_seconds}"
    # The request is cut when Pub/Sub stops waiting for it, and the job lease outlives both.
    template = block(tf.resource("google_cloud_run_v2_service", "detect"), "template")
    assert template["timeout"] == "${var.detect_ack_deadline_seconds}s"
    fetch_timeout = next(var.default for var in VARIABLES if var.name == "FETCH_TIMEOUT_SECONDS")
    ack = tf.variables["detect_ack_deadline_seconds"]["default"]
    assert fetch_timeout < ack < tf.variables["job_lease_seconds"]["default"]


def test_detection_service_sizing(tf):
    template = block(tf.resource("google_cloud_run_v2_service", "detect"), "template")
    assert template["max_instance_request_concurrency"] == "${2 * var.detect_cpu}"
    env = tf.locals["detect_env"]
    assert "RECOGNIZER_THREADS = tostring(var.detect_cpu)" in env  # one recogniser worker per vCPU
    scaling = block(template, "scaling")
    assert scaling == {"min_instance_count": "${var.detect_min_instances}",
                       "max_instance_count": "${var.detect_max_instances}"}
    limits = block(container(tf.resource("google_cloud_run_v2_service", "detect")), "resources")["limits"]
    assert limits == {"cpu": "${tostring(var.detect_cpu)}", "memory": "${var.detect_memory_mib}Mi"}
    memory = tf.variables["detect_memory_mib"]
    assert memory["default"] >= 2048
    assert "var.detect_memory_mib >= 2048" in block(memory, "validation")["condition"]
    assert "ORT_INTRA_OP_THREADS = \"1\"" in tf.locals["detect_env"]
    probe = block(container(tf.resource("google_cloud_run_v2_service", "detect")), "startup_probe")
    assert block(probe, "http_get")["path"] == "/health"


def test_functions_are_the_fixed_services_and_targets(tf):
    assert tf.locals["functions"] == FUNCTIONS
    functions = tf.resource("google_cloud_run_v2_service", "functions")
    assert functions["for_each"] == "${local.functions}"
    assert container(functions)["args"] == ["--target=${each.value}"]
    assert container(tf.resource("google_cloud_run_v2_service", "detect"))["args"] == ["--target=detect_push"]
    assert tf.locals["detect_service_name"] == "face-detect"
    public = tf.resource("google_cloud_run_v2_service_iam_member", "functions_public")
    assert public["for_each"] == "${google_cloud_run_v2_service.functions}"
    assert public["member"] == "allUsers" and public["role"] == "roles/run.invoker"


def test_selfie_search_is_sized_for_image_analysis_and_the_others_are_not(tf):
    """face-selfie-search runs the face models (CPU-bound): a few requests per vCPU, detection's memory."""
    template = block(tf.resource("google_cloud_run_v2_service", "functions"), "template")
    assert template["max_instance_request_concurrency"] == "${local.function_sizes[each.key].concurrency}"
    limits = block(container(tf.resource("google_cloud_run_v2_service", "functions")), "resources")["limits"]
    assert limits == {"cpu": "${tostring(local.function_sizes[each.key].cpu)}",
                      "memory": "${local.function_sizes[each.key].memory_mib}Mi"}
    sizes = tf.locals["function_sizes"]
    assert ('name == "face-selfie-search" ? {cpu = var.selfie_cpu, memory_mib = var.selfie_memory_mib, '
            'concurrency = 2 * var.selfie_cpu}') in sizes
    assert "{cpu = 1, memory_mib = var.functions_memory_mib, concurrency = 40}" in sizes
    assert 'name == "face-selfie-search" ? local.selfie_env : local.functions_env' in tf.locals["function_env"]
    # gunicorn serves as many requests at once as Cloud Run sends each function.
    assert "{THREADS = tostring(local.function_sizes[name].concurrency)}" in tf.locals["function_env"]
    assert [env["for_each"] for env in env_blocks(container(tf.resource("google_cloud_run_v2_service", "functions")))
            if "value_source" not in env["content"][0]] == ["${local.function_env[each.key]}"]
    # One onnxruntime thread per request, the photos' detector input.
    selfie_env = tf.locals["selfie_env"]
    for setting in ('ORT_INTRA_OP_THREADS = "1"', "DET_SIZE = var.det_size",
                    "DETECTION_THRESHOLD = tostring(var.detection_threshold)",
                    "SELFIE_RATE_LIMIT_PER_MINUTE = tostring(var.selfie_rate_limit_per_minute)"):
        assert setting in selfie_env, setting
    cpu, memory = tf.variables["selfie_cpu"], tf.variables["selfie_memory_mib"]
    assert cpu["default"] == 1 and "contains([1, 2, 4], var.selfie_cpu)" in block(cpu, "validation")["condition"]
    assert memory["default"] >= 2048
    assert "var.selfie_memory_mib >= 2048" in block(memory, "validation")["condition"]
    limit = next(var.default for var in VARIABLES if var.name == "SELFIE_RATE_LIMIT_PER_MINUTE")
    assert tf.variables["selfie_rate_limit_per_minute"]["default"] == limit


def test_functions_identity_may_publish_and_run_the_job_and_nothing_else(tf):
    grants = iam_grants(tf, "functions")
    assert set(grants) == {("google_pubsub_topic_iam_member", "functions_publish_detect"),
                           ("google_cloud_run_v2_job_iam_member", "functions_run_cluster")}
    publish = grants[("google_pubsub_topic_iam_member", "functions_publish_detect")]
    assert publish["topic"] == "${google_pubsub_topic.detect.name}"
    assert publish["role"] == "roles/pubsub.publisher"
    run = grants[("google_cloud_run_v2_job_iam_member", "functions_run_cluster")]
    assert run["name"] == "${google_cloud_run_v2_job.cluster.name}"
    assert run["role"] == "roles/run.jobsExecutorWithOverrides"


def test_runtime_identities_hold_nothing_but_their_secrets(tf):
    for account in ("detect", "cluster"):
        grants = {key for key in iam_grants(tf, account)}
        allowed = {("google_storage_bucket_iam_member", "detect_reads_uploads")} if account == "detect" else set()
        assert grants <= allowed, f"{account} holds {grants - allowed}"
    reads = tf.resource("google_secret_manager_secret_iam_member", "runtime_reads")
    assert reads["for_each"] == "${local.secret_access}"
    assert reads["role"] == "roles/secretmanager.secretAccessor"
    assert tf.locals["runtime_accounts"] == {
        name: f"${{google_service_account.{name}}}" for name in ("detect", "functions", "cluster")}


def test_no_project_wide_grant_but_the_build_log_writer(tf):
    project_grants = {key: body for key, body in tf.resources.items() if key[0].startswith("google_project_iam")}
    assert set(project_grants) == {("google_project_iam_member", "build_writes_logs")}
    assert project_grants[("google_project_iam_member", "build_writes_logs")]["role"] == "roles/logging.logWriter"
    authoritative = [key for key in tf.resources if key[0].endswith(("_iam_binding", "_iam_policy"))]
    assert not authoritative, "authoritative IAM would remove bindings made outside Terraform"


def test_secrets_are_referenced_never_inlined(tf):
    assert set(tf.locals["secrets"]) == SECRET_NAMES
    assert not tf.of_type("google_secret_manager_secret_version"), "secret values must not pass through Terraform"
    # One secret value is read (the sweeper's header, see below) and used nowhere else.
    assert [key for key in tf.data if key[0] == "google_secret_manager_secret_version"] == [
        ("google_secret_manager_secret_version", "callback_secret")]
    uses = [name for name, text in tf.files.items() if "secret_version.callback_secret" in text]
    assert uses == ["sweeper.tf"]
    assert "secret_data" not in str(tf.outputs)
    for component, names in tf.locals["secret_readers"].items():
        assert set(names) <= SECRET_NAMES, component
    workloads = [tf.resource("google_cloud_run_v2_service", "detect"),
                 tf.resource("google_cloud_run_v2_service", "functions")]
    containers = [container(body) for body in workloads]
    containers.append(block(block(block(tf.resource("google_cloud_run_v2_job", "cluster"), "template"),
                                  "template"), "containers"))
    for body in containers:
        envs = env_blocks(body)
        secret_envs = [env for env in envs if "value_source" in env["content"][0]]
        assert len(secret_envs) == 1
        ref = block(block(secret_envs[0]["content"][0], "value_source"), "secret_key_ref")
        assert ref["secret"] == "${google_secret_manager_secret.app[env.value].secret_id}"
        assert secret_envs[0]["for_each"].startswith("${toset(local.secret_readers.")
    # No plain environment map names a secret variable.
    plain = " ".join(str(tf.locals[name]) for name in ("common_env", "detect_env", "functions_env", "selfie_env",
                                                            "cluster_env"))
    for name in SECRET_NAMES:
        assert f"{name} =" not in plain and f"'{name}'" not in plain, name


def test_environment_variable_names_are_the_ones_the_code_reads(tf):
    known = {var.name for var in VARIABLES} | {"THREADS"}  # THREADS: functions-framework's gunicorn
    names = set(tf.locals["common_env"])
    for local_name in ("detect_env", "functions_env", "selfie_env", "cluster_env"):
        names |= set(re.findall(r"\b([A-Z][A-Z0-9_]+) =", tf.locals[local_name]))
    names |= set(re.findall(r"\b([A-Z][A-Z0-9_]+) +=", tf.files["functions.tf"]))
    names |= set(tf.locals["secrets"])
    assert names, "no environment found"
    assert names <= known, f"not read by shared/settings.py: {sorted(names - known)}"


def test_clustering_job(tf):
    job = tf.resource("google_cloud_run_v2_job", "cluster")
    assert job["name"] == "${local.cluster_job_name}" and tf.locals["cluster_job_name"] == "face-cluster"
    task = block(block(job, "template"), "template")
    assert task["timeout"] == "${var.cluster_task_timeout_seconds}s"
    assert task["max_retries"] == "${var.cluster_max_retries}"
    assert task["service_account"] == "${google_service_account.cluster.email}"
    body = block(task, "containers")
    assert body["command"] == ["python", "-m", "jobs.cluster_event"]
    assert block(body, "resources")["limits"]["memory"] == "${var.cluster_memory_mib}Mi"


def test_images_are_rolled_out_by_cloud_build_not_reverted_by_terraform(tf):
    for key in (("google_cloud_run_v2_service", "detect"), ("google_cloud_run_v2_service", "functions")):
        assert "${template[0].containers[0].image}" in block(tf.resource(*key), "lifecycle")["ignore_changes"]
    job = tf.resource("google_cloud_run_v2_job", "cluster")
    assert "${template[0].template[0].containers[0].image}" in block(job, "lifecycle")["ignore_changes"]


def test_model_pack_choices_are_the_packs_the_code_knows(tf):
    validation = block(tf.variables["model_pack"], "validation")["condition"]
    assert set(re.findall(r'"([^"]+)"', validation)) == set(PACKS)
    assert tf.variables["model_pack"]["default"] in PACKS


def test_uploads_bucket_notifies_the_detection_topic(tf):
    notification = tf.resource("google_storage_notification", "uploads_to_detect")
    assert notification["topic"] == "${google_pubsub_topic.detect.id}"
    assert notification["event_types"] == ["OBJECT_FINALIZE"]
    assert notification["payload_format"] == "JSON_API_V1"
    publisher = tf.resource("google_pubsub_topic_iam_member", "gcs_publishes_uploads")
    assert publisher["role"] == "roles/pubsub.publisher"
    assert "gcs_agent" in publisher["member"]


def test_sweeper_calls_ml_callback_with_the_callback_secret_from_secret_manager(tf):
    job = tf.resource("google_cloud_scheduler_job", "sweeper")
    target = block(job, "http_target")
    assert target["uri"] == "${local.callback_url}"
    assert target["http_method"] == "POST"
    assert target["body"] == '${base64encode(jsonencode({type = "sweep"}))}'
    # The header ml-callback's worker authentication reads, filled from Secret Manager.
    assert target["headers"]["X-Callback-Secret"] == (
        "${data.google_secret_manager_secret_version.callback_secret[0].secret_data}")
    source = tf.data[("google_secret_manager_secret_version", "callback_secret")]
    assert source["secret"] == '${google_secret_manager_secret.app["CALLBACK_SECRET"].secret_id}'
    assert iam_grants(tf, "sweeper") == {}, "ml-callback is public; the sweeper needs no role"


def test_every_checkov_skip_gives_a_reason():
    skips = []
    for path in TERRAFORM_DIR.glob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip" in line:
                match = re.fullmatch(r"\s*#checkov:skip=CKV2?_[A-Z]+_\d+:(.{20,})", line)
                assert match, f"{path.name}: skip without a reason: {line.strip()}"
                skips.append(line)
    assert skips, "expected the documented skips"
