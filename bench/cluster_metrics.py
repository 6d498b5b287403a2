"""How good a clustering of an event's faces is, against identity labels: the whole truth.

Labelled-face metrics alone flatter a clustering: they never see the background guests and
border-cut faces that end up as persons on the review page. So besides them:

* **all-faces BCubed precision**: every detected face scored, an unlabelled face being an
  identity of its own (a person made of eight strangers is eight wrong faces, not zero);
* **junk persons**: persons (≥ 2 faces) more than half of whose faces are unlabelled, and that
  count per 400 photos;
* **same-photo pairs**: pairs of faces of one photo in one person (must be 0: two faces of
  one photo are two people).

Unassigned faces count as persons of one. ``found`` is the share of the dataset's labelled
faces the detector found, ``assigned`` the share of those that are in a person.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JUNK_SHARE = 0.5
PHOTOS_PER_REPORT = 400


@dataclass(frozen=True)
class Score:
    found: float
    assigned: float
    pairwise_p: float
    pairwise_r: float
    bcubed_p: float
    bcubed_r: float
    all_faces_bcubed_p: float
    persons: int
    junk_persons: int
    same_photo_pairs: int
    photos: int

    @property
    def bcubed_f(self) -> float:
        return _f(self.bcubed_p, self.bcubed_r)

    @property
    def pairwise_f(self) -> float:
        return _f(self.pairwise_p, self.pairwise_r)

    @property
    def junk_per_400(self) -> float:
        return self.junk_persons * PHOTOS_PER_REPORT / max(self.photos, 1)


def _f(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _singletons_apart(labels: np.ndarray) -> np.ndarray:
    """Unassigned faces (-1) as persons of one."""
    labels = labels.copy()
    alone = labels < 0
    labels[alone] = labels.max(initial=-1) + 1 + np.arange(alone.sum())
    return labels


def _codes(identities: list[str | None]) -> np.ndarray:
    """Identity codes per face; each unlabelled face gets a code of its own."""
    names = {name: i for i, name in enumerate(sorted({i for i in identities if i is not None}))}
    codes = np.array([names[i] if i is not None else -1 for i in identities], dtype=np.int64)
    alone = codes < 0
    codes[alone] = len(names) + np.arange(alone.sum())
    return codes


def score(labels: np.ndarray, identities: list[str | None], photo_ids: np.ndarray, labelled_total: int,
          photos: int, scored: set[str] | None = None) -> Score:
    """Scores of ``labels`` (one per face, -1 = unassigned).

    ``labelled_total`` is how many labelled faces (of ``scored``, when given) the dataset has.
    ``scored`` restricts the labelled-face averages to faces of those identities (a group of
    people) while every face still counts as a neighbour; the all-faces and person counts are
    always over the whole event.
    """
    labelled = np.array([i is not None for i in identities], dtype=bool)
    chosen = labelled if scored is None else np.array([i in scored for i in identities], dtype=bool)
    pred = _singletons_apart(labels)
    truth = _codes(identities)

    same_pred = pred[:, None] == pred[None, :]
    same_true = truth[:, None] == truth[None, :]
    # Labelled metrics: only labelled faces exist.
    sp, st = same_pred[np.ix_(labelled, labelled)], same_true[np.ix_(labelled, labelled)]
    rows = chosen[labelled]
    both = (sp & st).sum(axis=1)
    off = ~np.eye(len(sp), dtype=bool)
    pair_rows = rows[:, None] | rows[None, :]
    tp = (sp & st & off & pair_rows).sum()
    pairwise_p = tp / max((sp & off & pair_rows).sum(), 1)
    pairwise_r = tp / max((st & off & pair_rows).sum(), 1)
    bcubed_p = float(np.mean((both / sp.sum(axis=1))[rows])) if rows.any() else 1.0
    bcubed_r = float(np.mean((both / st.sum(axis=1))[rows])) if rows.any() else 1.0
    # All faces: unlabelled faces are identities of their own.
    all_p = float(np.mean((same_pred & same_true).sum(axis=1) / same_pred.sum(axis=1))) if len(pred) else 1.0

    persons = junk = 0
    for label in np.unique(labels[labels >= 0]):
        members = labels == label
        if members.sum() < 2:
            continue
        persons += 1
        junk += (~labelled[members]).mean() > JUNK_SHARE
    same_photo = same_pred & (photo_ids[:, None] == photo_ids[None, :]) & ~np.eye(len(pred), dtype=bool)
    return Score(found=float(chosen.sum() / max(labelled_total, 1)),
                 assigned=float((labels[chosen] >= 0).mean()) if chosen.any() else 1.0,
                 pairwise_p=float(pairwise_p), pairwise_r=float(pairwise_r), bcubed_p=bcubed_p, bcubed_r=bcubed_r,
                 all_faces_bcubed_p=all_p, persons=persons, junk_persons=int(junk),
                 same_photo_pairs=int(same_photo.sum() // 2), photos=photos)


LABELLED_HEADER = "| found | assigned | pair P | pair R | BCubed P | BCubed R | BCubed F |"
HEADER = ("| found | assigned | pair P | pair R | BCubed P | BCubed R | BCubed F | all-faces BCubed P | persons "
          "| junk (per 400 photos) | same-photo pairs |")


def labelled_row(s: Score) -> str:
    """The table cells of :data:`LABELLED_HEADER` for one score."""
    return (f"| {s.found:.3f} | {s.assigned:.3f} | {s.pairwise_p:.3f} | {s.pairwise_r:.3f} | {s.bcubed_p:.3f} | "
            f"{s.bcubed_r:.3f} | {s.bcubed_f:.4f} |")


def row(s: Score) -> str:
    """The table cells of :data:`HEADER` for one score."""
    return (f"{labelled_row(s)} {s.all_faces_bcubed_p:.3f} | {s.persons} | {s.junk_persons} ({s.junk_per_400:.1f}) | "
            f"{s.same_photo_pairs} |")
