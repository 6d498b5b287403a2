# Optional (uploads_bucket_enabled): a Cloud Storage bucket for uploads, for deployments that
# keep media in GCS rather than Supabase Storage. Each finished upload (OBJECT_FINALIZE)
# publishes a notification to the detection topic, so detection starts without a call to
# ml-enqueue. Those messages carry Cloud Storage's attributes (eventType, bucketId,
# objectId) instead of a detection message; detect_push recognises them by those attributes
# and maps the object to its media row by storage path (shared/pipeline/upload_notifications.py).

locals {
  uploads_bucket_name = var.uploads_bucket_name != "" ? var.uploads_bucket_name : "${var.project_id}-facecluster-uploads"
}

data "google_storage_project_service_account" "gcs_agent" {
  count = var.uploads_bucket_enabled ? 1 : 0
}

resource "google_storage_bucket" "uploads" {
  #checkov:skip=CKV_GCP_62:Object access is already in Cloud Audit Logs (data access logs can be enabled there); bucket access logs would duplicate them.
  count                       = var.uploads_bucket_enabled ? 1 : 0
  name                        = local.uploads_bucket_name
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = var.labels

  versioning {
    enabled = true
  }

  # Deleted photos must really go (GDPR): old versions are removed after 7 days.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Cloud Storage's own agent publishes the notifications.
resource "google_pubsub_topic_iam_member" "gcs_publishes_uploads" {
  count  = var.uploads_bucket_enabled ? 1 : 0
  topic  = google_pubsub_topic.detect.name
  role   = "roles/pubsub.publisher"
  member = "serviceAccount:${data.google_storage_project_service_account.gcs_agent[0].email_address}"
}

resource "google_storage_notification" "uploads_to_detect" {
  count          = var.uploads_bucket_enabled ? 1 : 0
  bucket         = google_storage_bucket.uploads[0].name
  topic          = google_pubsub_topic.detect.id
  payload_format = "JSON_API_V1"
  event_types    = ["OBJECT_FINALIZE"]

  depends_on = [google_pubsub_topic_iam_member.gcs_publishes_uploads]
}

# The detection service reads the uploaded objects, from this bucket only.
resource "google_storage_bucket_iam_member" "detect_reads_uploads" {
  count  = var.uploads_bucket_enabled ? 1 : 0
  bucket = google_storage_bucket.uploads[0].name
  role   = "roles/storage.objectViewer"
  member = "serviceAccount:${google_service_account.detect.email}"
}
