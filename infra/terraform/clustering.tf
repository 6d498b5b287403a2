# face-cluster: clusters one event's faces. ml-enqueue (and ml-callback's re-run rule) start
# an execution through the Cloud Run Jobs API with the event id as an override
# (`--event-id <uuid>` or EVENT_ID).

resource "google_cloud_run_v2_job" "cluster" {
  name                = local.cluster_job_name
  location            = var.region
  deletion_protection = false
  labels              = var.labels

  template {
    task_count  = 1
    parallelism = 1
    labels      = var.labels

    template {
      service_account = google_service_account.cluster.email
      timeout         = "${var.cluster_task_timeout_seconds}s"
      max_retries     = var.cluster_max_retries

      containers {
        image   = local.image
        command = ["python", "-m", "jobs.cluster_event"]

        resources {
          limits = {
            cpu    = tostring(var.cluster_cpu)
            memory = "${var.cluster_memory_mib}Mi"
          }
        }

        dynamic "env" {
          for_each = local.cluster_env
          content {
            name  = env.key
            value = env.value
          }
        }

        dynamic "env" {
          for_each = toset(local.secret_readers.cluster)
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
