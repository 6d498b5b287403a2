# Terraform and provider versions. State lives in a GCS bucket of your choice:
#   terraform init -backend-config="bucket=<state-bucket>" -backend-config="prefix=facecluster"
# (docs/deployment.md). The state holds no secret value: secrets are created here empty and
# their values are added with `gcloud secrets versions add`, outside Terraform.
terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.10, < 7.0"
    }
  }

  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}

data "google_project" "this" {
  project_id = var.project_id
}
