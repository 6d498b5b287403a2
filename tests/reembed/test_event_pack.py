"""After MODEL_PACK changes, events analysed before stay on their pack: detection, enqueue, clustering."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

import shared.detection.detect_job as detect_job
from shared.clustering.cluster_event import cluster_event
from shared.db.event_models import event_model, move_event_model, pin_event_model
from shared.db.faces import event_media
from shared.db.ml_jobs import ensure_detect_job
from shared.settings import Settings, get_settings
from shared.storage import ImageLocation
from tests.factories import make_event, make_media
from tests.reembed.conftest import NEW_PACK, OLD_PACK, detect


def _models(db: psycopg.Connection, table: str, event_id) -> set[str]:
    return {row["model"] for row in db.execute(f"select model from {table} where event_id = %s", (event_id,))}


def test_new_photos_of_an_event_keep_its_pack_after_model_pack_changes(
        db: psycopg.Connection, reembed_env: Settings, faces_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photos = sorted(faces_data_dir.glob("dev/bbt_amy/*.jpg"))[:3]
    event_id = make_event(db)
    fresh_event = make_event(db)
    first = make_media(db, event_id, storage_path=photos[0].as_uri())
    detect(db, reembed_env, event_id, first, OLD_PACK)
    assert db.execute("select model from event_face_models where event_id = %s", (event_id,)).fetchone()["model"] \
        == OLD_PACK

    monkeypatch.setenv("MODEL_PACK", NEW_PACK)   # the operator switches the pack; the event is not re-embedded
    settings = get_settings()
    assert event_model(db, event_id, settings.model_pack) == OLD_PACK
    assert event_model(db, fresh_event, settings.model_pack) == NEW_PACK
    later = make_media(db, event_id, storage_path=photos[1].as_uri())
    assert [m["analysed"] for m in event_media(db, event_id, OLD_PACK, None)] == [True, False]
    # A job that names the new pack (enqueued by an old revision, say) is still analysed with the event's.
    detect(db, settings, event_id, later, NEW_PACK)
    assert _models(db, "faces", event_id) == {OLD_PACK}
    assert _models(db, "media_analyses", event_id) == {OLD_PACK}
    assert cluster_event(db, event_id, settings).model == OLD_PACK

    # An event with no faces yet takes the pack of its first stored faces.
    media = make_media(db, fresh_event, storage_path=photos[2].as_uri())
    detect(db, settings, fresh_event, media, NEW_PACK)
    assert _models(db, "faces", fresh_event) == {NEW_PACK}
    assert db.execute("select model from event_face_models where event_id = %s",
                      (fresh_event,)).fetchone()["model"] == NEW_PACK


def test_a_reembedding_during_the_analysis_makes_the_photo_analysed_again_with_the_new_pack(
        db: psycopg.Connection, reembed_env: Settings, faces_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    photo = sorted(faces_data_dir.glob("dev/bbt_raj/*.jpg"))[0]
    event_id = make_event(db)
    with db.transaction():
        pin_event_model(db, event_id, OLD_PACK)
    media = make_media(db, event_id, storage_path=photo.as_uri())
    job_id = ensure_detect_job(db, event_id=event_id, media_id=media, model=OLD_PACK, max_attempts=3)
    fetch = detect_job.fetch_image

    def fetch_while_the_event_moves(location: ImageLocation, settings: Settings) -> bytes:
        move_event_model(db, event_id, NEW_PACK)   # what a re-embedding commits meanwhile
        return fetch(location, settings)

    monkeypatch.setattr(detect_job, "fetch_image", fetch_while_the_event_moves)
    first = detect_job.run_detect_job(job_id, reembed_env)
    assert first.status == "retry" and f"re-embedded with {NEW_PACK}" in first.detail["error"]
    assert _models(db, "faces", event_id) == set()
    monkeypatch.setattr(detect_job, "fetch_image", fetch)
    again = detect_job.run_detect_job(job_id, reembed_env)   # Pub/Sub's redelivery
    assert again.status == "completed" and again.detail["model"] == NEW_PACK
    assert _models(db, "faces", event_id) == {NEW_PACK}
