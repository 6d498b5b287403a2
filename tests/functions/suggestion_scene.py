"""An event whose persons have chosen embeddings: split persons, look-alikes on one photo, an ignored twin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import numpy as np
import psycopg

from tests.clustering.synthetic import near
from tests.factories import add_member, make_event, make_media
from tests.functions.world import MODEL, add_face


def _unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).normal(size=128)
    return (vector / np.linalg.norm(vector)).astype(np.float32)


@dataclass
class Scene:
    """Persons written as clustering leaves them, each with faces around a chosen centre.

    x1/x2 are one person split in two (centres ~0.1 apart), v1/v2 too but farther apart (0.2);
    y1/y2 are alike but share a photo; z2 is ignored; w is nobody else.
    """

    event: uuid.UUID
    organiser: uuid.UUID
    member: uuid.UUID
    persons: dict[str, uuid.UUID] = field(default_factory=dict)
    faces: dict[str, list[uuid.UUID]] = field(default_factory=dict)


def _person(db: psycopg.Connection, scene: Scene, name: str, centre: np.ndarray, count: int,
            media: list[uuid.UUID] | None = None, status: str = "active") -> None:
    person = db.execute("insert into face_persons (event_id, model, status) values (%s, %s, %s) returning id",
                        (scene.event, MODEL, status)).fetchone()["id"]
    media = media or [make_media(db, scene.event) for _ in range(count)]
    faces = [add_face(db, scene.event, m, person, embedding=near(centre, 0.12, seed=hash((name, i)) % 10_000).tolist())
             for i, m in enumerate(media)]
    db.execute("update face_persons set face_count = %s, representative_face_id = %s where id = %s",
               (len(faces), faces[0], person))
    scene.persons[name], scene.faces[name] = person, faces


def build_scene(db: psycopg.Connection) -> Scene:
    organiser = uuid.uuid4()
    event = make_event(db, owner_id=organiser)
    scene = Scene(event, organiser, add_member(db, event))
    x, v, y, z, w = (_unit(seed) for seed in range(5))
    _person(db, scene, "x1", x, 4)
    _person(db, scene, "x2", near(x, 0.1, seed=1), 3)
    _person(db, scene, "v1", v, 3)
    _person(db, scene, "v2", near(v, 0.2, seed=2), 2)
    _person(db, scene, "y1", y, 3)
    _person(db, scene, "y2", near(y, 0.05, seed=3), 2, media=[make_media(db, event), db.execute(
        "select media_id from faces where person_id = %s limit 1", (scene.persons["y1"],)).fetchone()["media_id"]])
    _person(db, scene, "z1", z, 2)
    _person(db, scene, "z2", near(z, 0.05, seed=4), 2, status="ignored")
    _person(db, scene, "w", w, 3)
    return scene
