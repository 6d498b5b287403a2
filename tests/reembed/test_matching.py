"""Pairing new faces with old ones on one photo by box overlap."""

from __future__ import annotations

import numpy as np

from shared.reembed.matching import MIN_IOU, iou_matrix, match_boxes


def test_iou_of_known_boxes() -> None:
    overlap = iou_matrix([(0, 0, 10, 10)], [(0, 0, 10, 10), (5, 0, 15, 10), (20, 20, 30, 30), (0, 0, 0, 0)])
    assert np.allclose(overlap, [[1.0, 50 / 150, 0.0, 0.0]])


def test_each_face_finds_itself_whatever_the_order_and_box_jitter() -> None:
    old = [(100, 100, 200, 220), (300, 90, 390, 200), (500, 120, 560, 190)]
    new = [(505, 118, 562, 195), (95, 104, 205, 226), (296, 95, 385, 206)]   # another detector's boxes, shuffled
    assert match_boxes(old, new) == [(0, 1), (1, 2), (2, 0)]


def test_the_best_total_wins_over_the_best_single_pair() -> None:
    # Old 0 and new 0 overlap most (0.82), but new 0 is old 1's only candidate (0.54) and old 0 has
    # another one (0.54): taking the single best pair first would leave old 1 without its face.
    old = [(0, 0, 10, 10), (4, 0, 14, 10)]
    new = [(1, 0, 11, 10), (-3, 0, 7, 10)]
    assert np.allclose(iou_matrix(old, new), [[9 / 11, 7 / 13], [7 / 13, 3 / 17]])
    assert match_boxes(old, new) == [(0, 1), (1, 0)]


def test_too_little_overlap_is_no_match_and_extra_faces_stay_unpaired() -> None:
    old = [(0, 0, 10, 10)]
    assert iou_matrix(old, [(7, 0, 17, 10)])[0, 0] < MIN_IOU
    assert match_boxes(old, [(7, 0, 17, 10)]) == []
    assert match_boxes(old, [(50, 50, 60, 60), (0, 0, 10, 11)]) == [(0, 1)]
    assert match_boxes([], [(0, 0, 1, 1)]) == [] and match_boxes(old, []) == []
