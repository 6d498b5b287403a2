"""Reconciling a new clustering with previous persons, on plain values (no database)."""

from __future__ import annotations

import uuid

import numpy as np

from shared.clustering.reconcile import FaceState, PersonState, reconcile


def _ids(n: int) -> list[uuid.UUID]:
    return [uuid.UUID(int=i + 1) for i in range(n)]


def _faces(ids, persons, assignments=None, media=None, rejected=None):
    assignments = assignments or ["cluster" if p else None for p in persons]
    media = media or [uuid.UUID(int=1000 + i) for i in range(len(ids))]
    rejected = rejected or [frozenset()] * len(ids)
    rows = zip(ids, persons, assignments, media, rejected, strict=True)
    return {f: FaceState(f, m, p, a, r) for f, p, a, m, r in rows}


P1, P2, P3 = uuid.UUID(int=501), uuid.UUID(int=502), uuid.UUID(int=503)


def test_clusters_keep_the_id_of_the_person_they_share_most_faces_with() -> None:
    ids = _ids(6)
    faces = _faces(ids, [P1, P1, P1, P2, P2, None])
    persons = {P1: PersonState(P1, "active", False), P2: PersonState(P2, "active", False)}
    plan = reconcile(ids, np.array([1, 1, 1, 0, 0, 0]), faces, persons, min_faces=2)
    assert plan.kept_ids == {1: P1, 0: P2}
    assert plan.moves == {ids[5]: (P2, "cluster")}
    assert plan.new_persons == [] and plan.deleted_persons == []


def test_user_owned_persons_keep_their_faces_and_rejected_faces_stay_out() -> None:
    ids = _ids(5)
    # P1 is linked (user-owned) with faces 0, 1; face 2 was removed from P1 by a user.
    faces = _faces(ids, [P1, P1, None, None, None], rejected=[frozenset(), frozenset(), frozenset({P1}),
                                                                frozenset(), frozenset()])
    persons = {P1: PersonState(P1, "active", True)}
    # The new clustering puts face 1 elsewhere and faces 0, 2, 3 together.
    plan = reconcile(ids, np.array([0, 1, 0, 0, 1]), faces, persons, min_faces=2)
    final = {f: plan.moves.get(f, (faces[f].person_id, faces[f].assignment))[0] for f in ids}
    assert final[ids[0]] == P1 and final[ids[1]] == P1  # pinned
    assert final[ids[3]] == P1                          # joins the person its cluster continues
    assert final[ids[2]] != P1                          # rejected: never back into P1


def test_cannot_link_against_faces_already_in_the_person() -> None:
    ids = _ids(3)
    photo = uuid.UUID(int=9000)
    faces = _faces(ids, [P1, None, None], assignments=["user", None, None], media=[photo, photo, uuid.UUID(int=9001)])
    persons = {P1: PersonState(P1, "active", True)}
    plan = reconcile(ids, np.array([0, 0, 0]), faces, persons, min_faces=2)
    assert ids[1] not in plan.moves  # same photo as the pinned face: stays unassigned
    assert plan.moves[ids[2]] == (P1, "cluster")


def test_vanished_automatic_persons_are_deleted_and_small_new_persons_not_formed() -> None:
    ids = _ids(4)
    faces = _faces(ids, [P1, P1, P2, P2])
    persons = {P1: PersonState(P1, "active", False), P2: PersonState(P2, "active", True)}
    plan = reconcile(ids, np.array([-1, -1, -1, -1]), faces, persons, min_faces=2)
    assert plan.deleted_persons == [P1]  # P2 is user-owned: kept with its faces
    assert plan.moves == {ids[0]: (None, None), ids[1]: (None, None)}


def test_ignored_persons_keep_faces_and_absorb_clusters_matched_to_them() -> None:
    ids = _ids(4)
    faces = _faces(ids, [P3, None, None, None])
    persons = {P3: PersonState(P3, "ignored", False)}
    plan = reconcile(ids, np.array([-1, 0, 0, 0]), faces, persons, min_faces=2, ignored_matches={0: P3})
    assert ids[0] not in plan.moves
    assert all(plan.moves[f] == (P3, "cluster") for f in ids[1:])
    assert plan.new_persons == []
