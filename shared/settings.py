"""Configuration from environment variables, validated once at start-up.

Every component (detection service, functions, clustering job, CLI) reads its configuration
through :func:`get_settings`. Variable names are the ones the app's deployment guide already
uses (``DETECTION_THRESHOLD``, ``CALLBACK_SECRET``, ...) so the same environment drives the old
and the new backend. A bad value fails at start-up with one readable line naming the variable
and the expected form, instead of a stack trace at the first request.

Clustering parameters (``MIN_CLUSTER_SIZE``, ``MIN_SAMPLES``, ``CLUSTER_EPSILON``) default to
``None`` here: the right default depends on the embedding model, so the clustering code picks
it per model when the variable is unset.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError("expected true/false")


def _parse_det_size(raw: str) -> tuple[int, int]:
    """``640`` or ``640x480`` (width x height), as InsightFace's ``det_size``."""
    parts = raw.lower().replace(",", "x").split("x")
    if len(parts) == 1:
        parts = parts * 2
    if len(parts) != 2:
        raise ValueError("expected N or WxH")
    width, height = (int(p) for p in parts)
    if not (32 <= width <= 4096 and 32 <= height <= 4096):
        raise ValueError("expected sizes between 32 and 4096")
    return width, height


def _one_of(*choices: str, fold: Callable[[str], str] = str) -> Callable[[str], str]:
    """A parser accepting only ``choices`` (after ``fold``, e.g. ``str.upper`` for log levels)."""
    def parse_choice(raw: str) -> str:
        value = fold(raw)
        if value not in choices:
            raise ValueError(f"not one of {', '.join(choices)}")
        return value
    return parse_choice


def _parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


def _parse_host_names(raw: str) -> tuple[str, ...]:
    """Fully qualified host names, lower case: no scheme, port, path, wildcard or IP address.

    Addresses are left out on purpose: which address a name may reach is decided after
    resolution (:mod:`shared.storage.guarded_http`), and an IP literal (``127.1``, ``2130706433``
    included) would only ever be refused there.
    """
    hosts = []
    for item in _parse_list(raw):
        host = item.lower().removesuffix(".")
        labels = host.split(".")
        if (len(labels) < 2 or len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels)
                or labels[-1].isdigit()):
            raise ValueError(f"{item!r} is not a fully qualified host name")
        hosts.append(host)
    return tuple(hosts)


def _absolute_path(raw: str) -> Path:
    path = Path(raw)
    if not path.is_absolute():
        raise ValueError("expected an absolute path")
    return path


def _bounded(parse: Callable[[str], Any], low: float | None = None, high: float | None = None,
             ) -> Callable[[str], Any]:
    def parse_bounded(raw: str) -> Any:
        value = parse(raw)
        if low is not None and value < low:
            raise ValueError(f"expected a value >= {low}")
        if high is not None and value > high:
            raise ValueError(f"expected a value <= {high}")
        return value
    return parse_bounded


@dataclass(frozen=True)
class Var:
    """One environment variable: how to parse it, its default and what it is for."""

    name: str
    parse: Callable[[str], Any]
    default: Any
    form: str
    help: str


