"""Writing synthetic faces into the test database (the detection service's rows, minus the image)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import numpy as np
import psycopg

from shared.clustering.cluster_event import cluster_event
from shared.settings import get_settings
from tests.clustering.synthetic import identity_embeddings, near
from tests.factories import make_event, make_media

MODEL = "yunet-dlib"


def add_faces(db: psycopg.Connection, event_id: uuid.UUID, media_ids: Sequence[uuid.UUID],
              embeddings: np.ndarray, *, model: str = MODEL, quality: float = 0.9) -> list[uuid.UUID]:
    """One face per (media id, embedding) pair; returns the face ids in order."""
    ids = []
    for media_id, embedding in zip(media_ids, embeddings, strict=True):
        ids.append(db.execute(
            """
            insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding)
            values (%s, %s, %s, '{0,0,10,10}', '{1,1,2,2,3,3,4,4,5,5}', 0.99, %s, %s) returning id
            """,
            (event_id, media_id, model, quality, np.asarray(embedding, dtype=np.float32))).fetchone()["id"])
    return ids


def persons_of(db: psycopg.Connection, face_ids: Sequence[uuid.UUID]) -> list[uuid.UUID | None]:
    rows = {r["id"]: r["person_id"] for r in db.execute("select id, person_id from faces where id = any(%s)",
                                                        (list(face_ids),))}
    return [rows[f] for f in face_ids]


def face_tags(db: psycopg.Connection, event_id: uuid.UUID) -> set[tuple[uuid.UUID, uuid.UUID, str]]:
    rows = db.execute("select t.media_id, t.user_id, t.source from media_tags t join media m on m.id = t.media_id"
                      " where m.event_id = %s", (event_id,))
    return {(r["media_id"], r["user_id"], r["source"]) for r in rows}


def snapshot(db: psycopg.Connection, event_id: uuid.UUID) -> tuple:
    """Everything clustering may change, comparable before/after."""
    faces = db.execute("select id, person_id, assignment, rejected_person_ids from faces where event_id = %s"
                       " order by id", (event_id,)).fetchall()
    persons = db.execute("select id, status, merged_into, linked_user_id, display_name, face_count,"
                         " representative_face_id from face_persons where event_id = %s order by id",
                         (event_id,)).fetchall()
    return faces, persons, face_tags(db, event_id)


class Scene:
    """An event with three people (A: 6 faces, B: 5, C: 4), one face per photo."""

    def __init__(self, db: psycopg.Connection) -> None:
        self.db = db
        self.event = make_event(db)
        self.vectors, identity = identity_embeddings([6, 5, 4], spread=0.15, seed=11)
        self.media = [make_media(db, self.event) for _ in identity]
        self.faces = add_faces(db, self.event, self.media, self.vectors)
        self.of = {name: [f for f, i in zip(self.faces, identity, strict=True) if i == k]
                   for k, name in enumerate("ABC")}

    def person(self, name: str) -> uuid.UUID:
        people = set(persons_of(self.db, self.of[name]))
        assert len(people) == 1 and None not in people, f"{name} is not one person: {people}"
        return people.pop()

    def cluster(self) -> None:
        cluster_event(self.db, self.event, get_settings())

    def upload(self, name: str, count: int, seed: int) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
        """New photos of one person (near that person's first face)."""
        centre = self.vectors[self.faces.index(self.of[name][0])]
        media = [make_media(self.db, self.event) for _ in range(count)]
        faces = add_faces(self.db, self.event, media, np.stack([near(centre, 0.15, seed + i) for i in range(count)]))
        return faces, media

    def act(self, action, *args, **kwargs):
        with self.db.transaction():
            return action(self.db, self.event, *args, **kwargs)
