# Identities and the only permissions each one has.
#
#   facecluster-detect     runs face-detect:    reads its 3 secrets (and the optional uploads bucket)
#   facecluster-functions  runs the 4 functions: reads its 4 secrets, publishes to ml-detect,
#                                                runs face-cluster with overrides
#   facecluster-cluster    runs face-cluster:   reads its 2 secrets
#   facecluster-push       Pub/Sub's OIDC identity: invokes face-detect, nothing else
#   facecluster-sweeper    Cloud Scheduler's identity for the sweep (sweeper.tf): no role at all
#   facecluster-build      Cloud Build: pushes the image, reads DATABASE_URL for migrations,
#                          rolls out the services and the job
#
# Every binding is on a single resource (service, job, topic, secret, bucket, service
# account), never on the project, except Cloud Build's log writer which has no narrower form.

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"

  # (component, variable) pairs for the secret accessor bindings.
  secret_access = merge([
    for component, names in local.secret_readers : {
      for name in names : "${component}/${name}" => { component = component, secret = name }
    }
  ]...)

  runtime_accounts = {
    detect    = google_service_account.detect
    functions = google_service_account.functions
    cluster   = google_service_account.cluster
  }
}

resource "google_service_account" "detect" {
  account_id   = "facecluster-detect"
  display_name = "facecluster detection service (face-detect)"
}

resource "google_service_account" "functions" {
  account_id   = "facecluster-functions"
  display_name = "facecluster app functions (ml-enqueue, ml-callback, face-persons, face-person-actions, face-selfie-search)"
}

resource "google_service_account" "cluster" {
  account_id   = "facecluster-cluster"
  display_name = "facecluster clustering job (face-cluster)"
}

resource "google_service_account" "push" {
  account_id   = "facecluster-push"
  display_name = "Pub/Sub push identity: invokes face-detect"
}

resource "google_service_account" "build" {
  account_id   = "facecluster-build"
  display_name = "Cloud Build: builds, migrates and deploys facecluster"
}

# --- Pub/Sub push -> face-detect ------------------------------------------------------

# The push identity may invoke the detection service and nothing else.
resource "google_cloud_run_v2_service_iam_member" "push_invokes_detect" {
  name     = google_cloud_run_v2_service.detect.name
  location = google_cloud_run_v2_service.detect.location
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.push.email}"
}

# Pub/Sub mints the push identity's OIDC tokens. Granted on that one account only.
resource "google_service_account_iam_member" "pubsub_mints_push_tokens" {
  service_account_id = google_service_account.push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

# --- Dead-lettering: Pub/Sub's own agent forwards and acknowledges -------------------

resource "google_pubsub_topic_iam_member" "pubsub_publishes_dead_letters" {
  topic  = google_pubsub_topic.detect_dead_letter.name
  role   = "roles/pubsub.publisher"
  member = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_acks_dead_lettered" {
  subscription = google_pubsub_subscription.detect_push.name
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}

# --- Functions: publish detection messages, start clustering --------------------------

resource "google_pubsub_topic_iam_member" "functions_publish_detect" {
  topic  = google_pubsub_topic.detect.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${google_service_account.functions.email}"
}

# ml-enqueue (and ml-callback's re-run rule) start face-cluster with per-event overrides:
# the narrowest predefined role that carries run.jobs.runWithOverrides, on this job only.
resource "google_cloud_run_v2_job_iam_member" "functions_run_cluster" {
  name     = google_cloud_run_v2_job.cluster.name
  location = google_cloud_run_v2_job.cluster.location
  role     = "roles/run.jobsExecutorWithOverrides"
  member   = "serviceAccount:${google_service_account.functions.email}"
}

# --- Secrets: each runtime identity reads only what its component uses ----------------

resource "google_secret_manager_secret_iam_member" "runtime_reads" {
  for_each  = local.secret_access
  secret_id = google_secret_manager_secret.app[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${local.runtime_accounts[each.value.component].email}"
}

# --- Cloud Build ----------------------------------------------------------------------

resource "google_artifact_registry_repository_iam_member" "build_pushes_images" {
  location   = google_artifact_registry_repository.images.location
  repository = google_artifact_registry_repository.images.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.build.email}"
}

resource "google_storage_bucket_iam_member" "build_reads_source" {
  bucket = google_storage_bucket.build_staging.name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.build.email}"
}

# `facecluster db migrate` in the build reads the connection string.
resource "google_secret_manager_secret_iam_member" "build_reads_database_url" {
  secret_id = google_secret_manager_secret.app["DATABASE_URL"].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.build.email}"
}

# A build running as a user-chosen service account must write its logs itself; Cloud
# Logging has no per-resource role for this.
resource "google_project_iam_member" "build_writes_logs" {
  project = var.project_id
  role    = "roles/logging.logWriter"
  member  = "serviceAccount:${google_service_account.build.email}"
}

resource "google_cloud_run_v2_service_iam_member" "build_updates_detect" {
  name     = google_cloud_run_v2_service.detect.name
  location = google_cloud_run_v2_service.detect.location
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.build.email}"
}

resource "google_cloud_run_v2_service_iam_member" "build_updates_functions" {
  for_each = google_cloud_run_v2_service.functions
  name     = each.value.name
  location = each.value.location
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.build.email}"
}

resource "google_cloud_run_v2_job_iam_member" "build_updates_cluster" {
  name     = google_cloud_run_v2_job.cluster.name
  location = google_cloud_run_v2_job.cluster.location
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.build.email}"
}

# Deploying a revision that runs as a runtime identity requires acting as it.
resource "google_service_account_iam_member" "build_acts_as_runtime" {
  for_each           = local.runtime_accounts
  service_account_id = each.value.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.build.email}"
}