VARIABLES: tuple[Var, ...] = (
    # Database and Supabase
    Var("DATABASE_URL", str, None, "postgresql://...",
        "Postgres connection string (Supabase direct or pooled). Unset: the embedded local server."),
    Var("FACECLUSTER_DATA_DIR", Path, REPO_ROOT / ".facecluster", "a directory",
        "Where local state lives: the embedded database (pgdata/), the local object store."),
    Var("SUPABASE_URL", str, None, "https://<project>.supabase.co", "Supabase project URL."),
    Var("SUPABASE_SERVICE_ROLE_KEY", str, None, "a JWT",
        "Service role key, used to sign Storage URLs; never sent to clients."),
    Var("SUPABASE_JWT_SECRET", str, None, "a string",
        "Project JWT secret: verifies users' HS256 access tokens."),
    Var("SUPABASE_JWKS_URL", str, None, "https://.../.well-known/jwks.json",
        "JWKS for asymmetric (RS256/ES256) access tokens, when the project uses them."),
    Var("JWT_AUDIENCE", str, "authenticated", "a string", "Expected `aud` of user access tokens."),
    Var("STORAGE_BUCKET", str, "event-media", "a bucket name", "Supabase Storage bucket of media."),
    # Callbacks
    Var("CALLBACK_URL", str, None, "https://.../ml-callback", "Where workers report job outcomes."),
    Var("CALLBACK_SECRET", str, None, "a string (the app's ML_CALLBACK_SECRET)",
        "Shared secret of ml-callback."),
    # Face analysis
    Var("MODEL_PACK", str, "yunet-reid256",
        "yunet-reid256 | yunet-reid256-int8 | yunet-dlib | scrfd-dlib | scrfd25-dlib | buffalo_l",
        "Detector + recogniser pack."),
    Var("FACECLUSTER_MODEL_DIR", Path, None, "a directory",
        "Where model files are (checked by SHA-256). Unset: <FACECLUSTER_DATA_DIR>/models."),
    Var("DETECTION_THRESHOLD", _bounded(float, 0.0, 1.0), None, "a number in [0, 1]",
        "Minimum detector score; unset: the pack's default."),
    Var("DET_SIZE", _parse_det_size, (1280, 1280), "N or WxH",
        "Largest detector input; 1280 finds the small faces of event photos (640: faster, misses faces < ~150 px "
        "in 12 Mpx photos)."),
    Var("MIN_FACE_SIZE", _bounded(int, 1), 20, "pixels", "Faces smaller than this (short side) are dropped."),
    Var("MAX_IMAGE_PIXELS", _bounded(int, 1), 80_000_000, "pixels", "Decompression-bomb limit."),
    Var("MAX_IMAGE_BYTES", _bounded(int, 1), 50 * 1024 * 1024, "bytes", "Largest upload fetched."),
    Var("FETCH_TIMEOUT_SECONDS", _bounded(float, 0.1), 30.0, "seconds", "Image download timeout."),
    Var("ORT_INTRA_OP_THREADS", _bounded(int, 0), 0, "an integer (0 = onnxruntime decides)",
        "onnxruntime intra-op threads."),
    Var("RECOGNIZER_THREADS", _bounded(int, 1), 1, "an integer",
        "Threads embedding faces per image (OpenVINO inference threads; dlib: worker processes)."),
    # Clustering
    Var("MIN_CLUSTER_SIZE", _bounded(int, 2), None, "an integer >= 2",
        "HDBSCAN min_cluster_size; unset: the model's default."),
    Var("MIN_SAMPLES", _bounded(int, 1), None, "an integer >= 1", "HDBSCAN min_samples; unset: the model's default."),
    Var("CLUSTER_EPSILON", _bounded(float, 0.0), None, "a distance >= 0",
        "HDBSCAN cluster_selection_epsilon; unset: the model's default."),
    Var("MIN_FACE_QUALITY", _bounded(float, 0.0, 1.0), None, "a number in [0, 1]",
        "Faces below this quality are left out of clustering; unset: the model's default."),
    # Jobs and queues
    Var("GOOGLE_CLOUD_PROJECT", str, "local-project", "a project id", "Google Cloud project."),
    Var("PUBSUB_TOPIC", str, "ml-detect", "a topic id", "Topic the detection messages go to."),
    Var("JOB_LEASE_SECONDS", _bounded(int, 10), 300, "seconds", "How long a claimed job is held."),
    Var("JOB_MAX_ATTEMPTS", _bounded(int, 1), 5, "an integer", "Attempts before a job fails for good."),
    Var("CLUSTER_RUNNER", _one_of("local", "cloud-run"), "local", "local | cloud-run",
        "How ml-enqueue starts clustering: a local subprocess or the Cloud Run Jobs API."),
    Var("CLUSTER_JOB_NAME", str, "face-cluster", "a job name", "Cloud Run Job that clusters."),
    Var("CLOUD_RUN_REGION", str, "europe-west1", "a region", "Region of the Cloud Run Job."),
    # Authentication of Pub/Sub push requests (OIDC); unset audience = not checked (local).
    Var("PUSH_AUTH_AUDIENCE", str, None, "a URL", "Expected audience of Pub/Sub push OIDC tokens."),
    Var("PUSH_AUTH_SERVICE_ACCOUNT", str, None, "an email", "Service account push tokens must come from."),
    # HTTP
    Var("CORS_ALLOWED_ORIGINS", _parse_list, ("*",), "comma-separated origins", "CORS allowed origins."),
    Var("RATE_LIMIT_PER_MINUTE", _bounded(int, 1), 120, "an integer", "Requests per user, endpoint and minute."),
    Var("SELFIE_RATE_LIMIT_PER_MINUTE", _bounded(int, 1), 10, "an integer",
        "Selfie searches per user and minute (face-selfie-search, instead of `RATE_LIMIT_PER_MINUTE`): each one "
        "analyses a photo with the face models, and a member needs only a few."),
    Var("LOG_LEVEL", _one_of("DEBUG", "INFO", "WARNING", "ERROR", fold=str.upper), "INFO",
        "DEBUG | INFO | WARNING | ERROR", "Log level."),
    # Detection service
    Var("STORAGE_EMULATOR_HOST", str, None, "host:port or http://host:port",
        "Cloud Storage emulator for gs:// images (development, tests); unset: real Cloud Storage."),
    Var("PUSH_AUTH_CERTS_URL", str, "https://www.googleapis.com/oauth2/v1/certs", "a URL",
        "Public certificates that Pub/Sub push OIDC tokens are verified against."),
    Var("UPLOADS_BUCKET", str, None, "a bucket name",
        "Cloud Storage bucket of uploads: the only bucket `gs://` images and upload notifications may name; "
        "unset: `gs://` images are refused."),
    Var("IMAGE_ALLOWED_HOSTS", _parse_host_names, (), "comma-separated host names",
        "Hosts whose `https://` image URLs (a media row's `storage_path`) detection may fetch, port 443, "
        "public addresses only; unset: `https://` images are refused."),
    Var("LOCAL_STORAGE_DIR", _absolute_path, None, "an absolute directory",
        "The only directory whose files detection may read as `file://` images (the demo's object store); "
        "unset: `file://` images are refused."),
    Var("SELFIE_MAX_BYTES", _bounded(int, 1), 15 * 1024 * 1024, "bytes",
        "Largest selfie face-selfie-search accepts (a phone's full-resolution photo); read in memory, never stored."),
)

