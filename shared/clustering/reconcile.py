"""Map a new clustering onto the previous persons without losing anything users did.

Rules (``docs/clustering.md`` explains why):

* **Pinned faces do not move.** A face stays where it is when a user put it there
  (``assignment = 'user'``), when its person is user-owned (linked, named, merged into by
  another, holding user-placed faces, said to be "not the same person" as another, or said
  "not me" to by a member: users curate such persons, and links, tags and those answers hang
  on them), or when its person is
  ignored (ignored persons stay ignored, with their faces).
* **Ids follow shared faces.** A cluster holding pinned faces of a user-owned person continues
  that person (several clusters may: when a user merged C into B, a cluster of C's look-alike
  faces still is B). Every other cluster takes the id of the previous active person it shares
  most faces with, one cluster per person, largest overlaps first; the rest become new
  persons. So re-clustering after uploads keeps ids, links and names.
* **Rejections hold.** A face never joins a person listed in its ``rejected_person_ids``.
* **Cannot-link holds against pinned faces too.** A free face does not join a person that
  already has a face on the same photo.
* Free faces that end in no cluster become unassigned; previous persons that are not
  user-owned and end with no face are deleted; a new person needs ``min_faces`` faces.
* A cluster that matches no active person but clearly is an ignored person (decided by the
  caller with the same rule as the noise pass) joins that ignored person, so a stranger the
  organiser ignored does not come back as a new person after more uploads.

Pure: ids in, a plan out; the database side is :mod:`shared.db.clustering_store`.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FaceState:
    """A face as it is now."""

    face_id: uuid.UUID
    media_id: uuid.UUID
    person_id: uuid.UUID | None
    assignment: str | None
    rejected: frozenset[uuid.UUID] = frozenset()


@dataclass(frozen=True)
class PersonState:
    person_id: uuid.UUID
    status: str             # active | merged | ignored
    user_owned: bool


PersonKey = uuid.UUID | int  # an existing person's id, or the temporary key of a person to create


@dataclass(frozen=True)
class ResolvedPlan:
    """A plan whose new persons exist: every person is an id."""

    moves: dict[uuid.UUID, tuple[uuid.UUID | None, str | None]]
    members: dict[uuid.UUID, list[uuid.UUID]]
    deleted: list[uuid.UUID]


@dataclass
class Plan:
    """What to write: face moves, persons to create (by temporary key) and to delete."""

    moves: dict[uuid.UUID, tuple[PersonKey | None, str | None]] = field(default_factory=dict)
    new_persons: list[int] = field(default_factory=list)            # temporary keys of persons to create
    deleted_persons: list[uuid.UUID] = field(default_factory=list)
    kept_ids: dict[int, uuid.UUID] = field(default_factory=dict)     # cluster label -> person id it kept
    members: dict[PersonKey, list[uuid.UUID]] = field(default_factory=dict)  # final faces of changed persons

    def resolve(self, new_ids: list[uuid.UUID]) -> ResolvedPlan:
        """Replace the temporary keys by the ids of the created persons (in ``new_persons`` order)."""
        ids: dict[PersonKey, uuid.UUID] = dict(zip(self.new_persons, new_ids, strict=True))

        def resolved(person: PersonKey) -> uuid.UUID:
            return person if isinstance(person, uuid.UUID) else ids[person]

        return ResolvedPlan(
            moves={f: (resolved(p) if p is not None else None, a) for f, (p, a) in self.moves.items()},
            members={resolved(p): m for p, m in self.members.items()},
            deleted=list(self.deleted_persons))


def reconcile(face_ids: Sequence[uuid.UUID], labels: np.ndarray, faces: Mapping[uuid.UUID, FaceState],
              persons: Mapping[uuid.UUID, PersonState], *, min_faces: int,
              ignored_matches: Mapping[int, uuid.UUID] | None = None) -> Plan:
    """The plan that turns the current state into the new clustering, keeping user work.

    ``face_ids[i]`` has cluster ``labels[i]`` (-1: none). Faces in ``faces`` but not in
    ``face_ids`` (below the quality bar, or added since clustering started) keep their state
    unless their person is deleted. ``ignored_matches`` maps a cluster label to the ignored
    person it clearly is.
    """
    ignored_matches = ignored_matches or {}
    active = {pid for pid, p in persons.items() if p.status == "active"}

    def pinned(state: FaceState) -> bool:
        if state.person_id is None:
            return False
        person = persons.get(state.person_id)
        return (state.assignment == "user" or person is None or person.status != "active" or person.user_owned)

    final: dict[uuid.UUID, PersonKey | None] = {fid: s.person_id for fid, s in faces.items()}
    assignment: dict[uuid.UUID, str | None] = {fid: s.assignment for fid, s in faces.items()}
    clusters: dict[int, list[uuid.UUID]] = defaultdict(list)
    for face_id, label in zip(face_ids, labels.tolist(), strict=True):
        if face_id not in faces:
            continue  # deleted since clustering started
        if label >= 0:
            clusters[int(label)].append(face_id)
        if not pinned(faces[face_id]):
            final[face_id], assignment[face_id] = None, None

    owned = {pid for pid in active if persons[pid].user_owned}
    targets = _match_clusters(clusters, faces, active, owned)
    media_of: dict[PersonKey, set[uuid.UUID]] = defaultdict(set)  # photos each person already has
    for face_id, person in final.items():
        if person is not None:
            media_of[person].add(faces[face_id].media_id)
    plan = Plan()
    next_key = 0
    for label, members in sorted(clusters.items()):
        target: PersonKey | None = targets.get(label) or ignored_matches.get(label)
        if target is None:
            target, next_key = next_key, next_key + 1
            plan.new_persons.append(target)
        else:
            plan.kept_ids[label] = target
        occupied = media_of[target]
        for face_id in sorted(members, key=str):
            state = faces[face_id]
            if pinned(state) or target in state.rejected or state.media_id in occupied:
                continue
            final[face_id], assignment[face_id] = target, "cluster"
            occupied.add(state.media_id)

    members_of: dict[PersonKey, list[uuid.UUID]] = defaultdict(list)
    for face_id, person in final.items():
        if person is not None:
            members_of[person].append(face_id)
    # New persons too small after rejections and conflicts do not form.
    for key in list(plan.new_persons):
        if len(members_of.get(key, ())) < min_faces:
            plan.new_persons.remove(key)
            for face_id in members_of.pop(key, []):
                final[face_id], assignment[face_id] = None, None
    for person_id in sorted(active, key=str):
        if not persons[person_id].user_owned and not members_of.get(person_id):
            plan.deleted_persons.append(person_id)

    for face_id, state in faces.items():
        if (final[face_id], assignment[face_id]) != (state.person_id, state.assignment):
            plan.moves[face_id] = (final[face_id], assignment[face_id])
    changed = {faces[f].person_id for f in plan.moves} | {target for target, _ in plan.moves.values()}
    plan.members = {p: sorted(members_of.get(p, []), key=str) for p in changed if p is not None}
    return plan


def _match_clusters(clusters: Mapping[int, list[uuid.UUID]], faces: Mapping[uuid.UUID, FaceState],
                    active: set[uuid.UUID], owned: set[uuid.UUID]) -> dict[int, uuid.UUID]:
    """Cluster label -> the previous active person it continues."""
    matched: dict[int, uuid.UUID] = {}
    # Clusters holding a user-owned person's faces continue that person (many clusters may).
    for label, members in clusters.items():
        counts = Counter(faces[f].person_id for f in members if faces[f].person_id in owned)
        if counts:
            matched[label] = min(counts, key=lambda person: (-counts[person], str(person)))
    taken = set(matched.values())
    # The others: one cluster per person, largest overlap first.
    overlaps: list[tuple[int, str, int, uuid.UUID]] = []
    for label, members in clusters.items():
        if label in matched:
            continue
        counts = Counter(faces[f].person_id for f in members if faces[f].person_id in active)
        overlaps.extend((-count, str(person), label, person) for person, count in counts.items())
    for _, _, label, person in sorted(overlaps):
        if label not in matched and person not in taken:
            matched[label] = person
            taken.add(person)
    return matched
