"""Persons, faces and tags written directly, as clustering would leave them, and the invariants to check."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field

import psycopg
from PIL import Image

from tests.factories import add_member, make_event, make_media

MODEL = "yunet-dlib"


def jpeg_thumbnail(shade: int) -> bytes:
    """A real (tiny) JPEG, as detection stores in faces.thumbnail."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (shade, 128, 255 - shade)).save(buffer, format="JPEG")
    return buffer.getvalue()


def add_face(db: psycopg.Connection, event_id: uuid.UUID, media_id: uuid.UUID, person_id: uuid.UUID | None,
             *, quality: float = 0.8, embedding: list[float] | None = None) -> uuid.UUID:
    return db.execute(
        "insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding, thumbnail,"
        " person_id, assignment) values (%s, %s, %s, %s, %s, 0.9, %s, %s, %s, %s, %s) returning id",
        (event_id, media_id, MODEL, [0, 0, 10, 10], [0.0] * 10, quality, str(embedding or [0.1] * 128),
         jpeg_thumbnail(int(quality * 255)), person_id, "cluster" if person_id else None)).fetchone()["id"]


def add_person(db: psycopg.Connection, event_id: uuid.UUID, media_ids: list[uuid.UUID], *,
               linked_user_id: uuid.UUID | None = None, display_name: str | None = None) -> uuid.UUID:
    """A person with one face on each of ``media_ids``, counted, with its best face as representative."""
    person_id = db.execute("insert into face_persons (event_id, model, linked_user_id, display_name)"
                           " values (%s, %s, %s, %s) returning id",
                           (event_id, MODEL, linked_user_id, display_name)).fetchone()["id"]
    faces = [add_face(db, event_id, media, person_id, quality=0.5 + 0.4 * i / max(1, len(media_ids)))
             for i, media in enumerate(media_ids)]
    db.execute("update face_persons set face_count = %s, representative_face_id = %s where id = %s",
               (len(faces), faces[-1] if faces else None, person_id))
    if linked_user_id:
        for media in media_ids:
            db.execute("insert into media_tags (media_id, user_id, source, person_id) values (%s, %s, 'face', %s)"
                       " on conflict do nothing", (media, linked_user_id, person_id))
    return person_id


@dataclass
class World:
    """One event: an organiser, two members, an outsider, six photos, three persons, one stray face."""

    event: uuid.UUID
    organiser: uuid.UUID
    alice: uuid.UUID
    bob: uuid.UUID
    outsider: uuid.UUID
    media: list[uuid.UUID]
    persons: dict[str, uuid.UUID] = field(default_factory=dict)


def build_world(db: psycopg.Connection) -> World:
    organiser, outsider = uuid.uuid4(), uuid.uuid4()
    event = make_event(db, owner_id=organiser)
    world = World(event, organiser, add_member(db, event), add_member(db, event), outsider,
                  [make_media(db, event) for _ in range(6)])
    m = world.media
    world.persons["big"] = add_person(db, event, [m[0], m[1], m[2], m[3]])
    world.persons["alice"] = add_person(db, event, [m[1], m[4]], linked_user_id=world.alice)
    world.persons["small"] = add_person(db, event, [m[5]])
    add_face(db, event, m[5], None)
    return world


def check_invariants(db: psycopg.Connection, event_id: uuid.UUID) -> None:
    """What every action must leave true: counts, representatives, merge state and the face-tag rule."""
    miscounted = db.execute(
        "select p.id from face_persons p where p.event_id = %s"
        " and p.face_count <> (select count(*) from faces f where f.person_id = p.id)", (event_id,)).fetchall()
    assert miscounted == [], "face_count differs from the faces pointing at the person"
    bad_rep = db.execute(
        "select p.id from face_persons p left join faces f on f.id = p.representative_face_id"
        " where p.event_id = %s and ((p.face_count > 0 and (f.id is null or f.person_id <> p.id))"
        " or (p.face_count = 0 and p.representative_face_id is not null))", (event_id,)).fetchall()
    assert bad_rep == [], "a representative face is not one of the person's faces"
    merged_with_faces = db.execute(
        "select p.id from face_persons p join faces f on f.person_id = p.id"
        " where p.event_id = %s and p.status = 'merged'", (event_id,)).fetchall()
    assert merged_with_faces == [], "a merged person still has faces"
    expected = {(r["media_id"], r["user_id"]) for r in db.execute(
        "select distinct f.media_id, p.linked_user_id as user_id from faces f join face_persons p on p.id = f.person_id"
        " where p.status = 'active' and p.linked_user_id is not null and f.event_id = %s", (event_id,))}
    actual = {(r["media_id"], r["user_id"]) for r in db.execute(
        "select t.media_id, t.user_id from media_tags t join media m on m.id = t.media_id"
        " where t.source = 'face' and m.event_id = %s", (event_id,))}
    manual = {(r["media_id"], r["user_id"]) for r in db.execute(
        "select t.media_id, t.user_id from media_tags t join media m on m.id = t.media_id"
        " where t.source = 'manual' and m.event_id = %s", (event_id,))}
    assert actual == expected - manual, "face tags do not follow the person links"
