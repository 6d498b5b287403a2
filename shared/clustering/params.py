"""Clustering parameters, with defaults measured per embedding model.

The right distances depend on the recogniser, not on the detector: dlib's ResNet (128-d, every
``*-dlib`` pack), Intel's re-identification model (256-d, ``yunet-reid256*``) and ArcFace (512-d,
``buffalo_l``) spread identities very differently on the unit sphere. The guide's
``CLUSTER_EPSILON=0.4`` was tuned for ArcFace; on dlib embeddings it merges different people
(see ``docs/clustering.md`` for the measurements behind each value).

All distances are Euclidean between L2-normalised embeddings (``sqrt(2 - 2 cos)``, 0..2).
``MIN_CLUSTER_SIZE`` / ``MIN_SAMPLES`` / ``CLUSTER_EPSILON`` / ``MIN_FACE_QUALITY`` override the
model's default when set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared.settings import Settings


@dataclass(frozen=True)
class ClusteringParams:
    min_cluster_size: int     # HDBSCAN: smallest person
    min_samples: int          # HDBSCAN: density (neighbours) a face needs to be a core face
    epsilon: float            # HDBSCAN cluster_selection_epsilon: clusters closer than this are one
    min_quality: float        # faces below this quality are left out of clustering
    link_distance: float      # faces farther than this from every other face never share a person
    merge_distance: float     # clusters whose faces are this close on average are one person
    attach_distance: float    # noise pass / incremental: farthest a face may be from its person
    attach_margin: float      # ... and how much nearer that person must be than any other


# How every value below was chosen (bench/cluster_quality.py --sweep; docs/clustering.md has the
# tables): each parameter swept on dev, dev2 and group_photos *separately*, each clustered as an
# event, and the value taken inside the plateau of every set, never at the edge of one set's
# cliff, precision first: pairwise precision, BCubed precision over all detected faces
# (strangers count) and junk persons decide, recall only among values that keep them. A person
# split in two is one click to merge; a mixed one is not, so faces are left unassigned instead.
#
# The quality bar is a property of the face, not of the recogniser (shared/face_analysis/quality.py):
# 0.4 is in the middle of the plateau 0.35-0.45 of both measured recognisers; below 0.35 border-cut
# strangers form junk persons on dev2, above 0.45 labelled faces are lost. HDBSCAN's sizes stay
# 2 / 1: an event is full of people seen twice (group photos: min_samples 2 or min_cluster_size 3
# leave about 18 % of their labelled faces unassigned, instead of 5 %), and the merge step below, not HDBSCAN's
# density, joins the pieces of a person; epsilon changes nothing up to most of the merge distance.
#
# dlib ResNet (every ``*-dlib`` pack). dlib puts different East Asian people within 0.40 of each
# other: on dev2 the merge distance has its cliff at 0.40 (pairwise precision 1.000 -> 0.955, two
# East Asian and two South/SE Asian identities merged), at 0.44 on dev; 0.36 is the middle of the
# plateau 0.36-0.38 of all three sets. The noise pass attaches a stranger on dev2 from 0.40 and on
# dev from 0.42: 0.38. Margin: 0 lets a wrong face in on dev2, 0.06 loses faces: 0.03. The link
# cut has no plateau common to all sets: from 0.35 two strangers become a person on dev (from
# 0.40 a detector false positive and a child on the group photos), below 0.33 the group photos
# lose faces. 0.34, precision first (a split person is one click to merge). Precision first costs
# dlib recall on dev2 (BCubed F 0.95): it is the fallback recogniser, not the default.
DLIB_DEFAULTS = ClusteringParams(min_cluster_size=2, min_samples=1, epsilon=0.0, min_quality=0.4,
                                 link_distance=0.34, merge_distance=0.36, attach_distance=0.38, attach_margin=0.03)
# ArcFace (buffalo_l): NOT measured here (no ArcFace weights are available on this machine). The
# guide's epsilon 0.4 was tuned on ArcFace; the distances follow ArcFace's usual verification
# threshold (cosine similarity ~0.4-0.5, i.e. Euclidean ~1.0-1.1); the quality bar is the faces'.
# Re-measure with ``bench/cluster_quality.py --source buffalo_l --sweep`` when the weights are available.
ARCFACE_DEFAULTS = ClusteringParams(min_cluster_size=2, min_samples=1, epsilon=0.4, min_quality=0.4,
                                    link_distance=1.1, merge_distance=1.0, attach_distance=0.95, attach_margin=0.05)
# Intel's face-reidentification-retail-0095 (256-d, yunet-reid256 and its INT8 twin). Merge
# distance: precision 1.000 on every set up to 1.14, recall flat from 1.04, the cliff at 1.16 on
# dev2 (precision 1.000 -> 0.955): 1.06, 0.10 from it. Attach distance: labelled faces gain up to
# 1.05, and from 1.10 the noise pass gives strangers to persons (all-faces precision 1.000 ->
# 0.996 on dev, 0.995 -> 0.991 on dev2): 1.05. Margin: flat 0-0.06, 0.08 loses a face on the
# group photos: 0.04. Link cut: below 0.95 the group photos lose faces, above 1.05 a stranger
# joins a person on dev: 1.0. The INT8 twin meets the same targets with these values (BCubed F
# 0.994 / 0.989 / 1.000, precision 1.000, all-faces precision 1.000 / 0.995 / 1.000).
INTEL_REID_DEFAULTS = ClusteringParams(min_cluster_size=2, min_samples=1, epsilon=0.0, min_quality=0.4,
                                       link_distance=1.0, merge_distance=1.06, attach_distance=1.05,
                                       attach_margin=0.04)

_DEFAULTS_BY_DIMENSION = {128: DLIB_DEFAULTS, 256: INTEL_REID_DEFAULTS, 512: ARCFACE_DEFAULTS}


def model_defaults(model: str, dimension: int | None = None) -> ClusteringParams:
    """Defaults for a model pack id (``yunet-dlib``, ``buffalo_l`` ...) or, failing that, a dimension."""
    if model.endswith("-dlib") or model == "dlib":
        return DLIB_DEFAULTS
    if model.startswith("buffalo") or "arcface" in model:
        return ARCFACE_DEFAULTS
    if model.startswith("yunet-reid256"):
        return INTEL_REID_DEFAULTS
    if dimension in _DEFAULTS_BY_DIMENSION:
        return _DEFAULTS_BY_DIMENSION[dimension]
    raise ValueError(f"no clustering defaults for model {model!r} ({dimension}-d embeddings)")


def params_for_model(model: str, settings: Settings, dimension: int | None = None) -> ClusteringParams:
    """The model's defaults with the environment's overrides applied."""
    overrides = {
        "min_cluster_size": settings.min_cluster_size,
        "min_samples": settings.min_samples,
        "epsilon": settings.cluster_epsilon,
        "min_quality": settings.min_face_quality,
    }
    return replace(model_defaults(model, dimension), **{k: v for k, v in overrides.items() if v is not None})
