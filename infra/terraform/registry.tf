# Where images are pushed, and where `gcloud builds submit` stages the source it uploads.

resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:The image holds open-source code and public model weights, no customer data; a customer-supplied key would add a KMS key ring to operate for nothing.
  location      = var.region
  repository_id = var.artifact_repository
  format        = "DOCKER"
  description   = "facecluster container images (one image: detection, functions, clustering job)"
  labels        = var.labels

  # Keep the last 10 versions; every build pushes a new one tagged with its commit.
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }

  depends_on = [google_project_service.enabled]
}

# Source archives uploaded by `gcloud builds submit --gcs-source-staging-dir=gs://<this>/source`.
# Its own bucket so the build service account reads this one bucket and nothing else.
resource "google_storage_bucket" "build_staging" {
  #checkov:skip=CKV_GCP_62:Access logs of throw-away build source archives would only duplicate Cloud Build's own audit trail.
  #checkov:skip=CKV_GCP_78:Versioning would keep deleted source archives; they are disposable and expire after 7 days.
  name                        = "${var.project_id}-facecluster-build"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true
  labels                      = var.labels

  lifecycle_rule {
    condition {
      age = 7
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.enabled]
}
