"""Latency of one selfie search in PostgreSQL + pgvector, after the selfie is analysed.

    .venv/bin/python bench/selfie_latency.py [--faces 5000] [--searches 100]

A throw-away embedded PostgreSQL 16 + pgvector (the one the tests use). An event gets
``--faces`` synthetic identity-structured 256-d faces of the default pack (``cluster_scale.py``'s
generator: long-tailed faces per identity, 1-5 faces a photo), another event as many again (so
the HNSW index holds other events' faces, as in production), the event is clustered by the
batch service, and ``--searches`` selfies (a known identity's face, perturbed) are searched by
the endpoint's service (:func:`shared.selfie.search.search_event`: nearest faces, rule, "not
me", photos under the member's row-level security), one transaction each, timed. Also times
analysing one real selfie (decode, detect, embed), which comes before. 2 shared cores: times
are indicative.
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
from face_dataset import FACES_DIR
from incremental_timing import _event, _insert_faces

from shared.clustering.cluster_event import cluster_event
from shared.clustering.params import model_defaults
from shared.db.connection import connect
from shared.db.embedded import start_embedded_server
from shared.db.migrate import migrate
from shared.face_analysis import DEFAULT_PACK, get_analyzer
from shared.selfie.search import search_event
from shared.settings import get_settings

DIM = 256


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=5000)
    parser.add_argument("--searches", type=int, default=100)
    args = parser.parse_args()
    settings = get_settings()
    analyzer = get_analyzer(settings)
    selfie = sorted((FACES_DIR / "dev" / "bbt_amy").iterdir())[0].read_bytes()
    analyzer.analyze(selfie)  # models loaded, caches warm
    start = time.perf_counter()
    analyzer.analyze(selfie)
    elapsed = 1000 * (time.perf_counter() - start)
    print(f"analysing one selfie ({DEFAULT_PACK}, {len(selfie):,} bytes): {elapsed:.0f} ms")
    pgdata = Path(tempfile.mkdtemp(prefix="fc-bench-pg-"))
    try:
        url = start_embedded_server(pgdata)
        migrate(url)
        with connect(url, autocommit=True) as conn:
            vectors, _, photos = synthetic_event(args.faces, DIM, seed=1)
            event = _event(conn)
            member = uuid.uuid4()
            conn.execute("insert into event_members (event_id, user_id, role) values (%s, %s, 'member')",
                         (event, member))
            _insert_faces(conn, event, vectors, photos, DEFAULT_PACK)
            other = synthetic_event(args.faces, DIM, seed=2)
            _insert_faces(conn, _event(conn), other[0], other[2], DEFAULT_PACK)
            conn.execute("analyze faces")
            result = cluster_event(conn, event, settings, DEFAULT_PACK)
            print(f"event: {result.faces:,} faces, {result.persons} persons; another event: {args.faces:,} faces")
            rng = np.random.default_rng(3)
            picks = rng.choice(len(vectors), size=args.searches, replace=False)
            queries = vectors[picks] + rng.normal(scale=0.22 / np.sqrt(DIM), size=(args.searches, DIM))
            queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
            plan = conn.execute(
                f"explain select f.id from faces f where vector_dims(f.embedding) = {DIM} and f.model = %s"
                f" and f.event_id = %s order by f.embedding::vector({DIM}) <=> %s::vector({DIM}) limit 200",
                (DEFAULT_PACK, event, queries[0])).fetchall()
            print("query plan:", " / ".join(row["QUERY PLAN"].strip().split("<=>")[0] for row in plan[:2]))
            min_quality = model_defaults(DEFAULT_PACK).min_quality
            times, found = [], 0
            for query in queries:
                start = time.perf_counter()
                with conn.transaction():
                    hit = search_event(conn, event, member, DEFAULT_PACK, query, min_quality)
                times.append(time.perf_counter() - start)
                found += bool(hit.persons)
            ms = np.array(times) * 1000
            print(f"search_event, {args.searches} selfies: a person found for {found}; median {np.median(ms):.1f} ms,"
                  f" p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms")
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)


if __name__ == "__main__":
    main()
