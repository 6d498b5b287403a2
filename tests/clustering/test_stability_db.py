"""Batch clustering on a real database: the result, and that user work survives re-clustering."""

from __future__ import annotations

import logging

import numpy as np
import psycopg
import pytest

from shared.clustering.cluster_event import cluster_event
from shared.db import clustering_store
from shared.db import person_actions as actions
from shared.settings import get_settings
from tests.clustering.db_faces import MODEL, Scene, add_faces, face_tags, persons_of, snapshot
from tests.clustering.synthetic import near
from tests.factories import add_member, make_media


@pytest.fixture
def scene(db: psycopg.Connection) -> Scene:
    return Scene(db)


def test_first_run_writes_persons_counts_representatives(scene: Scene, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        result = cluster_event(scene.db, scene.event, get_settings())
    assert result.persons == 3 and result.assigned == 15 and result.unassigned == 0
    assert "Clustering complete: 3 clusters" in caplog.text
    for name, size in zip("ABC", (6, 5, 4), strict=True):
        person = scene.db.execute("select * from face_persons where id = %s", (scene.person(name),)).fetchone()
        assert person["face_count"] == size and person["model"] == MODEL and person["status"] == "active"
        assert person["representative_face_id"] in scene.of[name]
    assigned = scene.db.execute("select distinct assignment from faces where event_id = %s", (scene.event,))
    assert [r["assignment"] for r in assigned] == ["cluster"]


def test_rerun_after_uploads_keeps_ids_links_names_and_tags_new_media(scene: Scene) -> None:
    scene.cluster()
    a, b = scene.person("A"), scene.person("B")
    user = add_member(scene.db, scene.event)
    scene.act(actions.assign, a, user)
    scene.act(actions.rename, b, "Bea")
    new_faces, new_media = scene.upload("A", 3, seed=50)
    scene.cluster()
    assert scene.person("A") == a and scene.person("B") == b
    assert set(persons_of(scene.db, new_faces)) == {a}
    row = scene.db.execute("select linked_user_id from face_persons where id = %s", (a,)).fetchone()
    assert row["linked_user_id"] == user
    assert scene.db.execute("select display_name from face_persons where id = %s", (b,)).fetchone()["display_name"] \
        == "Bea"
    tags = face_tags(scene.db, scene.event)
    assert {(m, user, "face") for m in new_media} <= tags
    assert scene.db.execute("select face_count from face_persons where id = %s", (a,)).fetchone()["face_count"] == 9


def test_unowned_persons_keep_their_id_by_shared_faces(scene: Scene) -> None:
    scene.cluster()
    before = {name: scene.person(name) for name in "ABC"}
    scene.upload("C", 2, seed=70)
    scene.cluster()
    assert {name: scene.person(name) for name in "ABC"} == before


def test_faces_users_placed_stay_and_removed_faces_do_not_come_back(scene: Scene) -> None:
    scene.cluster()
    a, b = scene.person("A"), scene.person("B")
    odd_one = scene.of["A"][0]
    removed = scene.of["A"][1]
    # A user moves a face of A into B by hand and removes another face from A.
    scene.db.execute("update faces set person_id = %s, assignment = 'user' where id = %s", (b, odd_one))
    scene.act(actions.remove_face, a, removed)
    scene.cluster()
    assert persons_of(scene.db, [odd_one]) == [b]
    assert persons_of(scene.db, [removed])[0] != a
    assert scene.person("B") == b  # B's other faces still there


def test_merged_persons_stay_merged_and_the_target_keeps_its_faces(scene: Scene) -> None:
    scene.cluster()
    b, c = scene.person("B"), scene.person("C")
    scene.act(actions.merge, c, b, force=False)  # a user says C is B
    new_faces, _ = scene.upload("C", 3, seed=60)  # more photos looking like the old C
    scene.cluster()
    assert set(persons_of(scene.db, scene.of["B"] + scene.of["C"] + new_faces)) == {b}
    row = scene.db.execute("select status, merged_into from face_persons where id = %s", (c,)).fetchone()
    assert (row["status"], row["merged_into"]) == ("merged", b)


def test_tags_follow_faces_and_manual_tags_are_never_touched(scene: Scene) -> None:
    scene.cluster()
    a = scene.person("A")
    user = add_member(scene.db, scene.event)
    scene.act(actions.assign, a, user)
    manual_media = scene.media[scene.faces.index(scene.of["B"][0])]
    scene.db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')",
                     (manual_media, user))
    # A user takes one face out of A: its photo loses the face tag; the manual tag stays.
    leaving = scene.of["A"][2]
    leaving_media = scene.media[scene.faces.index(leaving)]
    scene.act(actions.remove_face, a, leaving)
    scene.cluster()
    tags = face_tags(scene.db, scene.event)
    assert (leaving_media, user, "face") not in tags
    assert (manual_media, user, "manual") in tags
    other_a_media = {scene.media[scene.faces.index(f)] for f in scene.of["A"] if f != leaving}
    assert {(m, user, "face") for m in other_a_media} <= tags