_FIELD_NAMES = {var.name: var.name.lower() for var in VARIABLES}


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Attribute names are the variable names in lower case."""

    database_url: str | None
    facecluster_data_dir: Path
    supabase_url: str | None
    supabase_service_role_key: str | None
    supabase_jwt_secret: str | None
    supabase_jwks_url: str | None
    jwt_audience: str
    storage_bucket: str
    callback_url: str | None
    callback_secret: str | None
    model_pack: str
    facecluster_model_dir: Path | None
    detection_threshold: float | None
    det_size: tuple[int, int]
    min_face_size: int
    max_image_pixels: int
    max_image_bytes: int
    fetch_timeout_seconds: float
    ort_intra_op_threads: int
    recognizer_threads: int
    min_cluster_size: int | None
    min_samples: int | None
    cluster_epsilon: float | None
    min_face_quality: float | None
    google_cloud_project: str
    pubsub_topic: str
    job_lease_seconds: int
    job_max_attempts: int
    cluster_runner: str
    cluster_job_name: str
    cloud_run_region: str
    push_auth_audience: str | None
    push_auth_service_account: str | None
    cors_allowed_origins: tuple[str, ...]
    rate_limit_per_minute: int
    selfie_rate_limit_per_minute: int
    log_level: str
    storage_emulator_host: str | None
    push_auth_certs_url: str
    uploads_bucket: str | None
    image_allowed_hosts: tuple[str, ...]
    local_storage_dir: Path | None
    selfie_max_bytes: int

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse and validate every variable; raise :class:`SettingsError` on the first bad one."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = environ.get(var.name)
            if raw is None or raw.strip() == "":
                values[_FIELD_NAMES[var.name]] = var.default
                continue
            try:
                values[_FIELD_NAMES[var.name]] = var.parse(raw.strip())
            except ValueError as exc:
                raise SettingsError(
                    f"{var.name}={raw!r} is invalid: expected {var.form} ({exc})") from None
        return cls(**values)

    def require(self, *names: str) -> None:
        """Fail with one line naming every variable a component needs but that is unset."""
        missing = [name for name in names if getattr(self, _FIELD_NAMES[name]) in (None, "")]
        if missing:
            forms = ", ".join(f"{name} ({_var(name).form})" for name in missing)
            raise SettingsError(f"missing required configuration: {forms}")

    @property
    def model_dir(self) -> Path:
        """Model files: FACECLUSTER_MODEL_DIR, else the models/ folder of the data directory."""
        return self.facecluster_model_dir or self.facecluster_data_dir / "models"


def _var(name: str) -> Var:
    return next(var for var in VARIABLES if var.name == name)


assert {f.name for f in fields(Settings)} == set(_FIELD_NAMES.values()), "Settings and VARIABLES disagree"


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, parsed on first use (tests call ``get_settings.cache_clear()``)."""
    return Settings.from_env()
