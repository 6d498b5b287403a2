"""Configuration from environment variables, declared once and validated at start-up.

Every component (detection service, functions, clustering job, CLI) reads its configuration
through :func:`get_settings` at its entry point and passes the :class:`Settings` on. Variable
names are the ones the app's deployment guide already uses (``DETECTION_THRESHOLD``,
``CALLBACK_SECRET``, ...) so the same environment drives the old and the new backend. A bad
value fails at start-up with one readable line naming the variable and the expected form,
instead of a stack trace at the first request.

Each variable is one field of :class:`Settings`: its type, default and bounds are pydantic's,
its ``form`` (what an operator writes, shown in errors and the README) and help text ride on
the field, so the README table, the errors and the parsing cannot drift apart.

Clustering parameters (``MIN_CLUSTER_SIZE``, ``MIN_SAMPLES``, ``CLUSTER_EPSILON``) default to
``None`` here: the right default depends on the embedding model, so the clustering code picks
it per model when the variable is unset.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AliasGenerator, BeforeValidator, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


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


def _absolute_path(path: Path) -> Path:
    if not path.is_absolute():
        raise ValueError("expected an absolute path")
    return path


DetSize = Annotated[tuple[int, int], BeforeValidator(_parse_det_size)]
CommaList = Annotated[tuple[str, ...], BeforeValidator(_parse_list)]
HostNames = Annotated[tuple[str, ...], BeforeValidator(_parse_host_names)]
AbsolutePath = Annotated[Path, AfterValidator(_absolute_path)]
LogLevel = Annotated[Literal["DEBUG", "INFO", "WARNING", "ERROR"], BeforeValidator(str.upper)]


def _var(default: Any, form: str, help: str, **bounds: Any) -> Any:
    """One variable: its default, the ``form`` an operator writes (errors, README) and what it is for."""
    return Field(default, description=help, json_schema_extra={"form": form}, **bounds)


class Settings(BaseSettings):
    """Validated configuration. Attribute names are the variable names in lower case."""

    # Values come in only through :meth:`from_env`'s mapping (the init source): no .env file, no
    # secrets directory, and the loader's cache key is exactly what was parsed. Defaults are
    # already the parsed values, so the parsers (which take the raw text) do not see them.
    model_config = SettingsConfigDict(frozen=True, validate_default=False,
                                      alias_generator=AliasGenerator(validation_alias=str.upper))

    # Database and Supabase
    database_url: str | None = _var(
        None, "postgresql://...",
        "Postgres connection string (Supabase direct or pooled). Unset: the embedded local server.")
    facecluster_data_dir: Path = _var(
        REPO_ROOT / ".facecluster", "a directory",
        "Where local state lives: the embedded database (pgdata/), the local object store.")
    supabase_url: str | None = _var(None, "https://<project>.supabase.co", "Supabase project URL.")
    supabase_service_role_key: str | None = _var(
        None, "a JWT", "Service role key, used to sign Storage URLs; never sent to clients.")
    supabase_jwt_secret: str | None = _var(
        None, "a string", "Project JWT secret: verifies users' HS256 access tokens.")
    supabase_jwks_url: str | None = _var(
        None, "https://.../.well-known/jwks.json",
        "JWKS for asymmetric (RS256/ES256) access tokens, when the project uses them.")
    jwt_audience: str = _var("authenticated", "a string", "Expected `aud` of user access tokens.")
    storage_bucket: str = _var("event-media", "a bucket name", "Supabase Storage bucket of media.")
    # Callbacks
    callback_url: str | None = _var(None, "https://.../ml-callback", "Where workers report job outcomes.")
    callback_secret: str | None = _var(
        None, "a string (the app's ML_CALLBACK_SECRET)", "Shared secret of ml-callback.")
    media_webhook_secret: str | None = _var(
        None, "a string",
        "Shared secret of ml-media-inserted: the database's webhook sends it (kept in Supabase Vault).")
    # Face analysis
    model_pack: str = _var(
        "yunet-reid256", "yunet-reid256 | yunet-reid256-int8 | yunet-dlib | scrfd-dlib | scrfd25-dlib | buffalo_l",
        "Detector + recogniser pack.")
    facecluster_model_dir: Path | None = _var(
        None, "a directory", "Where model files are (checked by SHA-256). Unset: <FACECLUSTER_DATA_DIR>/models.")
    detection_threshold: float | None = _var(
        None, "a number in [0, 1]", "Minimum detector score; unset: the pack's default.", ge=0.0, le=1.0)
    det_size: DetSize = _var(
        (1280, 1280), "N or WxH",
        "Largest detector input; 1280 finds the small faces of event photos (640: faster, misses faces < ~150 px "
        "in 12 Mpx photos).")
    min_face_size: int = _var(20, "pixels", "Faces smaller than this (short side) are dropped.", ge=1)
    max_image_pixels: int = _var(80_000_000, "pixels", "Decompression-bomb limit.", ge=1)
    max_image_bytes: int = _var(50 * 1024 * 1024, "bytes", "Largest upload fetched.", ge=1)
    fetch_timeout_seconds: float = _var(30.0, "seconds", "Image download timeout.", ge=0.1)
    ort_intra_op_threads: int = _var(
        0, "an integer (0 = onnxruntime decides)", "onnxruntime intra-op threads.", ge=0)
    recognizer_threads: int = _var(
        1, "an integer", "Threads embedding faces per image (OpenVINO inference threads; dlib: worker processes).",
        ge=1)
    # Clustering
    min_cluster_size: int | None = _var(
        None, "an integer >= 2", "HDBSCAN min_cluster_size; unset: the model's default.", ge=2)
    min_samples: int | None = _var(
        None, "an integer >= 1", "HDBSCAN min_samples; unset: the model's default.", ge=1)
    cluster_epsilon: float | None = _var(
        None, "a distance >= 0", "HDBSCAN cluster_selection_epsilon; unset: the model's default.", ge=0.0)
    min_face_quality: float | None = _var(
        None, "a number in [0, 1]", "Faces below this quality are left out of clustering; unset: the model's default.",
        ge=0.0, le=1.0)
    # Jobs and queues
    google_cloud_project: str = _var("local-project", "a project id", "Google Cloud project.")
    pubsub_topic: str = _var("ml-detect", "a topic id", "Topic the detection messages go to.")
    job_lease_seconds: int = _var(300, "seconds", "How long a claimed job is held.", ge=10)
    job_max_attempts: int = _var(5, "an integer", "Attempts before a job fails for good.", ge=1)
    cluster_runner: Literal["local", "cloud-run"] = _var(
        "local", "local | cloud-run", "How ml-enqueue starts clustering: a local subprocess or the Cloud Run Jobs API.")
    cluster_job_name: str = _var("face-cluster", "a job name", "Cloud Run Job that clusters.")
    cloud_run_region: str = _var("europe-west1", "a region", "Region of the Cloud Run Job.")
    # Authentication of Pub/Sub push requests (OIDC); unset audience = not checked (local).
    push_auth_audience: str | None = _var(None, "a URL", "Expected audience of Pub/Sub push OIDC tokens.")
    push_auth_service_account: str | None = _var(
        None, "an email", "Service account push tokens must come from.")
    # HTTP
    cors_allowed_origins: CommaList = _var(("*",), "comma-separated origins", "CORS allowed origins.")
    rate_limit_per_minute: int = _var(120, "an integer", "Requests per user, endpoint and minute.", ge=1)
    selfie_rate_limit_per_minute: int = _var(
        10, "an integer",
        "Selfie searches per user and minute (face-selfie-search, instead of `RATE_LIMIT_PER_MINUTE`): each one "
        "analyses a photo with the face models, and a member needs only a few.", ge=1)
    log_level: LogLevel = _var("INFO", "DEBUG | INFO | WARNING | ERROR", "Log level.")
    # Detection service
    storage_emulator_host: str | None = _var(
        None, "host:port or http://host:port",
        "Cloud Storage emulator for gs:// images (development, tests); unset: real Cloud Storage.")
    push_auth_certs_url: str = _var(
        "https://www.googleapis.com/oauth2/v1/certs", "a URL",
        "Public certificates that Pub/Sub push OIDC tokens are verified against.")
    uploads_bucket: str | None = _var(
        None, "a bucket name",
        "Cloud Storage bucket of uploads: the only bucket `gs://` images and upload notifications may name; "
        "unset: `gs://` images are refused.")
    image_allowed_hosts: HostNames = _var(
        (), "comma-separated host names",
        "Hosts whose `https://` image URLs (a media row's `storage_path`) detection may fetch, port 443, "
        "public addresses only; unset: `https://` images are refused.")
    local_storage_dir: AbsolutePath | None = _var(
        None, "an absolute directory",
        "The only directory whose files detection may read as `file://` images (the demo's object store); "
        "unset: `file://` images are refused.")
    selfie_max_bytes: int = _var(
        15 * 1024 * 1024, "bytes",
        "Largest selfie face-selfie-search accepts (a phone's full-resolution photo); read in memory, never stored.",
        ge=1)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   **other_sources: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse and validate the declared variables of ``environ`` (default: the process environment).

        Raises :class:`SettingsError` naming the first bad variable in declaration order.
        """
        raw = _declared_values(os.environ if environ is None else environ)
        try:
            return cls(**dict(raw))
        except ValidationError as exc:
            raise SettingsError(_first_problem(exc, dict(raw))) from None

    def require(self, *names: str) -> None:
        """Fail with one line naming every variable a component needs but that is unset."""
        missing = [name for name in names if getattr(self, name.lower()) in (None, "")]
        if missing:
            forms = ", ".join(f"{name} ({VARIABLES_BY_NAME[name].form})" for name in missing)
            raise SettingsError(f"missing required configuration: {forms}")

    @property
    def model_dir(self) -> Path:
        """Model files: FACECLUSTER_MODEL_DIR, else the models/ folder of the data directory."""
        return self.facecluster_model_dir or self.facecluster_data_dir / "models"


