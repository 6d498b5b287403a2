# Detection queue: ml-enqueue publishes one message per image; Pub/Sub pushes each to
# face-detect with an OIDC token. A message whose worker died (no answer before the ack
# deadline) or failed transiently (5xx) is redelivered with exponential backoff; after
# detect_max_delivery_attempts it goes to the dead-letter topic, where it waits in a pull
# subscription for an operator (docs/deployment.md, Troubleshooting).

resource "google_pubsub_topic" "detect" {
  #checkov:skip=CKV_GCP_83:Messages hold ids and a storage location, no personal data; Google-managed encryption is enough.
  name                       = local.detect_topic_name
  labels                     = var.labels
  message_retention_duration = "86400s"

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "detect_dead_letter" {
  #checkov:skip=CKV_GCP_83:Same content as the detection topic; Google-managed encryption is enough.
  name   = "${local.detect_topic_name}-dead-letter"
  labels = var.labels

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "detect_push" {
  name   = "${local.detect_topic_name}-push"
  topic  = google_pubsub_topic.detect.id
  labels = var.labels

  # Fitted to one image: the detection request timeout is the same number (detection.tf).
  ack_deadline_seconds       = var.detect_ack_deadline_seconds
  message_retention_duration = "604800s"

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.detect_dead_letter.id
    max_delivery_attempts = var.detect_max_delivery_attempts
  }

  push_config {
    push_endpoint = google_cloud_run_v2_service.detect.uri

    oidc_token {
      service_account_email = google_service_account.push.email
      audience              = local.detect_audience
    }
  }

  # A subscription without traffic must not expire: uploads are bursty (one event a week).
  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_v2_service_iam_member.push_invokes_detect,
    google_service_account_iam_member.pubsub_mints_push_tokens,
    google_pubsub_topic_iam_member.pubsub_publishes_dead_letters,
  ]
}

# Dead letters wait here to be inspected and, once fixed, replayed
# (`gcloud pubsub subscriptions pull ml-detect-dead-letter-inspect`).
resource "google_pubsub_subscription" "detect_dead_letter_inspect" {
  name                       = "${local.detect_topic_name}-dead-letter-inspect"
  topic                      = google_pubsub_topic.detect_dead_letter.id
  labels                     = var.labels
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false

  expiration_policy {
    ttl = ""
  }
}
