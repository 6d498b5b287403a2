"""The default pack's 256-d embeddings through the database: clustering, incremental assignment, model filter.

Real embeddings of real photos (dev2 people, yunet-reid256) go into a real event; clustering
with the pack's defaults must make persons that mix nobody, a new photo of one of them must be
attached to that person through the 256-d HNSW index, and the same photo embedded by the INT8
pack (also 256-d) must never be compared with them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from shared.clustering.cluster_event import cluster_event
from shared.clustering.incremental import assign_new_faces
from shared.face_analysis import DEFAULT_PACK, FaceAnalyzer
from shared.settings import Settings, get_settings
from tests.clustering.db_faces import add_faces, persons_of
from tests.factories import make_event, make_media

PEOPLE = ("lfw_Hu_Jintao", "lfw_Zhu_Rongji", "lfw_Junichiro_Koizumi")
PHOTOS_EACH = 5  # the first four are clustered, the fifth arrives later


def labelled_embedding(analyzer: FaceAnalyzer, faces_data_dir: Path, row: dict[str, str]) -> np.ndarray:
    """The embedding of the photo's face nearest its labelled box centre (LFW: the centred face)."""
    x1, y1, x2, y2 = (float(v) for v in row["labelled_face_box_x1y1x2y2"].split())
    faces = analyzer.analyze_path(faces_data_dir / row["path"]).faces
    face = min(faces, key=lambda f: abs(f.bbox[0] + f.bbox[2] - x1 - x2) + abs(f.bbox[1] + f.bbox[3] - y1 - y2))
    return face.embedding


@pytest.fixture(scope="module")
def photos(faces_data_dir: Path, models_dir: Path) -> dict[str, tuple[np.ndarray, ...]]:
    """Per person: (FP16 embeddings, INT8 embeddings) of their first PHOTOS_EACH dev2 photos."""
    with (faces_data_dir / "dev2_manifest.csv").open() as stream:
        rows = list(csv.DictReader(stream))
    packs = [FaceAnalyzer(Settings.from_env({"FACECLUSTER_MODEL_DIR": str(models_dir), "MODEL_PACK": pack}))
             for pack in (DEFAULT_PACK, "yunet-reid256-int8")]
    return {person: tuple(np.stack([labelled_embedding(analyzer, faces_data_dir, row)
                                   for row in [r for r in rows if r["identity"] == person][:PHOTOS_EACH]])
                         for analyzer in packs)
           for person in PEOPLE}


def test_256d_faces_cluster_and_attach_by_their_own_model_only(db, photos, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_PACK", DEFAULT_PACK)  # this folder's other tests run with yunet-dlib
    settings = get_settings()
    event = make_event(db)
    clustered = {person: add_faces(db, event, [make_media(db, event) for _ in range(PHOTOS_EACH - 1)],
                                   fp16[:-1], model=DEFAULT_PACK)
                 for person, (fp16, _) in photos.items()}
    cluster_event(db, event, settings)
    persons = {person: set(persons_of(db, faces)) - {None} for person, faces in clustered.items()}
    assert all(len(found) == 1 for found in persons.values()), persons  # each person found, never split
    assert len(set.union(*persons.values())) == len(PEOPLE)  # and nobody mixed with anybody

    person = PEOPLE[0]
    fp16, int8 = photos[person]
    media = make_media(db, event)
    new = add_faces(db, event, [media], fp16[-1:], model=DEFAULT_PACK)[0]
    twin = add_faces(db, event, [make_media(db, event)], int8[-1:], model="yunet-reid256-int8")[0]
    assert assign_new_faces(db, event, [new, twin], settings) == 1
    assert persons_of(db, [new, twin]) == [next(iter(persons[person])), None]
