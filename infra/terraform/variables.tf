# Inputs. Only project_id, supabase_url and app_origins have no default
# (terraform.tfvars.example lists what a deployment usually sets).

variable "project_id" {
  description = "Google Cloud project that hosts facecluster."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, Artifact Registry, Pub/Sub storage and Cloud Scheduler."
  type        = string
  default     = "europe-west1"
}

variable "image_tag" {
  description = "Tag of the facecluster image Terraform deploys when it creates a service; later releases are rolled out by Cloud Build (cloudbuild.yaml), which Terraform then leaves alone."
  type        = string
  default     = "latest"
}

variable "artifact_repository" {
  description = "Artifact Registry (Docker) repository id for the facecluster image."
  type        = string
  default     = "facecluster"
}

variable "model_pack" {
  description = "Model pack baked into the image (build argument MODEL_PACK); must match the pack Cloud Build builds with (_MODEL_PACK)."
  type        = string
  default     = "yunet-reid256"

  validation {
    condition     = contains(["yunet-reid256", "yunet-reid256-int8", "yunet-dlib", "scrfd-dlib", "scrfd25-dlib", "buffalo_l"], var.model_pack)
    error_message = "model_pack must be one of yunet-reid256, yunet-reid256-int8, yunet-dlib, scrfd-dlib, scrfd25-dlib, buffalo_l."
  }
}

variable "supabase_url" {
  description = "Supabase project URL, https://<project>.supabase.co (SUPABASE_URL)."
  type        = string
}

variable "supabase_jwks_url" {
  description = "SUPABASE_JWKS_URL, for projects whose access tokens are signed with asymmetric keys (https://<project>.supabase.co/auth/v1/.well-known/jwks.json); empty when they use the HS256 JWT secret."
  type        = string
  default     = ""
}

variable "storage_bucket" {
  description = "Supabase Storage bucket holding the event media (STORAGE_BUCKET)."
  type        = string
  default     = "event-media"
}

variable "app_origins" {
  description = "Origins allowed to call the functions from a browser (CORS_ALLOWED_ORIGINS), e.g. [\"https://app.example.com\"]."
  type        = list(string)
}

variable "log_level" {
  description = "LOG_LEVEL of every component: DEBUG, INFO, WARNING or ERROR."
  type        = string
  default     = "INFO"
}

# --- Detection service (face-detect) --------------------------------------------------

variable "detect_cpu" {
  description = "vCPUs of one detection instance. Its request concurrency is twice this number, one core per running request (ORT_INTRA_OP_THREADS=1): one request decodes or waits on I/O while another computes."
  type        = number
  default     = 2

  validation {
    condition     = contains([1, 2, 4, 8], var.detect_cpu)
    error_message = "detect_cpu must be 1, 2, 4 or 8."
  }
}

variable "detect_memory_mib" {
  description = "Memory of one detection instance in MiB; at least 2048 (models plus up to one decoded 80-megapixel image per request)."
  type        = number
  default     = 2048

  validation {
    condition     = var.detect_memory_mib >= 2048
    error_message = "detect_memory_mib must be at least 2048 (2 GiB)."
  }
}

variable "detect_min_instances" {
  description = "Detection instances kept warm; 0 scales to zero between uploads (a cold start loads the models, a few seconds)."
  type        = number
  default     = 0
}

variable "detect_max_instances" {
  description = "Upper bound on detection instances: caps cost and the number of database connections (each instance holds a small pool)."
  type        = number
  default     = 10
}

variable "detect_ack_deadline_seconds" {
  description = "Pub/Sub ack deadline of the push subscription, also the detection request timeout: one image's fetch (FETCH_TIMEOUT_SECONDS, 30 s) plus decoding, detection and embedding (a few seconds on one core), with room for a large HEIC."
  type        = number
  default     = 120

  validation {
    condition     = var.detect_ack_deadline_seconds >= 10 && var.detect_ack_deadline_seconds <= 600
    error_message = "detect_ack_deadline_seconds must be between 10 and 600 (Pub/Sub's limits)."
  }
}

