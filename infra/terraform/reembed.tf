# face-reembed: moves one event to another model pack (`facecluster reembed`), keeping every
# piece of user work. Nothing starts it by itself: an operator executes it after changing
# model_pack, once per event to move, e.g.
#   gcloud run jobs execute face-reembed --region <region> --args=--event,<uuid>
# It does what face-detect does for every photo of the event, so it runs as face-detect's
# identity (database, Storage signing key, the uploads bucket) with the same analysis settings.

resource "google_cloud_run_v2_job" "reembed" {
  name                = local.reembed_job_name
  location            = var.region
  deletion_protection = false
  labels              = var.labels

  template {
    task_count  = 1
    parallelism = 1
    labels      = var.labels

    template {
      service_account = google_service_account.detect.email
      timeout         = "${var.reembed_task_timeout_seconds}s"
      # A run that died is taken over by the next one (its ml_jobs lease), and a completed one
      # makes the next a no-op: one retry is safe.
      max_retries = 1

      containers {
        image   = local.image
        command = ["python", "-m", "jobs.reembed_event"]

        resources {
          limits = {
            cpu    = tostring(var.reembed_cpu)
            memory = "${var.reembed_memory_mib}Mi"
          }
        }

        dynamic "env" {
          for_each = local.reembed_env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = toset(local.secret_readers.reembed)
          content {
            name = env.value
            value_source {
              secret_key_ref {
                secret  = google_secret_manager_secret.app[env.value].secret_id
                version = "latest"
              }
            }
          }
        }
      }
    }
  }

  lifecycle {
    ignore_changes = [template[0].template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_iam_member.runtime_reads]
}

resource "google_cloud_run_v2_job_iam_member" "build_updates_reembed" {
  name     = google_cloud_run_v2_job.reembed.name
  location = google_cloud_run_v2_job.reembed.location
  role     = "roles/run.developer"
  member   = "serviceAccount:${google_service_account.build.email}"
}
