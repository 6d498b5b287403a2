"""Incremental assignment of new faces on a real database (pgvector nearest-neighbour search)."""

from __future__ import annotations

import numpy as np
import pytest

from shared.clustering.incremental import assign_new_faces
from shared.db import person_actions as actions
from shared.settings import get_settings
from tests.clustering.db_faces import Scene, add_faces, face_tags, persons_of
from tests.clustering.synthetic import identity_embeddings, near
from tests.factories import add_member, make_event, make_media


@pytest.fixture
def clustered(db) -> Scene:
    scene = Scene(db)
    scene.cluster()
    return scene


def _new_face(scene: Scene, name: str, distance: float, seed: int, media=None, model: str = "yunet-dlib"):
    centre = scene.vectors[scene.faces.index(scene.of[name][0])]
    media = media or make_media(scene.db, scene.event)
    face = add_faces(scene.db, scene.event, [media], near(centre, distance, seed)[None], model=model)[0]
    return face, media


def test_a_new_face_of_a_linked_member_is_attached_and_tagged(clustered: Scene) -> None:
    a = clustered.person("A")
    user = add_member(clustered.db, clustered.event)
    clustered.act(actions.assign, a, user)
    face, media = _new_face(clustered, "A", 0.15, seed=1)
    assert assign_new_faces(clustered.db, clustered.event, [face], get_settings()) == 1
    row = clustered.db.execute("select person_id, assignment from faces where id = %s", (face,)).fetchone()
    assert (row["person_id"], row["assignment"]) == (a, "incremental")
    assert (media, user, "face") in face_tags(clustered.db, clustered.event)
    count = clustered.db.execute("select face_count from face_persons where id = %s", (a,)).fetchone()["face_count"]
    assert count == 7


def test_a_stranger_stays_unassigned(clustered: Scene) -> None:
    stranger = identity_embeddings([1], seed=1234)[0]
    face = add_faces(clustered.db, clustered.event, [make_media(clustered.db, clustered.event)], stranger)[0]
    assert assign_new_faces(clustered.db, clustered.event, [face], get_settings()) == 0
    assert persons_of(clustered.db, [face]) == [None]


def test_rejected_person_same_photo_and_other_models_are_respected(clustered: Scene) -> None:
    a = clustered.person("A")
    settings = get_settings()
    # Removed from A by a user before: not attached to A again.
    face, _ = _new_face(clustered, "A", 0.15, seed=2)
    clustered.db.execute("update faces set rejected_person_ids = array[%s]::uuid[] where id = %s", (a, face))
    # On a photo where A already is: a second face of that photo cannot be A.
    a_photo = clustered.media[clustered.faces.index(clustered.of["A"][0])]
    twin, _ = _new_face(clustered, "A", 0.15, seed=3, media=a_photo)
    # Another model's face: never compared with yunet-dlib faces.
    other, _ = _new_face(clustered, "A", 0.05, seed=4, model="scrfd-dlib")
    assert assign_new_faces(clustered.db, clustered.event, [face, twin, other], settings) == 0
    assert persons_of(clustered.db, [face, twin, other]) == [None, None, None]


def test_two_new_faces_of_one_photo_never_both_join_a_person(clustered: Scene) -> None:
    media = make_media(clustered.db, clustered.event)
    first, _ = _new_face(clustered, "B", 0.1, seed=5, media=media)
    second, _ = _new_face(clustered, "B", 0.12, seed=6, media=media)
    assert assign_new_faces(clustered.db, clustered.event, [first, second], get_settings()) == 1


def test_only_active_persons_of_this_event_take_faces(clustered: Scene) -> None:
    c = clustered.person("C")
    clustered.act(actions.set_ignored, c, True)
    face, _ = _new_face(clustered, "C", 0.1, seed=7)
    assert assign_new_faces(clustered.db, clustered.event, [face], get_settings()) == 0
    # The same person's vectors in another event do not attract this event's faces either.
    other_event = make_event(clustered.db)
    vector = np.asarray(clustered.vectors[clustered.faces.index(clustered.of["A"][0])])[None]
    lone = add_faces(clustered.db, other_event, [make_media(clustered.db, other_event)], vector)[0]
    assert assign_new_faces(clustered.db, other_event, [lone], get_settings()) == 0