@dataclass(frozen=True)
class Variable:
    """One environment variable as an operator sees it, read off its :class:`Settings` field."""

    name: str
    default: Any
    form: str
    help: str


VARIABLES: tuple[Variable, ...] = tuple(
    Variable(name.upper(), field.default, field.json_schema_extra["form"], field.description)
    for name, field in Settings.model_fields.items())
VARIABLES_BY_NAME = {var.name: var for var in VARIABLES}

# Pydantic's wording for a bound, in the form the rest of the errors use.
_BOUND_REASONS = {"greater_than_equal": "expected a value >= {ge}", "less_than_equal": "expected a value <= {le}"}


def _declared_values(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """The declared variables that are set, stripped: an empty or blank value means unset."""
    stripped = ((var.name, environ.get(var.name, "").strip()) for var in VARIABLES)
    return tuple((name, value) for name, value in stripped if value)


def _first_problem(error: ValidationError, raw: Mapping[str, str]) -> str:
    """``NAME='raw' is invalid: expected <form> (<reason>)`` for the first variable pydantic refused."""
    problem = error.errors()[0]
    name = str(problem["loc"][0])
    ctx = problem.get("ctx", {})
    if problem["type"] == "value_error":
        reason = str(ctx["error"])
    elif problem["type"] in _BOUND_REASONS:
        reason = _BOUND_REASONS[problem["type"]].format(**ctx)
    else:
        reason = problem["msg"]
    return f"{name}={raw[name]!r} is invalid: expected {VARIABLES_BY_NAME[name].form} ({reason})"


def get_settings() -> Settings:
    """The process's settings, for entry points: parsed again only when a declared variable changed.

    Keyed on the raw values rather than cached once, so a test (or the demo) that changes the
    environment gets matching settings without anyone clearing a cache.
    """
    return _parse(_declared_values(os.environ))


@functools.lru_cache(maxsize=16)
def _parse(raw: tuple[tuple[str, str], ...]) -> Settings:
    return Settings.from_env(dict(raw))