def test_a_face_leaving_keeps_the_tag_another_face_of_that_user_supports(scene: Scene) -> None:
    """Two faces of the linked user's person on one photo can't be (cannot-link), so: two persons
    linked to the same user, one photo each; the photo keeps its tag while one supports it."""
    scene.cluster()
    a, b = scene.person("A"), scene.person("B")
    user = add_member(scene.db, scene.event)
    scene.act(actions.assign, a, user)
    scene.act(actions.assign, b, user)  # the organiser linked B to the same user too
    photo = scene.media[scene.faces.index(scene.of["A"][0])]
    extra = add_faces(scene.db, scene.event, [photo], scene.vectors[[scene.faces.index(scene.of["B"][0])]])[0]
    scene.db.execute("update faces set person_id = %s, assignment = 'user' where id = %s", (b, extra))
    scene.act(actions.remove_face, a, scene.of["A"][0])
    scene.cluster()
    assert (photo, user, "face") in face_tags(scene.db, scene.event)


def test_ignored_persons_stay_ignored_and_their_new_faces_join_them(scene: Scene) -> None:
    scene.cluster()
    c = scene.person("C")
    scene.act(actions.set_ignored, c, True)
    new_faces, _ = scene.upload("C", 3, seed=90)
    scene.cluster()
    assert set(persons_of(scene.db, scene.of["C"] + new_faces)) == {c}
    assert scene.db.execute("select status from face_persons where id = %s", (c,)).fetchone()["status"] == "ignored"


def test_other_models_are_never_touched(scene: Scene) -> None:
    other = add_faces(scene.db, scene.event, scene.media[:4], scene.vectors[:4], model="scrfd-dlib")
    scene.cluster()
    assert persons_of(scene.db, other) == [None] * 4


def test_low_quality_faces_form_no_person(scene: Scene) -> None:
    media = [make_media(scene.db, scene.event) for _ in range(3)]
    blurry = add_faces(scene.db, scene.event, media, np.stack([near(scene.vectors[-1], 0.5, s) for s in range(3)]),
                       quality=0.05)
    scene.cluster()
    assert persons_of(scene.db, blurry) == [None] * 3


def test_an_interrupted_write_changes_nothing(scene: Scene, monkeypatch: pytest.MonkeyPatch) -> None:
    scene.cluster()
    a = scene.person("A")
    user = add_member(scene.db, scene.event)
    scene.act(actions.assign, a, user)
    scene.upload("A", 2, seed=30)
    scene.upload("B", 2, seed=40)
    before = snapshot(scene.db, scene.event)

    def crash(*args, **kwargs):
        raise RuntimeError("killed half-way")

    # Faces are already moved when the person summaries are written: fail there. Only this patch
    # is undone afterwards (monkeypatch.undo() would also drop the fixtures' MODEL_PACK and DATABASE_URL).
    with monkeypatch.context() as patched:
        patched.setattr(clustering_store, "set_person_summaries", crash)
        with pytest.raises(RuntimeError, match="half-way"):
            scene.cluster()
    assert snapshot(scene.db, scene.event) == before
    scene.cluster()
    assert snapshot(scene.db, scene.event) != before


def test_edits_made_while_clustering_runs_are_respected(scene: Scene, database_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Clustering takes minutes on big events; a reviewer's edit meanwhile must survive the write."""
    from shared.clustering import cluster_event as clustering
    from shared.db.connection import connect
    from shared.db.events import lock_event_face_data

    scene.cluster()
    a = scene.person("A")
    removed = scene.of["A"][0]
    user = add_member(scene.db, scene.event)
    real = clustering.cluster_faces

    def cluster_while_a_reviewer_edits(*args, **kwargs):
        labels = real(*args, **kwargs)
        with connect(database_url) as reviewer, reviewer.transaction():
            lock_event_face_data(reviewer, scene.event)  # as the person-actions function does
            actions.remove_face(reviewer, scene.event, a, removed)
            actions.assign(reviewer, scene.event, a, user)
        return labels

    monkeypatch.setattr(clustering, "cluster_faces", cluster_while_a_reviewer_edits)
    scene.cluster()
    assert persons_of(scene.db, [removed])[0] != a
    assert scene.person("B") != a
    row = scene.db.execute("select linked_user_id from face_persons where id = %s", (a,)).fetchone()
    assert row["linked_user_id"] == user
    assert set(persons_of(scene.db, scene.of["A"][1:])) == {a}
