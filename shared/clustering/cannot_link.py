"""Two faces in the same photo are never the same person.

A cluster holding two faces of one photo is evidence that HDBSCAN merged two people (twins and
siblings photographed together are the classic case). The fix uses HDBSCAN's own hierarchy:

* if the cluster's children in the condensed tree put the two faces in *different* child
  clusters, the hierarchy already knows the two people apart: the cluster is replaced by its
  children (recursively, as a child may still hold a conflict);
* otherwise (no children, or both faces in one child) the split would not separate them, so
  the cluster stays and, per photo, only the face nearest the cluster's centre stays in it;
  the others become unassigned (the noise pass may still place them elsewhere).

Faces of the node that fall out before its children form go unassigned on a split; the noise
pass reconsiders them.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


class CondensedTree:
    """Read access to ``hdbscan``'s condensed tree: cluster nodes, their children and points."""

    def __init__(self, condensed: np.ndarray, n_points: int) -> None:
        self.n_points = n_points
        self.children: dict[int, list[int]] = defaultdict(list)
        self.parent: dict[int, int] = {}
        self.direct_points: dict[int, list[int]] = defaultdict(list)
        for parent, child, _, size in zip(condensed["parent"], condensed["child"], condensed["lambda_val"],
                                          condensed["child_size"], strict=True):
            parent, child = int(parent), int(child)
            self.parent[child] = parent
            if child < n_points:
                self.direct_points[parent].append(child)
            elif size > 1:
                self.children[parent].append(child)

    def points(self, node: int) -> np.ndarray:
        """All points under ``node``."""
        found, stack = [], [node]
        while stack:
            current = stack.pop()
            found.extend(self.direct_points.get(current, ()))
            stack.extend(self.children.get(current, ()))
        return np.array(sorted(found), dtype=np.int64)

    def node_of(self, members: np.ndarray) -> int | None:
        """The lowest cluster node whose points include all ``members`` (the selected cluster)."""
        if members.size == 0 or int(members[0]) not in self.parent:
            return None
        chain = []
        node = self.parent[int(members[0])]
        while True:
            chain.append(node)
            if node not in self.parent:
                break
            node = self.parent[node]
        wanted = set(members.tolist())
        for node in chain:
            if wanted.issubset(self.points(node).tolist()):
                return node
        return None


def conflicting_pairs(members: np.ndarray, photo_ids: np.ndarray) -> list[tuple[int, int]]:
    """Pairs of members that share a photo."""
    by_photo: dict[object, list[int]] = defaultdict(list)
    for face in members.tolist():
        by_photo[photo_ids[face]].append(face)
    return [(faces[i], faces[j]) for faces in by_photo.values() if len(faces) > 1
            for i in range(len(faces)) for j in range(i + 1, len(faces))]


def keep_one_face_per_photo(embeddings: np.ndarray, members: np.ndarray, photo_ids: np.ndarray) -> np.ndarray:
    """The members minus, per photo, every face but the one nearest the members' centre."""
    centre = embeddings[members].mean(axis=0)
    distance = np.linalg.norm(embeddings[members] - centre, axis=1)
    kept: dict[object, tuple[float, int]] = {}
    for face, dist in zip(members.tolist(), distance.tolist(), strict=True):
        photo = photo_ids[face]
        if photo not in kept or dist < kept[photo][0]:
            kept[photo] = (dist, face)
    return np.array(sorted(face for _, face in kept.values()), dtype=np.int64)


def enforce_cannot_link(embeddings: np.ndarray, labels: np.ndarray, photo_ids: np.ndarray,
                        tree: CondensedTree, min_cluster_size: int) -> np.ndarray:
    """New labels in which no cluster holds two faces of one photo."""
    result = np.full_like(labels, -1)
    next_label = 0
    clustered = np.flatnonzero(labels >= 0)
    order = clustered[np.argsort(labels[clustered], kind="stable")]
    boundaries = np.flatnonzero(np.diff(labels[order])) + 1
    for members in np.split(order, boundaries) if order.size else []:
        members = np.sort(members)
        # Only conflicting clusters need their tree node (finding it walks the hierarchy).
        node = tree.node_of(members) if conflicting_pairs(members, photo_ids) else None
        for group in _resolve(embeddings, members, photo_ids, tree, node):
            if group.size >= min_cluster_size:
                result[group] = next_label
                next_label += 1
    return result


def _resolve(embeddings: np.ndarray, members: np.ndarray, photo_ids: np.ndarray, tree: CondensedTree,
             node: int | None) -> list[np.ndarray]:
    pairs = conflicting_pairs(members, photo_ids)
    if not pairs:
        return [members]
    children = tree.children.get(node, []) if node is not None else []
    child_of: dict[int, int] = {}
    child_points = {child: np.intersect1d(tree.points(child), members) for child in children}
    for child, points in child_points.items():
        child_of.update(dict.fromkeys(points.tolist(), child))
    separated = any(a in child_of and b in child_of and child_of[a] != child_of[b] for a, b in pairs)
    if not separated:
        return [keep_one_face_per_photo(embeddings, members, photo_ids)]
    groups: list[np.ndarray] = []
    for child, points in child_points.items():
        groups.extend(_resolve(embeddings, points, photo_ids, tree, child))
    return groups
