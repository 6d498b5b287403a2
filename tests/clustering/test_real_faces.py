"""Clustering real faces of people nobody tuned for, with the default pack and its defaults.

dev2 was chosen for diversity (East and South Asian, Black, Latin American, Middle Eastern
people, women, look-alikes); dlib's old defaults merged its East Asian identities. The images
are those of the 24 identities that have a photo with two or more faces, so that every
person that forms has neighbours on its photos and the cannot-link rule is exercised.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from shared.clustering.cluster_event import cluster_faces
from shared.clustering.params import model_defaults
from shared.face_analysis import FaceAnalyzer
from shared.settings import Settings

IOU_MATCH = 0.4


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


class ClusteredFaces:
    """Every detected face of the chosen dev2 images with its photo, identity (or None), quality, person."""

    def __init__(self, faces_dir: Path, models_dir: Path) -> None:
        with open(faces_dir / "dev2_manifest.csv", newline="") as handle:
            labelled = {r["path"]: (tuple(float(v) for v in r["labelled_face_box_x1y1x2y2"].split()), r["identity"])
                        for r in csv.DictReader(handle)}
        with open(faces_dir / "dev2_faces.csv", newline="") as handle:
            per_image = Counter(r["path"] for r in csv.DictReader(handle))
        crowded = {path.split("/")[1] for path, count in per_image.items() if count >= 2}
        images = sorted(path for path in labelled if path.split("/")[1] in crowded)
        analyzer = FaceAnalyzer(Settings.from_env({"FACECLUSTER_MODEL_DIR": str(models_dir)}))
        self.pack = analyzer.pack_id
        photos, identities, quality, embeddings = [], [], [], []
        for photo, path in enumerate(images):
            box, identity = labelled[path]
            for face in analyzer.analyze_path(faces_dir / path).faces:
                photos.append(photo)
                identities.append(identity if _iou(face.bbox, box) >= IOU_MATCH else None)
                quality.append(face.quality)
                embeddings.append(face.embedding)
        analyzer.close()
        self.photos = np.array(photos)
        self.identities = identities
        self.quality = np.array(quality)
        self.params = model_defaults(self.pack, analyzer.embedding_dim)
        self.persons = cluster_faces(np.stack(embeddings), self.quality, self.photos, self.params)


@pytest.fixture(scope="module")
def clustered(faces_data_dir: Path, models_dir: Path) -> ClusteredFaces:
    return ClusteredFaces(faces_data_dir, models_dir)


def test_no_person_holds_two_faces_of_one_photo(clustered: ClusteredFaces) -> None:
    assigned = clustered.persons >= 0
    pairs = list(zip(clustered.persons[assigned].tolist(), clustered.photos[assigned].tolist(), strict=True))
    assert assigned.sum() > 100
    assert len(set(pairs)) == len(pairs)
    # The rule had work to do: some photos hold two faces above the bar.
    eligible_photos = Counter(clustered.photos[clustered.quality >= clustered.params.min_quality].tolist())
    assert max(eligible_photos.values()) >= 2


def test_no_person_mixes_two_labelled_people(clustered: ClusteredFaces) -> None:
    people: dict[int, set[str]] = defaultdict(set)
    for person, identity in zip(clustered.persons.tolist(), clustered.identities, strict=True):
        if person >= 0 and identity is not None:
            people[person].add(identity)
    assert len(people) >= 20
    assert all(len(identities) == 1 for identities in people.values()), people


def test_faces_below_the_quality_bar_join_no_person(clustered: ClusteredFaces) -> None:
    below = clustered.quality < clustered.params.min_quality
    assert below.any()  # border-cut and tiny background faces exist in these photos
    assert (clustered.persons[below] == -1).all()
