"""How good merge suggestions are on labelled faces, and how long they take on a 5,000-face event.

    .venv/bin/python bench/merge_suggestions.py [--source yunet-reid256] [--merge-distance D] [--sweep STEP]
    .venv/bin/python bench/merge_suggestions.py --time-faces 5000

Quality: each set (dev, dev2, group photos) is clustered on its own at the model's defaults, as
one event, and :func:`shared.clustering.suggestions.suggest_merges` (the rule the endpoint's SQL
implements) ranks its persons. A person is the identity most of its labelled faces have
(persons without a labelled face count as nobody, so a suggestion involving one is wrong).

* top-10 precision: of the (at most 10) first suggestions, the share whose two persons are one
  identity ("n/a" when there is none to offer);
* split recall in the top 20: of the identities spread over two or more persons, the share
  with a pair of its pieces among the first 20 suggestions.

The defaults leave few people split, so ``--merge-distance`` re-clusters with a smaller merge
distance (more splits) to stress the ranking, and ``--sweep STEP`` shows the figures for thresholds around the default.

Timing: a throw-away embedded PostgreSQL with pgvector, one event of ``--time-faces`` synthetic
identity-structured faces (``bench/cluster_scale.py``) clustered by the batch job, then the
suggestions query timed (median of 5 warm runs). The machine has 2 shared cores: indicative.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_scale import synthetic_event
from face_dataset import SETS, FaceSet, load_face_set
from incremental_timing import _event, _insert_faces

from shared.clustering.cluster_event import cluster_event, cluster_faces
from shared.clustering.params import model_defaults
from shared.clustering.suggestions import Suggestion, min_similarity, suggest_merges
from shared.db.connection import connect
from shared.db.embedded import start_embedded_server
from shared.db.migrate import migrate
from shared.db.suggestions import list_suggestions
from shared.settings import get_settings


@dataclass(frozen=True)
class SuggestionScore:
    offered: int            # suggestions above the threshold
    top10_precision: float  # nan: nothing offered
    split: int              # identities spread over two or more persons
    split_found: int        # ... of which a pair of pieces is in the top 20


def person_identities(labels: np.ndarray, identities: list[str | None]) -> dict[int, str | None]:
    """Each person's majority identity among its labelled faces (None: no labelled face)."""
    names: dict[int, str | None] = {}
    for person in set(labels[labels >= 0].tolist()):
        votes = Counter(identities[i] for i in np.flatnonzero(labels == person) if identities[i])
        names[person] = votes.most_common(1)[0][0] if votes else None
    return names


def score_suggestions(suggestions: list[Suggestion], names: dict[int, str | None]) -> SuggestionScore:
    def same(s: Suggestion) -> bool:
        return names[s.a] is not None and names[s.a] == names[s.b]

    pieces = Counter(name for name in names.values() if name)
    split = {name for name, count in pieces.items() if count >= 2}
    top10 = suggestions[:10]
    found = {names[s.a] for s in suggestions[:20] if same(s)}
    return SuggestionScore(len(suggestions), float(np.mean([same(s) for s in top10])) if top10 else float("nan"),
                           len(split), len(found & split))


def evaluate(faces: FaceSet, source: str, merge_distance: float | None, threshold: float) -> SuggestionScore:
    params = model_defaults(source, faces.embeddings.shape[1])
    if merge_distance is not None:
        params = replace(params, merge_distance=merge_distance)
    labels = cluster_faces(faces.embeddings, faces.quality, faces.image_ids, params)
    suggestions = suggest_merges(faces.embeddings, labels, faces.image_ids, threshold, limit=None)
    return score_suggestions(suggestions, person_identities(labels, faces.identities))


def _cell(s: SuggestionScore) -> str:
    precision = "n/a" if np.isnan(s.top10_precision) else f"{s.top10_precision:.2f}"
    recall = "n/a" if s.split == 0 else f"{s.split_found / s.split:.2f} ({s.split_found}/{s.split})"
    return f"{s.offered} | {precision} | {recall}"


def quality_report(source: str, merge_distance: float | None, step: float | None) -> None:
    sets = {name: load_face_set(source, name) for name in SETS}
    default = min_similarity(source, next(iter(sets.values())).embeddings.shape[1])
    thresholds = [default] if step is None else sorted({default, *np.round(default + step * np.arange(-4, 5), 3)})
    print(f"source {source}, merge distance {merge_distance or 'default'}, default threshold {default}")
    print("| threshold | " + " | ".join(f"{n}: offered | top-10 P | split R@20" for n in SETS) + " |")
    print("|---|" + "---|---|---|" * len(SETS))
    for threshold in thresholds:
        cells = [_cell(evaluate(faces, source, merge_distance, float(threshold))) for faces in sets.values()]
        print(f"| {threshold:.2f}{' (default)' if threshold == default else ''} | " + " | ".join(cells) + " |")


def timing_report(n_faces: int, source: str) -> None:
    dim = 256 if source.startswith("yunet-reid256") else 128
    pgdata = Path(tempfile.mkdtemp(prefix="fc-bench-pg-"))
    try:
        url = start_embedded_server(pgdata)
        migrate(url)
        settings = get_settings().model_copy(update={"model_pack": source})
        with connect(url, autocommit=True) as conn:
            vectors, _, photos = synthetic_event(n_faces, dim, seed=1)
            event = _event(conn)
            _insert_faces(conn, event, vectors, photos, model=source)
            conn.execute("analyze faces")
            result = cluster_event(conn, event, settings, source)
            times, pairs = [], []
            for _ in range(6):
                start = time.perf_counter()
                pairs = list_suggestions(conn, event, source, min_similarity(source, dim), 10)
                times.append(time.perf_counter() - start)
            ms = np.array(times[1:]) * 1000
            print(f"{result.faces:,} faces ({dim}-d, {source}), {result.persons} persons: suggestions query "
                  f"median {np.median(ms):.0f} ms, max {ms.max():.0f} ms (first, cold: {times[0] * 1000:.0f} ms); "
                  f"{len(pairs)} pairs offered")
    finally:
        shutil.rmtree(pgdata, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="yunet-reid256", help="model pack whose embeddings are scored")
    parser.add_argument("--merge-distance", type=float, help="re-cluster with this merge distance (more splits)")
    parser.add_argument("--sweep", type=float, metavar="STEP",
                        help="also score 4 thresholds either side of the model's default, STEP apart")
    parser.add_argument("--time-faces", type=int, help="time the suggestions query on an event of N faces")
    args = parser.parse_args()
    if args.time_faces:
        timing_report(args.time_faces, args.source)
    else:
        quality_report(args.source, args.merge_distance, args.sweep)


if __name__ == "__main__":
    main()
