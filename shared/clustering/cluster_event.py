"""Cluster one event's faces of one model and write the result: the job, the CLI and the demo call this.

Two phases, so that a long clustering never blocks reviewers and never overwrites what they
did meanwhile:

1. read the faces (one snapshot) and cluster them, with no lock held;
2. in one transaction under the event's face-data lock: re-read the current memberships and
   persons, reconcile the clustering with them (:mod:`shared.clustering.reconcile`), and write
   persons, memberships, counts, representatives and face tags. A failure anywhere in this
   transaction changes nothing; faces added since phase 1 are left as they are (incremental
   assignment handles them, the next run clusters them).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from shared.clustering.clusterer import FaceClusterer
from shared.clustering.noise import choose_person
from shared.clustering.params import ClusteringParams, params_for_model
from shared.clustering.reconcile import FaceState, PersonState, ResolvedPlan, reconcile
from shared.clustering.representative import representative_index
from shared.db import clustering_store as store
from shared.db.event_models import event_model
from shared.db.events import lock_event_face_data
from shared.db.persons import create_persons
from shared.settings import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusteringResult:
    event_id: uuid.UUID
    model: str
    faces: int              # faces of the model in the event
    persons: int            # active persons after the run
    assigned: int           # faces in an active person after the run
    new_persons: int
    deleted_persons: int
    moved_faces: int

    @property
    def unassigned(self) -> int:
        return self.faces - self.assigned

    def job_result(self) -> dict[str, Any]:
        """The ``ml_jobs.result`` of a clustering job."""
        return {"persons": self.persons, "faces": self.faces, "assigned": self.assigned,
                "unassigned": self.unassigned, "model": self.model, "new_persons": self.new_persons,
                "deleted_persons": self.deleted_persons, "moved_faces": self.moved_faces}


def cluster_faces(embeddings: np.ndarray, quality: np.ndarray, photo_ids: np.ndarray, params: ClusteringParams,
                  candidates: np.ndarray | None = None) -> np.ndarray:
    """Person label per face (-1: unassigned) for faces of one model: the quality bar, then clustering.

    ``candidates`` (boolean) restricts clustering to some faces (the others get -1), e.g. to
    leave out faces held by ignored persons. Shared by the batch job and the offline CLI.
    """
    eligible = quality >= params.min_quality
    if candidates is not None:
        eligible &= candidates
    labels = np.full(len(quality), -1, dtype=np.int64)
    rows = np.flatnonzero(eligible)
    if rows.size:
        labels[rows] = FaceClusterer(params).fit_predict(embeddings[rows], np.asarray(photo_ids)[rows])
    return labels


def cluster_event(conn: psycopg.Connection, event_id: uuid.UUID, settings: Settings,
                  model: str | None = None) -> ClusteringResult:
    """Re-cluster the event's faces of ``model`` (default: the event's pack) keeping user work."""
    with conn.transaction():
        model = model or event_model(conn, event_id, settings.model_pack)
        data = store.load_event_faces(conn, event_id, model)
        persons_before = {row["id"]: row["status"] for row in store.load_persons(conn, event_id, model)}
    params = params_for_model(model, settings, data.embeddings.shape[1] or None)
    # Faces of ignored (or merged) persons stay where they are and are not clustered.
    free_or_active = np.array([p is None or persons_before.get(p) == "active" for p in data.person_ids], dtype=bool)
    media_codes = np.unique(np.array([str(m) for m in data.media_ids]), return_inverse=True)[1]
    all_labels = cluster_faces(data.embeddings, data.quality, media_codes, params, candidates=free_or_active)
    ignored = _ignored_matches(data, all_labels, persons_before, params)

    with conn.transaction():
        lock_event_face_data(conn, event_id)
        faces = {row["id"]: FaceState(row["id"], row["media_id"], row["person_id"], row["assignment"],
                                      frozenset(row["rejected_person_ids"] or ()))
                 for row in store.load_face_states(conn, event_id, model)}
        persons = {row["id"]: row for row in store.load_persons(conn, event_id, model)}
        # Every loaded face takes part; those left out of clustering (below the quality bar) as
        # "no cluster", so a stale automatic assignment of theirs is undone too.
        plan = reconcile(
            data.face_ids, all_labels, faces,
            {pid: PersonState(pid, row["status"], row["user_owned"]) for pid, row in persons.items()},
            min_faces=params.min_cluster_size,
            ignored_matches={label: p for label, p in ignored.items()
                             if p in persons and persons[p]["status"] == "ignored"})
        resolved = plan.resolve(create_persons(conn, event_id, model, len(plan.new_persons)))
        store.write_clustering(
            conn, moves=resolved.moves, deleted_persons=resolved.deleted,
            representatives=_representatives(data, resolved, persons),
            affected_media={faces[f].media_id for f in resolved.moves})
        summary = store.event_summary(conn, event_id, model)
    result = ClusteringResult(
        event_id=event_id, model=model, faces=len(data.face_ids), persons=summary["persons"],
        assigned=summary["assigned"], new_persons=len(plan.new_persons), deleted_persons=len(resolved.deleted),
        moved_faces=len(resolved.moves))
    logger.info("Clustering complete: %d clusters", int(all_labels.max() + 1) if all_labels.size else 0,
                extra={"event_id": str(event_id), **result.job_result()})
    return result


def _ignored_matches(data: store.EventFaces, labels: np.ndarray, statuses: dict[uuid.UUID, str],
                     params: ClusteringParams) -> dict[int, uuid.UUID]:
    """Clusters that clearly are an ignored person (same rule as the noise pass, from the cluster centre)."""
    ignored_faces = [i for i, p in enumerate(data.person_ids) if p is not None and statuses.get(p) == "ignored"]
    if not ignored_faces or not (labels >= 0).any():
        return {}
    ignored_vectors = data.embeddings[ignored_faces]
    owners = [data.person_ids[i] for i in ignored_faces]
    matches: dict[int, uuid.UUID] = {}
    for label in np.unique(labels[labels >= 0]).tolist():
        centre = data.embeddings[labels == label].mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        distance = np.linalg.norm(ignored_vectors - centre, axis=1)
        nearest: dict[uuid.UUID, float] = {}
        for owner, d in zip(owners, distance.tolist(), strict=True):
            nearest[owner] = min(d, nearest.get(owner, d))
        choice = choose_person(nearest, params.attach_distance, params.attach_margin)
        if choice is not None:
            matches[int(label)] = choice
    return matches


def _representatives(data: store.EventFaces, plan: ResolvedPlan,
                     persons: dict[uuid.UUID, dict[str, Any]]) -> dict[uuid.UUID, uuid.UUID | None]:
    """Representative face of every changed person; user-owned persons keep theirs while it is a member."""
    row_of = {face_id: i for i, face_id in enumerate(data.face_ids)}
    chosen: dict[uuid.UUID, uuid.UUID | None] = {}
    for person, members in plan.members.items():
        current = persons.get(person)
        if current and current["user_owned"] and current["representative_face_id"] in members:
            chosen[person] = current["representative_face_id"]
            continue
        known = [f for f in members if f in row_of]  # faces added since loading have no embedding here
        if not known:
            chosen[person] = members[0] if members else None
            continue
        rows = [row_of[f] for f in known]
        chosen[person] = known[representative_index(data.embeddings[rows], data.quality[rows])]
    return chosen
