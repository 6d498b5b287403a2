# The sweeper: every sweeper_schedule, Cloud Scheduler POSTs {"type": "sweep"} to ml-callback,
# which restarts clustering jobs whose runner died, republishes detect jobs never claimed, and
# starts clustering of events whose detection finished (shared/pipeline/cluster_trigger.py `sweep`).
#
# Why it is needed although Pub/Sub redelivers detection messages and ml-callback re-runs
# clustering: both of those recoveries are driven by an event that may never come.
#  * A detect job whose message was lost (ml-enqueue committed the row, then the publish
#    failed) is never delivered: only a sweep republishes it.
#  * ml-callback re-runs a clustering job whose runner died when a callback arrives; when the
#    dead job was the event's last work, no callback arrives. A sweep restarts it.
#  * A signal to ml-callback lost after its retries, or dropped by the detection service's
#    bounded background queue (shared/pipeline/job_signal.py), delays follow-up work until the
#    event's next signal or this sweep.
#
# Authentication: ml-callback accepts workers by CALLBACK_SECRET (Bearer or X-Callback-Secret).
# Cloud Scheduler cannot read Secret Manager itself, so Terraform reads the current version at
# apply time and sets the header. The value is marked sensitive (never printed by plan/apply)
# but is stored in the Terraform state and in the Scheduler job: keep the state bucket as
# closed as the secret. After rotating CALLBACK_SECRET, run `terraform apply` again.

resource "google_service_account" "sweeper" {
  count        = var.sweeper_enabled ? 1 : 0
  account_id   = "facecluster-sweeper"
  display_name = "Cloud Scheduler identity of the facecluster sweep"
}

data "google_secret_manager_secret_version" "callback_secret" {
  count  = var.sweeper_enabled ? 1 : 0
  secret = google_secret_manager_secret.app["CALLBACK_SECRET"].secret_id
}

resource "google_cloud_scheduler_job" "sweeper" {
  count            = var.sweeper_enabled ? 1 : 0
  name             = "facecluster-sweep"
  description      = "Recover facecluster jobs left behind by lost messages or dead runners (POST {\"type\":\"sweep\"} to ml-callback)"
  region           = var.region
  schedule         = var.sweeper_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "120s"

  retry_config {
    retry_count          = 1
    min_backoff_duration = "30s"
  }

  http_target {
    http_method = "POST"
    uri         = local.callback_url
    body        = base64encode(jsonencode({ type = "sweep" }))
    headers = {
      "Content-Type"      = "application/json"
      "X-Callback-Secret" = data.google_secret_manager_secret_version.callback_secret[0].secret_data
    }
  }

  depends_on = [google_project_service.enabled, google_cloud_run_v2_service.functions]
}
