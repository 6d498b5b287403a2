"""The face that shows a person in lists: a good face near the person's centre.

The best-quality face alone is often atypical (a studio close-up in an event of phone
snaps) and the most central face may be blurred; taking the sharpest of the more central half
gives a face that is both typical and clear.
"""

from __future__ import annotations

import numpy as np


def representative_index(embeddings: np.ndarray, quality: np.ndarray) -> int:
    """Index of the highest-quality face among those at most the median distance from the centre."""
    centre = embeddings.mean(axis=0)
    norm = np.linalg.norm(centre)
    if norm > 0:
        centre = centre / norm
    distance = np.linalg.norm(embeddings - centre, axis=1)
    central = np.flatnonzero(distance <= np.median(distance))
    # Highest quality first, then nearest the centre.
    return int(central[np.lexsort((distance[central], -quality[central]))[0]])
