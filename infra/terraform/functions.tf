# The app's HTTP functions, one Cloud Run service each, all from the same image with a
# different functions-framework target. They are the app's public API: each one checks
# the caller itself (a Supabase user JWT, CALLBACK_SECRET for ml-callback, MEDIA_WEBHOOK_SECRET
# for ml-media-inserted, which Supabase's pg_net calls and which cannot present a Google
# identity token), so Cloud Run lets unauthenticated requests through to them.

resource "google_cloud_run_v2_service" "functions" {
  for_each            = local.functions
  name                = each.key
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false
  labels              = var.labels

  template {
    service_account                  = google_service_account.functions.email
    timeout                          = "60s"
    max_instance_request_concurrency = local.function_sizes[each.key].concurrency
    labels                           = var.labels

    scaling {
      min_instance_count = 0
      max_instance_count = var.functions_max_instances
    }

    containers {
      image = local.image
      args  = ["--target=${each.value}"]

      resources {
        limits = {
          cpu    = tostring(local.function_sizes[each.key].cpu)
          memory = "${local.function_sizes[each.key].memory_mib}Mi"
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      ports {
        container_port = 8080
      }

      dynamic "env" {
        for_each = local.function_env[each.key]
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(local.secret_readers.functions)
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

  lifecycle {
    ignore_changes = [template[0].containers[0].image, client, client_version]
  }

  depends_on = [google_secret_manager_secret_iam_member.runtime_reads]
}

resource "google_cloud_run_v2_service_iam_member" "functions_public" {
  #checkov:skip=CKV_GCP_102:The app's functions are its public API; every request is authenticated in the function (Supabase JWT, callback or webhook secret), which Cloud Run IAM cannot do.
  for_each = google_cloud_run_v2_service.functions
  name     = each.value.name
  location = each.value.location
  role     = "roles/run.invoker"
  member   = "allUsers"
}
