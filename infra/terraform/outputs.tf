output "detect_service_url" {
  description = "URL of face-detect (private: only the push identity may invoke it)."
  value       = google_cloud_run_v2_service.detect.uri
}

output "function_urls" {
  description = "URLs of the app's functions, by service name: set them in the app (docs/deployment.md)."
  value       = { for name, service in google_cloud_run_v2_service.functions : name => service.uri }
}

output "callback_url" {
  description = "CALLBACK_URL as the workers use it (ml-callback's deterministic URL)."
  value       = local.callback_url
}

output "image" {
  description = "Image repository path Cloud Build pushes to (without tag)."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_repository}/facecluster"
}

output "detect_topic" {
  description = "Detection topic id (PUBSUB_TOPIC)."
  value       = google_pubsub_topic.detect.name
}

output "dead_letter_subscription" {
  description = "Pull subscription holding dead-lettered detection messages."
  value       = google_pubsub_subscription.detect_dead_letter_inspect.name
}

output "cluster_job" {
  description = "Cloud Run Job that clusters one event."
  value       = google_cloud_run_v2_job.cluster.name
}

output "reembed_job" {
  description = "Cloud Run Job that moves one event to another model pack (run by an operator)."
  value       = google_cloud_run_v2_job.reembed.name
}

output "secret_ids" {
  description = "Secret Manager secrets to fill with `gcloud secrets versions add`, by the variable they become."
  value       = { for name, secret in google_secret_manager_secret.app : name => secret.secret_id }
}

output "uploads_bucket" {
  description = "The optional uploads bucket (null when uploads_bucket_enabled is false)."
  value       = var.uploads_bucket_enabled ? google_storage_bucket.uploads[0].name : null
}

output "build_submit_command" {
  description = "The command that builds, migrates and deploys a release (run from the repository root)."
  value = join(" ", [
    "gcloud builds submit --config cloudbuild.yaml",
    "--region ${var.region}",
    "--service-account projects/${var.project_id}/serviceAccounts/${google_service_account.build.email}",
    "--gcs-source-staging-dir gs://${google_storage_bucket.build_staging.name}/source",
    "--substitutions _REGION=${var.region},_REPOSITORY=${var.artifact_repository},_MODEL_PACK=${var.model_pack}",
  ])
}
