# The secrets, created empty: their values never pass through Terraform (nor its
# state). Add them once with, e.g.
#   printf %s "$VALUE" | gcloud secrets versions add facecluster-database-url --data-file=-
# Cloud Run mounts the `latest` version as an environment variable of the same name as
# the key below; a new version reaches new instances (or `gcloud run services update`).

resource "google_secret_manager_secret" "app" {
  #checkov:skip=CKV_GCP_128:Google-managed encryption is enough for these values; a customer-managed key would add a KMS key ring to operate for no requirement of this app.
  for_each  = local.secrets
  secret_id = each.value
  labels    = var.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}
