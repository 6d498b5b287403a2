# The sweeper: every sweeper_schedule, Cloud Scheduler POSTs {"type": "sweep"} to ml-callback.
#
# Why it is needed although Pub/Sub redelivers detection messages and ml-callback re-runs
# clustering: both of those recoveries are driven by an event that may never come.
#  * A detection message that is dead-lettered (or that ml-enqueue failed to publish after
#    it inserted the job row) leaves its job `pending`/`processing` forever: nothing will
#    deliver it again, so only a sweep can fail it or publish it anew.
#  * ml-callback re-runs a clustering job whose worker died when a callback arrives; when
#    the dead job was the event's last work, no callback arrives. A sweep starts it.
#  * A callback lost after its retries (shared/callback_client.py) delays follow-up work
#    "until the next callback or sweep".
# The sweep re-queues jobs whose lease expired and fails those out of attempts.
#
# Authentication: an OIDC token of facecluster-sweeper with the ml-callback URL as audience,
# which ml-callback verifies like face-detect verifies Pub/Sub's (PUSH_AUTH_* on ml-callback,
# functions.tf). No secret is copied into the Scheduler job or the Terraform state.

resource "google_service_account" "sweeper" {
  count        = var.sweeper_enabled ? 1 : 0
  account_id   = "facecluster-sweeper"
  display_name = "Cloud Scheduler identity of the facecluster sweep (OIDC to ml-callback)"
}

resource "google_cloud_scheduler_job" "sweeper" {
  count            = var.sweeper_enabled ? 1 : 0
  name             = "facecluster-sweep"
  description      = "Re-queue facecluster jobs whose lease expired (POST {\"type\":\"sweep\"} to ml-callback)"
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
    headers     = { "Content-Type" = "application/json" }

    oidc_token {
      service_account_email = google_service_account.sweeper[0].email
      audience              = local.callback_url
    }
  }

  depends_on = [google_project_service.enabled, google_cloud_run_v2_service.functions]
}
