"""Time and peak memory of clustering 1k / 10k / 100k faces, 128-d and 512-d.

    .venv/bin/python bench/cluster_scale.py [--sizes 1000 10000 100000] [--dims 128 512]

Each (size, dimension) runs in its own child process, so its peak RSS (``ru_maxrss`` from
``wait4`` on that child) is that run's alone, and the parent prints a table. The time is the
clustering call alone (data generation excluded). The machine has 2 cores shared with other
work, so times are noisy (±30 % between runs is usual).

Synthetic, identity-structured embeddings (real events of this size are not available):
identities get a long-tailed number of faces (log-normal, median ~8, a few hundred at most,
like guests vs the couple at a wedding); each identity has a random centre on the unit
sphere and each face is the centre plus Gaussian noise, re-normalised, with the noise scaled
so that same-person distances match dlib's on the dev set (median ~0.3). Faces are spread over
photos of 1-5 faces each, with at most one face per identity per photo, so the cannot-link
constraint is exercised. Purity against the generating identities is printed as a sanity check.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shared.clustering.clusterer import FaceClusterer
from shared.clustering.params import model_defaults


def synthetic_event(n_faces: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(embeddings, identity, photo_ids)`` for an event of ``n_faces`` faces."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n_faces:
        sizes.append(int(np.clip(rng.lognormal(mean=np.log(8), sigma=1.0), 1, 400)))
    sizes[-1] -= sum(sizes) - n_faces
    identity = np.repeat(np.arange(len(sizes)), sizes)
    rng.shuffle(identity)
    centres = rng.normal(size=(len(sizes), dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    spread = 0.22  # same-person median distance ~0.3 in both 128 and 512 dimensions
    faces = centres[identity] + rng.normal(scale=spread / np.sqrt(dim), size=(n_faces, dim)).astype(np.float32)
    faces /= np.linalg.norm(faces, axis=1, keepdims=True)
    # Photos: consecutive faces (identity already shuffled) in groups of 1-5; a repeated identity
    # within a group starts a new photo, so one photo never shows someone twice.
    photo_ids = np.empty(n_faces, dtype=np.int64)
    photo, seen, room = 0, set(), int(rng.integers(1, 6))
    for i, who in enumerate(identity.tolist()):
        if who in seen or room == 0:
            photo, seen, room = photo + 1, set(), int(rng.integers(1, 6))
        photo_ids[i] = photo
        seen.add(who)
        room -= 1
    return faces.astype(np.float32), identity, photo_ids


def run_one(n_faces: int, dim: int) -> dict:
    embeddings, identity, photo_ids = synthetic_event(n_faces, dim)
    # The synthetic geometry is dlib's in both dimensions, so both use the dlib distances; the
    # cost does not depend on the thresholds beyond the number of pairs they admit.
    params = model_defaults("yunet-dlib")
    start = time.perf_counter()
    labels = FaceClusterer(params).fit_predict(embeddings, photo_ids)
    seconds = time.perf_counter() - start
    clustered = labels >= 0
    impure = sum(len(set(identity[labels == label].tolist())) > 1 for label in np.unique(labels[clustered]))
    return {"faces": n_faces, "dim": dim, "seconds": round(seconds, 1), "persons": int(labels.max() + 1),
            "identities": len(np.unique(identity)), "assigned": round(float(clustered.mean()), 3),
            "impure_persons": int(impure)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--child", type=int, nargs=2, metavar=("FACES", "DIM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(*args.child)))
        return
    print("| faces | dim | clustering time (s) | peak RSS (MB) | persons | identities | assigned | impure persons |")
    print("|---|---|---|---|---|---|---|---|")
    for dim in args.dims:
        for size in args.sizes:
            child = subprocess.Popen([sys.executable, __file__, "--child", str(size), str(dim)],
                                     stdout=subprocess.PIPE, text=True)
            out = child.stdout.read()
            _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode != 0:
                raise SystemExit(f"{size} faces x {dim}-d failed with exit code {child.returncode}")
            peak_mb = usage.ru_maxrss / 1024
            result = json.loads(out.strip().splitlines()[-1])
            print(f"| {size:,} | {dim} | {result['seconds']} | {peak_mb:.0f} | {result['persons']} | "
                  f"{result['identities']} | {result['assigned']:.1%} | {result['impure_persons']} |", flush=True)


if __name__ == "__main__":
    main()
