"""face-person-actions add_face: a face the detector missed, boxed by an organiser, on a real photo.

The photo (two people) is served by the Supabase Storage stand-in; the analysis is real. The
detector "missed" the second face: the test stores only the first, as detection would have.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import pytest

from shared.clustering.cluster_event import cluster_event
from shared.db.connection import connect
from shared.db.events import lock_event_face_data
from shared.db.person_actions import place_face
from shared.detection.detect_job import run_detect_job
from shared.face_analysis import Face, get_analyzer
from shared.reembed.matching import iou_matrix
from shared.settings import get_settings
from tests.factories import add_member, make_event, make_media
from tests.functions.world import MODEL, check_invariants
from tests.support.supabase_storage import supabase_storage  # noqa: F401 (a fixture)

PHOTO = Path("group_photos") / "images" / "deepface_couple.jpg"


@dataclass
class Scene:
    event: uuid.UUID
    organiser: uuid.UUID
    member: uuid.UUID
    media: uuid.UUID
    found: Face                # the face detection stored
    missed: Face               # the face the organiser boxes
    found_person: uuid.UUID
    twin_person: uuid.UUID     # the missed face's person, seen on another photo


def _store(db: psycopg.Connection, event: uuid.UUID, media: uuid.UUID, face: Face) -> uuid.UUID:
    person = db.execute("insert into face_persons (event_id, model) values (%s, %s) returning id",
                        (event, MODEL)).fetchone()["id"]
    face_id = db.execute(
        "insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding, thumbnail,"
        " person_id, assignment) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'cluster') returning id",
        (event, media, MODEL, list(face.bbox), [v for p in face.landmarks for v in p], face.det_score,
         face.quality, np.asarray(face.embedding, dtype=np.float32), face.thumbnail, person)).fetchone()["id"]
    db.execute("update face_persons set face_count = 1, representative_face_id = %s where id = %s", (face_id, person))
    return person


@pytest.fixture
def scene(db, api_env, supabase_storage, models_dir: Path, faces_data_dir: Path,  # noqa: F811
          monkeypatch: pytest.MonkeyPatch) -> Scene:
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(models_dir))
    data = (faces_data_dir / PHOTO).read_bytes()
    found, missed = sorted(get_analyzer(get_settings()).analyze(data).faces, key=lambda f: f.bbox[0])
    organiser = uuid.uuid4()
    event = make_event(db, owner_id=organiser)
    path = f"events/{event}/couple.jpg"
    supabase_storage.put(get_settings().storage_bucket, path, data)
    media = make_media(db, event, storage_path=path)
    found_person = _store(db, event, media, found)
    twin_person = _store(db, event, make_media(db, event), missed)  # the same person on another photo
    return Scene(event, organiser, add_member(db, event), media, found, missed, found_person, twin_person)


def _add(actions_api, scene: Scene, box, user: uuid.UUID | None = None, **extra):
    return actions_api.call({"action": "add_face", "event_id": str(scene.event), "media_id": str(scene.media),
                             "box": list(box) if isinstance(box, tuple) else box, **extra},
                            user=user or scene.organiser)


def _rows(db: psycopg.Connection, event: uuid.UUID) -> list[dict]:
    return db.execute("select id, media_id, person_id, assignment, origin, bbox from faces where event_id = %s"
                      " order by id", (event,)).fetchall()


def test_a_boxed_face_is_found_embedded_stored_and_given_to_the_nearest_person(db, actions_api, scene) -> None:
    before = _rows(db, scene.event)
    response = _add(actions_api, scene, scene.missed.bbox)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["created"] is True and body["person_id"] == str(scene.twin_person)
    face = db.execute("select * from faces where id = %s", (body["face_id"],)).fetchone()
    assert (face["origin"], face["assignment"], face["model"]) == ("user", "user", MODEL)
    assert np.allclose(face["bbox"], scene.missed.bbox, atol=0.1 * (scene.missed.bbox[2] - scene.missed.bbox[0]))
    stored = np.asarray(face["embedding"].to_numpy())
    assert float(stored @ scene.missed.embedding) > 0.9  # the same face as the full analysis embeds
    assert [r for r in _rows(db, scene.event) if str(r["id"]) != body["face_id"]] == before  # others untouched
    check_invariants(db, scene.event)

    again = _add(actions_api, scene, scene.missed.bbox)  # a retried request adds nothing
    assert again.status_code == 200 and again.get_json()["face_id"] == body["face_id"]
    assert len(_rows(db, scene.event)) == len(before) + 1


def test_the_chosen_person_gets_it_and_re_clustering_keeps_it_there(db, actions_api, scene) -> None:
    chosen = db.execute("insert into face_persons (event_id, model) values (%s, %s) returning id",
                        (scene.event, MODEL)).fetchone()["id"]
    response = _add(actions_api, scene, scene.missed.bbox, person_id=str(chosen))
    assert response.status_code == 201 and response.get_json()["person_id"] == str(chosen)
    face_id = response.get_json()["face_id"]
    cluster_event(db, scene.event, get_settings(), MODEL)
    after = db.execute("select f.person_id, f.origin, p.face_count from faces f join face_persons p"
                       " on p.id = f.person_id where f.id = %s", (face_id,)).fetchone()
    assert after == {"person_id": chosen, "origin": "user", "face_count": 1}
    check_invariants(db, scene.event)


def test_a_box_without_a_face_is_a_422_and_changes_nothing(db, actions_api, scene) -> None:
    before = _rows(db, scene.event)
    x1, y1, x2, y2 = scene.found.bbox
    empty = (0.0, 0.0, 60.0, 60.0) if y1 > 200 else (x1, y2 + 300, x2, y2 + 360)
    response = _add(actions_api, scene, empty)
    assert response.status_code == 422
    assert response.get_json()["error"] == {"code": "no_face_in_box", "field": "box",
                                            "message": response.get_json()["error"]["message"]}
    assert _rows(db, scene.event) == before


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"box": "found"}, 409, "face_already_detected"),
    ({"person_id": "found_person"}, 409, "person_on_photo"),
    ({"person_id": str(uuid.UUID(int=5))}, 404, "person_not_found"),
    ({"media_id": str(uuid.UUID(int=6))}, 404, "media_not_found"),
    ({"box": [10, 10, 5, 50]}, 400, "invalid_request"),
    ({"box": [10, 10, 50]}, 400, "invalid_request"),
    ({"box": [10, 10, "50", 60]}, 400, "invalid_request"),
    ({"box": [True, 10, 50, 60]}, 400, "invalid_request"),
    ({"box": [10, 10, 1e12, 60]}, 400, "invalid_request"),
    ({"box": None}, 400, "invalid_request"),
    ({"user": "member"}, 403, "forbidden"),
    ({"user": "stranger"}, 403, "forbidden"),
])
def test_refusals_are_precise_and_change_nothing(db, actions_api, scene, change: dict, status: int,
                                                 code: str) -> None:
    before = _rows(db, scene.event)
    names = {"found": list(scene.found.bbox), "found_person": str(scene.found_person), "member": scene.member,
             "stranger": uuid.uuid4()}
    params = {k: names.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    user = params.pop("user", None)
    box = params.pop("box", scene.missed.bbox)
    response = _add(actions_api, scene, box, user=user, **params)
    assert response.status_code == status and response.get_json()["error"]["code"] == code, response.get_json()
    assert _rows(db, scene.event) == before


def test_the_face_is_embedded_with_the_events_pack_not_model_pack(db, actions_api, scene,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The event's faces are yunet-dlib ones; a deployment whose MODEL_PACK moved on still adds dlib faces."""
    db.execute("insert into event_face_models (event_id, model) values (%s, %s) on conflict do nothing",
               (scene.event, MODEL))
    monkeypatch.setenv("MODEL_PACK", "yunet-reid256")
    response = _add(actions_api, scene, scene.missed.bbox)
    assert response.status_code == 201, response.get_json()
    face = db.execute("select model, vector_dims(embedding) as dims from faces where id = %s",
                      (response.get_json()["face_id"],)).fetchone()
    assert face == {"model": MODEL, "dims": 128}


