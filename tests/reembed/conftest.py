"""An event whose real photos went through the real detection service and clustering with one pack."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from shared.clustering.cluster_event import cluster_event
from shared.db.ml_jobs import ensure_detect_job
from shared.detection.detect_job import run_detect_job
from shared.face_analysis.packs import DEFAULT_PACK
from shared.settings import Settings, get_settings
from tests.factories import make_event, make_media

OLD_PACK = "yunet-dlib"
NEW_PACK = DEFAULT_PACK        # the switch this exists for: dlib to Intel's re-identification network
OTHER_DETECTOR_PACK = "scrfd-dlib"   # a switch whose detector draws other boxes


@pytest.fixture
def reembed_env(database_url: str, models_dir: Path, faces_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))
    monkeypatch.setenv("LOCAL_STORAGE_DIR", str(faces_data_dir))   # the photos are file:// media, read in place
    monkeypatch.setenv("MODEL_PACK", OLD_PACK)
    monkeypatch.delenv("CALLBACK_URL", raising=False)
    return get_settings()


def event_photos(faces_data_dir: Path) -> list[Path]:
    """Eight people on five portraits each, and five group photos of the same people."""
    return (sorted(faces_data_dir.glob("dev/bbt_*/*.jpg"))
            + sorted(faces_data_dir.glob("group_photos/images/faceapi_bbt*.jpg")))


def detect(db: psycopg.Connection, settings: Settings, event_id: uuid.UUID, media_id: uuid.UUID,
           job_model: str) -> None:
    """The media's photo through the detection service, for a job that names ``job_model``."""
    job_id = ensure_detect_job(db, event_id=event_id, media_id=media_id, model=job_model, max_attempts=3)
    result = run_detect_job(job_id, settings)
    assert result.status == "completed", result


@dataclass
class AnalysedEvent:
    event_id: uuid.UUID
    media: dict[uuid.UUID, Path]


@pytest.fixture
def clustered_event(db: psycopg.Connection, reembed_env: Settings, faces_data_dir: Path) -> AnalysedEvent:
    event_id = make_event(db)
    media = {}
    for path in event_photos(faces_data_dir):
        media_id = make_media(db, event_id, storage_path=path.as_uri())
        detect(db, reembed_env, event_id, media_id, OLD_PACK)
        media[media_id] = path
    cluster_event(db, event_id, reembed_env)
    return AnalysedEvent(event_id, media)
