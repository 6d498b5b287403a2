# face-detect: the Pub/Sub push endpoint (functions-framework target detect_push). Private:
# internal ingress (Pub/Sub in this project counts as internal) and IAM-checked OIDC tokens
# from the push identity only.

resource "google_cloud_run_v2_service" "detect" {
  name                = local.detect_service_name
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false
  labels              = var.labels
  # The deterministic URL as an extra accepted audience: the push subscription and the
  # service's own token check (PUSH_AUTH_AUDIENCE) both use it.
  custom_audiences = [local.detect_audience]

  template {
    service_account = google_service_account.detect.email
    timeout         = "${var.detect_ack_deadline_seconds}s"
    # CPU-bound: the recogniser gets one thread per vCPU (RECOGNIZER_THREADS; dlib packs: one worker
    # process per vCPU), and two requests per vCPU keep the cores busy while other requests
    # fetch, decode and detect (measured with dlib: 2 workers with 4 images in flight double the
    # throughput of one at a time).
    max_instance_request_concurrency = 2 * var.detect_cpu
    labels                           = var.labels

    scaling {
      min_instance_count = var.detect_min_instances
      max_instance_count = var.detect_max_instances
    }

    containers {
      image = local.image
      args  = ["--target=detect_push"]

      resources {
        limits = {
          cpu    = tostring(var.detect_cpu)
          memory = "${var.detect_memory_mib}Mi"
        }
        # CPU only while requests run (request-based billing; push traffic is bursty); boosted while
        # the models load. The signal to ml-callback is sent by a background thread after the ack
        # (shared/pipeline/job_signal.py): with cpu_idle = true that thread only gets CPU while the
        # instance serves another request, so during a burst signals go out at once, and the last
        # ones of a burst may wait for the next request or for the sweep (sweeper_schedule, 10 min).
        # cpu_idle = false (instance-based billing) would send them at once, at the price of every
        # idle instance's lifetime (Cloud Run keeps one up to 15 min after its last request): a
        # guest uploading a photo every few minutes would keep a 2-vCPU instance billed all
        # evening for seconds of work. Clustering a few minutes later is the cheaper trade; the
        # incremental assignment already places new faces of known persons at detection time.
        cpu_idle          = true
        startup_cpu_boost = true
      }

      ports {
        container_port = 8080
      }

      dynamic "env" {
        for_each = local.detect_env
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(local.secret_readers.detect)
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

      startup_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 5
        timeout_seconds   = 3
        failure_threshold = 24
      }

      liveness_probe {
        http_get {
          path = "/health"
        }
        period_seconds    = 30
        timeout_seconds   = 5
        failure_threshold = 3
      }
    }
  }

  # Cloud Build rolls out new images (cloudbuild.yaml); Terraform owns everything else.
  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_iam_member.runtime_reads]
}
