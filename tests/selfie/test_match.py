"""The selfie rule on hand-made neighbours: each case is one clause of shared/selfie/match.py."""

from __future__ import annotations

import math

from shared.selfie.match import Neighbour, match_selfie
from shared.selfie.params import SelfieParams

PARAMS = SelfieParams(person_distance=1.0, margin=0.05, face_distance=0.9)
MIN_QUALITY = 0.4


def _n(face: str, person: str | None, distance: float, quality: float = 0.9) -> Neighbour[str, str]:
    return Neighbour(face, person, distance, quality)


def test_a_clearly_nearest_person_comes_back_with_the_close_loose_faces_nearest_first() -> None:
    found = match_selfie([_n("a1", "A", 0.7), _n("a2", "A", 0.95), _n("b1", "B", 0.9), _n("x", None, 0.85),
                          _n("y", None, 0.6), _n("far", None, 0.95)], PARAMS, MIN_QUALITY)
    assert (found.person, found.person_distance, found.ambiguous) == ("A", 0.7, False)
    assert found.faces == [("y", 0.6), ("x", 0.85)]


def test_a_selfie_between_two_persons_is_nobody_not_even_its_loose_faces() -> None:
    found = match_selfie([_n("a1", "A", 0.70), _n("b1", "B", 0.73), _n("x", None, 0.5)], PARAMS, MIN_QUALITY)
    assert found.ambiguous and found.person is None and found.faces == []


def test_no_person_near_still_returns_loose_faces_within_the_face_distance() -> None:
    found = match_selfie([_n("a1", "A", 1.2), _n("x", None, 0.8), _n("y", None, 0.95)], PARAMS, MIN_QUALITY)
    assert found.person is None and not found.ambiguous and found.faces == [("x", 0.8)]


def test_loose_faces_below_the_quality_bar_are_never_returned() -> None:
    found = match_selfie([_n("blurred", None, 0.3, quality=0.2)], PARAMS, MIN_QUALITY)
    assert found.faces == []


def test_a_person_chosen_when_others_may_hide_beyond_the_fetched_faces_is_undecided() -> None:
    only_a = [_n(f"a{i}", "A", 0.7 + i * 0.001) for i in range(5)]
    assert match_selfie(only_a, PARAMS, MIN_QUALITY).person == "A"
    assert match_selfie(only_a, PARAMS, MIN_QUALITY, unseen_beyond=0.72).ambiguous
    assert match_selfie(only_a, PARAMS, MIN_QUALITY, unseen_beyond=math.inf).person == "A"
