# Names, URLs and environment shared by the resources in the other files.

locals {
  image = "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_repository}/facecluster:${var.image_tag}"

  detect_service_name = "face-detect"
  cluster_job_name    = "face-cluster"
  reembed_job_name    = "face-reembed"
  detect_topic_name   = "ml-detect"

  # The app's HTTP functions: Cloud Run service name => functions-framework target.
  functions = {
    "ml-enqueue"          = "ml_enqueue"
    "ml-callback"         = "ml_callback"
    "ml-media-inserted"   = "media_inserted" # called by the database (pg_net) on media inserts
    "face-persons"        = "face_persons"
    "face-person-actions" = "face_person_actions"
    # Analyses the selfie in the request: sized apart (function_sizes).
    "face-selfie-search" = "face_selfie_search"
  }

  # Instances of each function. The others wait on Postgres: light, many requests at once.
  # face-selfie-search analyses a photo with the face models (~0.6 GB loaded, up to one decoded
  # photo per request) and the analysis is CPU-bound: two requests per vCPU, one onnxruntime
  # thread each (selfie_env), as detection; more would only queue them inside the instance.
  function_sizes = {
    for name in keys(local.functions) : name => name == "face-selfie-search" ? {
      cpu = var.selfie_cpu, memory_mib = var.selfie_memory_mib, concurrency = 2 * var.selfie_cpu
      } : {
      cpu = 1, memory_mib = var.functions_memory_mib, concurrency = 40
    }
  }
  # gunicorn's threads (THREADS) are each function's request concurrency: functions-framework's
  # default, 4 per CPU, would queue 36 of the 40 requests Cloud Run sends a light function.
  function_env = {
    for name in keys(local.functions) : name => merge(
      name == "face-selfie-search" ? local.selfie_env : local.functions_env,
      { THREADS = tostring(local.function_sizes[name].concurrency) }
    )
  }

  # Cloud Run's deterministic service URL, https://<service>-<project number>.<region>.run.app.
  # Used where a service must know its own URL (the audience of the OIDC tokens sent to it),
  # which its `uri` attribute cannot give without a dependency cycle.
  run_url         = { for name in concat([local.detect_service_name], keys(local.functions)) : name => "https://${name}-${data.google_project.this.number}.${var.region}.run.app" }
  detect_audience = local.run_url[local.detect_service_name]
  callback_url    = local.run_url["ml-callback"]

  # Secret Manager secrets, by the environment variable they are mounted as.
  secrets = {
    CALLBACK_SECRET           = "facecluster-callback-secret"
    MEDIA_WEBHOOK_SECRET      = "facecluster-media-webhook-secret"
    SUPABASE_SERVICE_ROLE_KEY = "facecluster-supabase-service-role-key"
    DATABASE_URL              = "facecluster-database-url"
    SUPABASE_JWT_SECRET       = "facecluster-supabase-jwt-secret"
  }

  # Which identity reads which secret: each component only the ones it uses.
  secret_readers = {
    detect    = ["CALLBACK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "DATABASE_URL"]
    functions = ["CALLBACK_SECRET", "MEDIA_WEBHOOK_SECRET", "SUPABASE_SERVICE_ROLE_KEY", "DATABASE_URL", "SUPABASE_JWT_SECRET"]
    cluster   = ["CALLBACK_SECRET", "DATABASE_URL"]
    reembed   = ["SUPABASE_SERVICE_ROLE_KEY", "DATABASE_URL"] # runs as the detect identity (reembed.tf)
  }

  # Plain (non-secret) environment every component reads; names are shared/settings.py's.
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    SUPABASE_URL         = var.supabase_url
    STORAGE_BUCKET       = var.storage_bucket
    CALLBACK_URL         = local.callback_url
    MODEL_PACK           = var.model_pack
    PUBSUB_TOPIC         = local.detect_topic_name
    CLUSTER_RUNNER       = "cloud-run"
    CLUSTER_JOB_NAME     = local.cluster_job_name
    CLOUD_RUN_REGION     = var.region
    JOB_LEASE_SECONDS    = tostring(var.job_lease_seconds)
    JOB_MAX_ATTEMPTS     = tostring(var.job_max_attempts)
    LOG_LEVEL            = var.log_level
  }

  detect_env = merge(local.common_env, {
    DET_SIZE                  = var.det_size
    ORT_INTRA_OP_THREADS      = "1"
    THREADS                   = tostring(2 * var.detect_cpu) # gunicorn threads = request concurrency
    RECOGNIZER_THREADS        = tostring(var.detect_cpu)     # recogniser threads (dlib: worker processes)
    PUSH_AUTH_AUDIENCE        = local.detect_audience
    PUSH_AUTH_SERVICE_ACCOUNT = google_service_account.push.email
    }, var.detection_threshold == null ? {} : {
    DETECTION_THRESHOLD = tostring(var.detection_threshold)
    }, var.uploads_bucket_enabled ? { # the only bucket gs:// images and upload notifications may name
    UPLOADS_BUCKET = local.uploads_bucket_name
  } : {})

  reembed_env = merge(local.common_env, {
    DET_SIZE             = var.det_size
    ORT_INTRA_OP_THREADS = "1"
    RECOGNIZER_THREADS   = tostring(var.reembed_cpu)
    }, var.detection_threshold == null ? {} : {
    DETECTION_THRESHOLD = tostring(var.detection_threshold)
  })

  functions_env = merge(local.common_env, {
    CORS_ALLOWED_ORIGINS = join(",", var.app_origins)
    }, var.supabase_jwks_url == "" ? {} : {
    SUPABASE_JWKS_URL = var.supabase_jwks_url
  })

  # The selfie is analysed like the event's photos (same detector input and threshold), one core
  # per request (its THREADS, like every function's, is set in function_env).
  selfie_env = merge(local.functions_env, {
    DET_SIZE                     = var.det_size
    ORT_INTRA_OP_THREADS         = "1"
    SELFIE_RATE_LIMIT_PER_MINUTE = tostring(var.selfie_rate_limit_per_minute)
    }, var.detection_threshold == null ? {} : {
    DETECTION_THRESHOLD = tostring(var.detection_threshold)
  })

  cluster_env = merge(local.common_env,
    var.min_cluster_size == null ? {} : { MIN_CLUSTER_SIZE = tostring(var.min_cluster_size) },
    var.min_samples == null ? {} : { MIN_SAMPLES = tostring(var.min_samples) },
    var.cluster_epsilon == null ? {} : { CLUSTER_EPSILON = tostring(var.cluster_epsilon) },
  )
}

resource "google_project_service" "enabled" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
  service            = each.value
  disable_on_destroy = false
}
