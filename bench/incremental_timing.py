"""Per-face time of incremental assignment, and the batch job's database path, on a real PostgreSQL.

    .venv/bin/python bench/incremental_timing.py [--faces 20000] [--new 200]

Uses a throw-away embedded PostgreSQL 16 + pgvector (the one the tests use). An event gets
``--faces`` synthetic identity-structured 128-d faces (see ``bench/cluster_scale.py``), other
events get as many again (so the HNSW index holds other events' faces too, as in production),
the event is clustered with the batch service (timed), then ``--new`` new faces are attached
one call per face, as the detection service calls it after each image (timed per call). It
also prints the query plan of the nearest-neighbour query, to show the HNSW index is used.
The machine has 2 shared cores: times are indicative.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_scale import synthetic_event

from shared.clustering.cluster_event import cluster_event
from shared.clustering.incremental import assign_new_faces
from shared.db.connection import connect
from shared.db.embedded import start_embedded_server
from shared.db.migrate import migrate
from shared.settings import get_settings

MODEL = "yunet-dlib"


def _insert_faces(conn, event_id: uuid.UUID, embeddings: np.ndarray, photo_ids: np.ndarray,
                  model: str = MODEL) -> list[uuid.UUID]:
    media = {}
    with conn.cursor() as cur:
        for photo in np.unique(photo_ids).tolist():
            media[photo] = cur.execute("insert into media (event_id, storage_path) values (%s, %s) returning id",
                                       (event_id, f"bench/{event_id}/{photo}.jpg")).fetchone()["id"]
        ids = []
        for vector, photo in zip(embeddings, photo_ids.tolist(), strict=True):
            ids.append(cur.execute(
                "insert into faces (event_id, media_id, model, bbox, landmarks, det_score, quality, embedding)"
                " values (%s, %s, %s, '{0,0,10,10}', '{1,1,2,2,3,3,4,4,5,5}', 0.99, 0.9, %s) returning id",
                (event_id, media[photo], model, vector)).fetchone()["id"])
    return ids


def _event(conn) -> uuid.UUID:
    return conn.execute("insert into events (owner_id, name, face_recognition_enabled) values (%s, 'bench', true)"
                        " returning id", (uuid.uuid4(),)).fetchone()["id"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=20_000)
    parser.add_argument("--new", type=int, default=200)
    args = parser.parse_args()
    pgdata = Path(tempfile.mkdtemp(prefix="fc-bench-pg-"))
    try:
        url = start_embedded_server(pgdata)
        migrate(url)
        settings = get_settings()
        with connect(url, autocommit=True) as conn:
            vectors, _, photos = synthetic_event(args.faces, 128, seed=1)
            event = _event(conn)
            start = time.perf_counter()
            _insert_faces(conn, event, vectors, photos)
            other = synthetic_event(args.faces, 128, seed=2)
            _insert_faces(conn, _event(conn), other[0], other[2])
            print(f"inserted 2 x {args.faces:,} faces in {time.perf_counter() - start:.0f} s")
            conn.execute("analyze faces")

            start = time.perf_counter()
            result = cluster_event(conn, event, settings)
            print(f"cluster_event (load, cluster, reconcile, write in one transaction): "
                  f"{time.perf_counter() - start:.1f} s for {result.faces:,} faces -> {result.persons} persons")

            # New uploads: faces of known identities (near an existing face of that identity).
            rng = np.random.default_rng(3)
            picks = rng.choice(len(vectors), size=args.new, replace=False)
            noise = rng.normal(scale=0.22 / np.sqrt(128), size=(args.new, 128)).astype(np.float32)
            fresh = vectors[picks] + noise
            fresh /= np.linalg.norm(fresh, axis=1, keepdims=True)
            new_ids = _insert_faces(conn, event, fresh, np.arange(args.new) + photos.max() + 1)
            plan = conn.execute(
                "explain select f.id from faces f where vector_dims(f.embedding) = 128 and f.model = %s"
                " and f.event_id = %s order by f.embedding::vector(128) <=> %s::vector(128) limit 40",
                (MODEL, event, fresh[0])).fetchall()
            print("query plan:", " / ".join(row["QUERY PLAN"].strip().split("<=>")[0] for row in plan[:2]))
            times, attached = [], 0
            for face in new_ids:
                start = time.perf_counter()
                attached += assign_new_faces(conn, event, [face], settings)
                times.append(time.perf_counter() - start)
            ms = np.array(times) * 1000
            print(f"assign_new_faces, one call per face: {attached} of {args.new} attached; "
                  f"median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms")
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)


if __name__ == "__main__":
    main()
