"""What re-embedding refuses, and that a refusal leaves the database as it was."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from shared.cli import main as cli_main
from shared.db.event_models import pin_event_model
from shared.db.ml_jobs import create_cluster_job
from shared.face_analysis import ModelFilesError
from shared.reembed.service import ReembedError, reembed_event
from shared.settings import Settings
from tests.clustering.db_faces import Scene, snapshot
from tests.factories import make_media
from tests.reembed.conftest import NEW_PACK, OLD_PACK


@pytest.fixture
def scene(db: psycopg.Connection, reembed_env: Settings) -> Scene:
    """A clustered event of the old pack (synthetic embeddings: these runs never reach the analysis)."""
    scene = Scene(db)
    for media_id in scene.media:
        db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, 1)",
                   (media_id, OLD_PACK, scene.event))
    with db.transaction():
        pin_event_model(db, scene.event, OLD_PACK)
    scene.cluster()
    return scene


def _state(db: psycopg.Connection, event_id: uuid.UUID) -> tuple:
    jobs = db.execute("select job_type, status, model from ml_jobs where event_id = %s order by created_at",
                      (event_id,)).fetchall()
    pin = db.execute("select model from event_face_models where event_id = %s", (event_id,)).fetchone()
    return snapshot(db, event_id), jobs, pin


def test_an_unknown_event_is_refused(reembed_env: Settings, db: psycopg.Connection) -> None:
    missing = uuid.uuid4()
    with pytest.raises(ReembedError, match=f"no event {missing}"):
        reembed_event(reembed_env, missing, NEW_PACK)
    assert db.execute("select count(*) as n from ml_jobs").fetchone()["n"] == 0


def test_an_unknown_pack_is_refused_before_anything_is_read(reembed_env: Settings, scene: Scene) -> None:
    before = _state(scene.db, scene.event)
    with pytest.raises(ModelFilesError, match="unknown model pack 'no-such-pack'"):
        reembed_event(reembed_env, scene.event, "no-such-pack")
    assert _state(scene.db, scene.event) == before


def test_the_same_pack_is_a_no_op(reembed_env: Settings, scene: Scene) -> None:
    before = _state(scene.db, scene.event)
    result = reembed_event(reembed_env, scene.event, OLD_PACK)
    assert not result.changed and result.previous_model == OLD_PACK and result.job_id is None
    assert _state(scene.db, scene.event) == before


def test_an_event_without_face_recognition_is_refused(reembed_env: Settings, scene: Scene) -> None:
    scene.db.execute("update events set face_recognition_enabled = false where id = %s", (scene.event,))
    before = _state(scene.db, scene.event)
    with pytest.raises(ReembedError, match="face recognition is off"):
        reembed_event(reembed_env, scene.event, NEW_PACK)
    assert _state(scene.db, scene.event) == before


def test_a_running_clustering_makes_it_refuse_and_it_blocks_new_clusterings(reembed_env: Settings,
                                                                           scene: Scene) -> None:
    job = create_cluster_job(scene.db, scene.event, OLD_PACK, 1, 3)
    scene.db.execute("update ml_jobs set status = 'processing', lease_expires_at = now() + interval '1 hour'"
                     " where id = %s", (job,))
    before = _state(scene.db, scene.event)
    with pytest.raises(ReembedError, match=f"in use by cluster job {job} \\(processing\\)"):
        reembed_event(reembed_env, scene.event, NEW_PACK)
    assert _state(scene.db, scene.event) == before
    # The other way round: an in-flight re-embedding takes the slot clustering needs.
    scene.db.execute("update ml_jobs set status = 'completed', completed_at = now() where id = %s", (job,))
    scene.db.execute("insert into ml_jobs (job_type, event_id, model, status, lease_expires_at)"
                     " values ('reembed', %s, %s, 'processing', now() + interval '1 hour')", (scene.event, NEW_PACK))
    assert create_cluster_job(scene.db, scene.event, OLD_PACK, 1, 3) is None


def test_an_unreadable_photo_refuses_the_run_and_changes_nothing(reembed_env: Settings, scene: Scene) -> None:
    # The scene's photos were never analysed (their detection failed, say) and cannot be read: skipped.
    scene.db.execute("delete from media_analyses where event_id = %s", (scene.event,))
    missing = reembed_env.local_storage_dir.as_uri() + "/nonexistent/"   # inside the store, no such file
    scene.db.execute("update media set storage_path = %s || id || '.jpg' where event_id = %s",
                     (missing, scene.event))
    # This one was analysed by the old pack and is gone from storage since: the run must not drop its faces.
    gone = make_media(scene.db, scene.event, storage_path=missing + "photo.jpg")
    scene.db.execute("insert into media_analyses (media_id, model, event_id, face_count) values (%s, %s, %s, 0)",
                     (gone, OLD_PACK, scene.event))
    faces_before = snapshot(scene.db, scene.event)
    with pytest.raises(ReembedError, match=f"1 of 16 photos could not be analysed with {NEW_PACK}.*{gone}: not_found"):
        reembed_event(reembed_env, scene.event, NEW_PACK)
    assert snapshot(scene.db, scene.event) == faces_before
    job = scene.db.execute("select status, error from ml_jobs where job_type = 'reembed'").fetchone()
    assert job["status"] == "failed" and str(gone) in job["error"]
    assert scene.db.execute("select model from event_face_models where event_id = %s",
                            (scene.event,)).fetchone()["model"] == OLD_PACK


def test_the_command_names_bad_input(reembed_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["reembed", "--event", "not-a-uuid"])
    assert exit_info.value.code == 2 and "not an event id (UUID): 'not-a-uuid'" in capsys.readouterr().err
    missing = uuid.uuid4()
    assert cli_main(["reembed", "--event", str(missing), "--pack", NEW_PACK]) == 1
    assert f"facecluster: error: no event {missing}" in capsys.readouterr().err
