"""Selfie search in an event's database: the endpoint's service, timed by ``bench/selfie_search.py``.

The selfie's nearest faces come from pgvector (the HNSW index of the event's model), the rule
from :mod:`shared.selfie.match`; a person the member said "not me" to is never offered (and
then nothing is: the faces near the selfie are that person's too); photos are only those the
member may see, asked under the member's own row-level security.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field

import numpy as np
import psycopg

from shared.db import selfie as store
from shared.db.clustering_store import nearest_faces
from shared.db.not_me import not_me_persons
from shared.selfie.match import Neighbour, match_selfie
from shared.selfie.params import selfie_params

# Nearest faces fetched: a person photographed often fills the first places; this many show
# the runner-up person and the unclustered faces behind them.
NEIGHBOURS = 200


@dataclass(frozen=True)
class SelfieResult:
    """What one search found: the person (with its distance), loose faces, visible photos."""

    persons: list[tuple[uuid.UUID, float]] = field(default_factory=list)
    faces: list[tuple[uuid.UUID, uuid.UUID, float]] = field(default_factory=list)  # face, media, distance
    media_ids: set[uuid.UUID] = field(default_factory=set)
    ambiguous: bool = False


def search_event(conn: psycopg.Connection, event_id: uuid.UUID, user_id: uuid.UUID, model: str,
                 embedding: np.ndarray, min_quality: float) -> SelfieResult:
    """The persons and photos of the event that are the selfie, as the member may see them."""
    rows = nearest_faces(conn, event_id, model, embedding, NEIGHBOURS, include_loose=True)
    neighbours = [Neighbour(r["id"], r["person_id"], float(r["distance"]), float(r["quality"])) for r in rows]
    horizon = neighbours[-1].distance if len(neighbours) == NEIGHBOURS else math.inf
    found = match_selfie(neighbours, selfie_params(model), min_quality, horizon)
    if found.person is not None and found.person in not_me_persons(conn, event_id, user_id):
        return SelfieResult()
    media = {r["id"]: r["media_id"] for r in rows}
    persons = [] if found.person is None else [(found.person, found.person_distance)]
    photos = {m for p, _ in persons for m in store.person_media(conn, p)} | {media[f] for f, _ in found.faces}
    visible = store.visible_media(conn, user_id, photos) if photos else set()
    return SelfieResult(persons, [(f, media[f], d) for f, d in found.faces if media[f] in visible], visible,
                        found.ambiguous)
