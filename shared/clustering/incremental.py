"""Attach faces detected after the last clustering to an existing person, right away.

The detection service calls :func:`assign_new_faces` after storing an image's faces, so a new
upload of a linked member is tagged within seconds instead of at the next batch run. A face
joins a person only when it clearly is that person, by the same rule as the batch's noise
pass (:func:`shared.clustering.noise.choose_person` on nearest-face distances, found with
pgvector's HNSW index among the event's faces of the same model), and only when:

* the person is active (ignored and merged persons take no new faces);
* the face was never removed from that person by a user (``rejected_person_ids``);
* the person has no face on the same photo yet (cannot-link). If the nearest person is
  excluded by these, the face stays unassigned rather than going to the runner-up: the
  evidence says "that person or nobody".
"""

from __future__ import annotations

import logging
import uuid

import numpy as np
import psycopg

from shared.clustering.noise import choose_person
from shared.clustering.params import params_for_model
from shared.db import clustering_store as store
from shared.db.events import lock_event_face_data
from shared.db.face_tags import sync_face_tags
from shared.settings import Settings

logger = logging.getLogger(__name__)

# Nearest faces fetched per new face: enough to see the runner-up person behind a person's
# own faces (a person photographed 30 times fills the first places).
NEIGHBOURS = 40


def assign_new_faces(conn: psycopg.Connection, event_id: uuid.UUID, face_ids: list[uuid.UUID],
                     settings: Settings) -> int:
    """Attach each clearly-recognised face to its person; return how many were attached."""
    if not face_ids:
        return 0
    with conn.transaction():
        lock_event_face_data(conn, event_id)
        faces = store.faces_for_assignment(conn, event_id, face_ids)
        chosen: dict[uuid.UUID, uuid.UUID] = {}
        claimed: set[tuple[uuid.UUID, uuid.UUID]] = set()  # (person, photo) taken in this call
        for face in faces:
            person = _person_for(conn, event_id, face, settings)
            if person is not None and (person, face["media_id"]) not in claimed:
                chosen[face["id"]] = person
                claimed.add((person, face["media_id"]))
        media = {photo for _, photo in claimed}
        if chosen:
            store.assign_faces(conn, chosen)
            sync_face_tags(conn, media)
    logger.info("incremental assignment: %d of %d new faces attached", len(chosen), len(face_ids),
                extra={"event_id": str(event_id)})
    return len(chosen)


def _person_for(conn: psycopg.Connection, event_id: uuid.UUID, face: dict, settings: Settings) -> uuid.UUID | None:
    embedding = face["embedding"]
    params = params_for_model(face["model"], settings, len(embedding))
    if face["quality"] < params.min_quality:
        return None
    nearest: dict[uuid.UUID, float] = {}
    for row in store.nearest_faces(conn, event_id, face["model"], embedding, NEIGHBOURS):
        nearest.setdefault(row["person_id"], float(row["distance"]))
    person = choose_person(nearest, params.attach_distance, params.attach_margin)
    if person is None or person in set(face["rejected_person_ids"] or ()):
        return None
    if store.person_on_photo(conn, person, face["media_id"]):
        return None
    return person


def nearest_person(conn: psycopg.Connection, event_id: uuid.UUID, model: str, embedding: np.ndarray,
                   media_id: uuid.UUID, settings: Settings) -> uuid.UUID | None:
    """The person a face an organiser placed most likely is: the nearest active one within attach distance.

    The organiser vouches that it is a face, so unlike :func:`assign_new_faces` no margin over
    the runner-up is asked; cannot-link still holds (a person already on the photo is skipped).
    """
    params = params_for_model(model, settings, len(embedding))
    for row in store.nearest_faces(conn, event_id, model, embedding, NEIGHBOURS):
        if float(row["distance"]) > params.attach_distance:
            return None
        if not store.person_on_photo(conn, row["person_id"], media_id):
            return row["person_id"]
    return None
