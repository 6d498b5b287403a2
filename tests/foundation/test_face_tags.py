"""The face-tag rule: a face tag exists exactly while an active linked person has a face on the media."""

from __future__ import annotations

import uuid

from shared.db.face_tags import sync_face_tags
from tests.factories import add_member, make_event, make_media


def _face(db, event, media, person):
    db.execute("insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding,"
               " person_id, assignment) values (%s, %s, 'yunet-dlib', %s, %s, 0.9, 0.9, %s, %s, %s)",
               (event, media, [0, 0, 1, 1], [0.0] * 10, str([0.1] * 128), person, person and "cluster"))


def _tags(db):
    return {(r["media_id"], r["user_id"], r["source"]) for r in db.execute(
        "select media_id, user_id, source from media_tags")}


def test_tags_follow_links_and_leave_manual_tags_alone(db) -> None:
    event = make_event(db)
    user, other_user = add_member(db, event), uuid.uuid4()
    m1, m2 = make_media(db, event), make_media(db, event)
    p1, p2 = (db.execute("insert into face_persons (event_id, model, linked_user_id) values (%s, 'yunet-dlib', %s)"
                         " returning id", (event, user)).fetchone()["id"] for _ in range(2))
    _face(db, event, m1, p1)
    _face(db, event, m2, p1)
    _face(db, event, m2, p2)  # a second person of the same user supports m2 too
    db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')", (m1, other_user))

    assert sync_face_tags(db, [m1, m2]) == {"tags_added": 2, "tags_removed": 0}
    assert _tags(db) == {(m1, user, "face"), (m2, user, "face"), (m1, other_user, "manual")}
    assert sync_face_tags(db, [m1, m2]) == {"tags_added": 0, "tags_removed": 0}  # idempotent

    # p1 is unlinked: m1 loses its face tag, m2 keeps it because p2 still supports it.
    db.execute("update face_persons set linked_user_id = null where id = %s", (p1,))
    assert sync_face_tags(db, [m1, m2])["tags_removed"] == 1
    assert _tags(db) == {(m2, user, "face"), (m1, other_user, "manual")}

    # An ignored person supports nothing.
    db.execute("update face_persons set status = 'ignored' where id = %s", (p2,))
    sync_face_tags(db, [m1, m2])
    assert _tags(db) == {(m1, other_user, "manual")}


def test_a_manual_tag_is_never_converted_or_removed(db) -> None:
    event = make_event(db)
    user = add_member(db, event)
    media = make_media(db, event)
    person = db.execute("insert into face_persons (event_id, model, linked_user_id) values (%s, 'yunet-dlib', %s)"
                        " returning id", (event, user)).fetchone()["id"]
    _face(db, event, media, person)
    db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')", (media, user))
    sync_face_tags(db, [media])
    db.execute("update face_persons set linked_user_id = null where id = %s", (person,))
    sync_face_tags(db, [media])
    assert _tags(db) == {(media, user, "manual")}