def test_a_forced_re_detection_keeps_the_user_placed_face_and_its_person(db, actions_api, enqueue_api, detect_topic,
                                                                        scene) -> None:
    """ml-enqueue ``force`` drops the photo's detected faces only; the whole-image detection, which does find
    the boxed face this time, stores no second face over it. Twice, each job delivered twice: the same photo."""
    db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, 1)",
               (scene.media, MODEL, scene.event))
    placed = _add(actions_api, scene, scene.missed.bbox)
    assert placed.status_code == 201, placed.get_json()
    user_face = next(r for r in _rows(db, scene.event) if str(r["id"]) == placed.get_json()["face_id"])
    assert user_face["person_id"] == scene.twin_person
    for _ in range(2):
        forced = enqueue_api.call({"type": "detect", "event_id": str(scene.event), "media_ids": [str(scene.media)],
                                   "force": True}, user=scene.organiser)
        assert forced.status_code == 202 and forced.get_json()["reanalysed"] == 1, forced.get_json()
        job = db.execute("select id from ml_jobs where media_id = %s and status = 'pending'",
                         (scene.media,)).fetchone()["id"]
        outcomes = [run_detect_job(job, get_settings()).status for _ in range(2)]  # Pub/Sub redelivers
        assert outcomes == ["completed", "duplicate"]
        photo = [r for r in _rows(db, scene.event) if r["media_id"] == scene.media]
        assert [r for r in photo if r["origin"] == "user"] == [user_face]
        detected = [r for r in photo if r["origin"] == "detected"]
        assert len(detected) == 1 and iou_matrix([detected[0]["bbox"]], [scene.found.bbox])[0, 0] > 0.9
        assert db.execute("select face_count from media_analyses where media_id = %s and model = %s",
                          (scene.media, MODEL)).fetchone()["face_count"] == 1
        check_invariants(db, scene.event)