variable "detect_max_delivery_attempts" {
  description = "Deliveries of one detection message before it is dead-lettered. Above JOB_MAX_ATTEMPTS so that the job row records the failure before the message is set aside."
  type        = number
  default     = 10

  validation {
    condition     = var.detect_max_delivery_attempts >= 5 && var.detect_max_delivery_attempts <= 100
    error_message = "detect_max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "detection_threshold" {
  description = "DETECTION_THRESHOLD; null keeps the pack's default."
  type        = number
  default     = null
}

variable "det_size" {
  description = "DET_SIZE, detector input size: N or WxH. 1280 as in the app's settings: at 640, 6 % of the small faces of event photos were missed."
  type        = string
  default     = "1280"
}

# --- Jobs and leases ------------------------------------------------------------------

variable "job_lease_seconds" {
  description = "JOB_LEASE_SECONDS: how long a claimed job is held. Longer than the ack deadline, so a redelivered message never steals a job that is still being worked on."
  type        = number
  default     = 300
}

variable "job_max_attempts" {
  description = "JOB_MAX_ATTEMPTS: attempts before a job fails for good."
  type        = number
  default     = 5
}

# --- Clustering job (face-cluster) ----------------------------------------------------

variable "cluster_cpu" {
  description = "vCPUs of the clustering task (HDBSCAN over one event's faces)."
  type        = number
  default     = 2
}

variable "cluster_memory_mib" {
  description = "Memory of the clustering task in MiB: embeddings plus HDBSCAN's distance structures for the largest event."
  type        = number
  default     = 4096
}

variable "cluster_task_timeout_seconds" {
  description = "Timeout of one clustering task; an event of ten thousand faces clusters in well under a minute, the margin covers a slow database."
  type        = number
  default     = 900
}

variable "cluster_max_retries" {
  description = "Retries of a failed clustering task by Cloud Run before ml-callback's rule or the sweeper take over."
  type        = number
  default     = 2
}

# --- Re-embedding job (face-reembed) --------------------------------------------------

variable "reembed_cpu" {
  description = "vCPUs of the re-embedding task (analyses every photo of one event, like face-detect)."
  type        = number
  default     = 2
}

variable "reembed_memory_mib" {
  description = "Memory of the re-embedding task in MiB: the new pack's models and the event's new faces with their thumbnails."
  type        = number
  default     = 4096
}

variable "reembed_task_timeout_seconds" {
  description = "Timeout of one re-embedding task: about 0.1-0.2 s per photo on 2 vCPU, so an hour covers an event of 10,000 photos."
  type        = number
  default     = 3600
}

variable "min_cluster_size" {
  description = "MIN_CLUSTER_SIZE (HDBSCAN); null keeps the model's default."
  type        = number
  default     = null
}

variable "min_samples" {
  description = "MIN_SAMPLES (HDBSCAN); null keeps the model's default."
  type        = number
  default     = null
}

variable "cluster_epsilon" {
  description = "CLUSTER_EPSILON (HDBSCAN cluster_selection_epsilon); null keeps the model's default."
  type        = number
  default     = null
}

# --- Functions ------------------------------------------------------------------------

variable "functions_memory_mib" {
  description = "Memory of each app function's instance in MiB (face-selfie-search: selfie_memory_mib)."
  type        = number
  default     = 1024
}

variable "functions_max_instances" {
  description = "Upper bound on instances of each app function."
  type        = number
  default     = 10
}

# --- Selfie search (face-selfie-search) -----------------------------------------------

variable "selfie_cpu" {
  description = "vCPUs of one face-selfie-search instance. Its request concurrency is twice this: each search analyses a photo, CPU-bound, with one onnxruntime thread."
  type        = number
  default     = 1

  validation {
    condition     = contains([1, 2, 4], var.selfie_cpu)
    error_message = "selfie_cpu must be 1, 2 or 4."
  }
}

variable "selfie_memory_mib" {
  description = "Memory of one face-selfie-search instance in MiB; at least 2048, as detection (the face models, ~0.6 GB, plus up to one decoded photo per request)."
  type        = number
  default     = 2048

  validation {
    condition     = var.selfie_memory_mib >= 2048
    error_message = "selfie_memory_mib must be at least 2048 (2 GiB)."
  }
}

variable "selfie_rate_limit_per_minute" {
  description = "SELFIE_RATE_LIMIT_PER_MINUTE: selfie searches per member and minute, across all instances."
  type        = number
  default     = 10

  validation {
    condition     = var.selfie_rate_limit_per_minute >= 1
    error_message = "selfie_rate_limit_per_minute must be at least 1."
  }
}

# --- Optional parts -------------------------------------------------------------------

variable "uploads_bucket_enabled" {
  description = "Create a Cloud Storage bucket whose object-finalize notifications go to the detection topic (event-driven uploads stored in GCS instead of Supabase Storage)."
  type        = bool
  default     = false
}

variable "uploads_bucket_name" {
  description = "Name of the optional uploads bucket; empty means <project_id>-facecluster-uploads."
  type        = string
  default     = ""
}

variable "sweeper_enabled" {
  description = "Create the Cloud Scheduler sweeper that asks ml-callback to re-queue jobs whose lease expired (sweeper.tf says why it is needed)."
  type        = bool
  default     = true
}

variable "sweeper_schedule" {
  description = "Cron schedule of the sweeper (Cloud Scheduler syntax, UTC)."
  type        = string
  default     = "*/10 * * * *"
}

variable "labels" {
  description = "Labels put on every resource that takes labels."
  type        = map(string)
  default     = { app = "facecluster" }
}