def test_a_detection_storing_while_an_add_face_commits_stores_no_second_face(db, database_url, enqueue_api,
                                                                           detect_topic, scene,
                                                                           faces_data_dir: Path) -> None:
    """add_face holds the event's face-data lock while it stores its face; detection of the same photo (after a
    force) waits for it, then sees the user's face and stores no face over it."""
    db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, 1)",
               (scene.media, MODEL, scene.event))
    forced = enqueue_api.call({"type": "detect", "event_id": str(scene.event), "media_ids": [str(scene.media)],
                               "force": True}, user=scene.organiser)
    assert forced.status_code == 202, forced.get_json()
    job = db.execute("select id from ml_jobs where media_id = %s and status = 'pending'", (scene.media,)).fetchone()
    box = get_analyzer(get_settings()).find_face_in_box((faces_data_dir / PHOTO).read_bytes(), scene.missed.bbox)
    outcomes: list[str] = []
    detection = threading.Thread(target=lambda: outcomes.append(run_detect_job(job["id"], get_settings()).status))
    with connect(database_url) as other, other.transaction():   # add_face's storing transaction, not committed
        lock_event_face_data(other, scene.event)
        place_face(other, scene.event, scene.media, MODEL, box, scene.twin_person)
        detection.start()
        while detection.is_alive() and not db.execute(
                "select 1 from pg_locks where locktype = 'advisory' and not granted").fetchone():
            time.sleep(0.05)
    detection.join()
    assert outcomes == ["completed"]
    photo = [r for r in _rows(db, scene.event) if r["media_id"] == scene.media]
    assert sorted(r["origin"] for r in photo) == ["detected", "user"]
    check_invariants(db, scene.event)
