"""Face-analysis benchmark: this pipeline vs the `face_recognition` package vs the recogniser's limit.

    .venv/bin/python bench/face_analysis.py [--event-images 16] [--faces-per-image 6] [--dev-images N]

On the same files, in one run:
  1. the pipeline (the default pack, MODEL_PACK to choose another), one image at a time with
     RECOGNIZER_THREADS=1, and with RECOGNIZER_THREADS=nproc and 2 x nproc images in flight (how
     the service is deployed);
  2. the peer a Python user would pick: `face_recognition` at its defaults (HOG `face_locations`,
     upsample 1, + `face_encodings`), installed here with `pip install --no-deps` if missing;
  3. the limit: decode + detect + align and embed, each measured alone over all event photos,
     times nproc (what the machine could do with no pipeline cost at all).
Each contender runs in its own process, so peak RSS (including worker processes) is its own, and
so is its cold start: the event photos are timed from before the contender imports its models
(the target counts the cold start), and reported again as "event (warm)" without it.

Files: event-size photos (4000x3000 JPEG q90, several dev faces pasted onto a synthetic
background at 120-400 px face width) are generated under .facecluster/bench/ (never
committed), plus the dev images of ../shared/data/faces as they are. A labelled face counts
as found when a detection overlaps its box with IoU >= 0.4.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from PIL import Image, ImageFilter

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from shared.settings import Settings  # noqa: E402

SHARED_DIR = Path(os.environ.get("FACECLUSTER_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
FACES_DIR = SHARED_DIR / "data" / "faces"
MODELS_DIR = SHARED_DIR / "models"
BENCH_DIR = REPO_ROOT / ".facecluster" / "bench"
EVENT_SIZE = (4000, 3000)
FACE_WIDTHS = (120, 400)
IOU_FOUND = 0.4
# The default DET_SIZE is 1280; the -det640 contenders show what the faster setting gives up.
CONTENDERS = ("limit", "pipeline-det640", "pipeline-parallel-det640", "pipeline", "pipeline-parallel",
              "face_recognition")

Box = list[float]
# A benchmark image: its path and the boxes of its labelled faces (x1, y1, x2, y2).
Labelled = tuple[str, list[Box]]


# --- the benchmark set -------------------------------------------------------------------------

def dev_images() -> list[Labelled]:
    with (FACES_DIR / "dev_manifest.csv").open() as stream:
        return [(str(FACES_DIR / row["path"]), [[float(v) for v in row["labelled_face_box_x1y1x2y2"].split()]])
                for row in csv.DictReader(stream)]


def _background(rng: random.Random) -> Image.Image:
    """A smooth, textured colour field: no faces, JPEG-compresses like a photo's background."""
    coarse = np.array([[[rng.randrange(40, 220) for _ in range(3)] for _ in range(8)] for _ in range(6)],
                      dtype=np.uint8)
    field = Image.fromarray(coarse).resize(EVENT_SIZE, Image.Resampling.BICUBIC)
    noise = np.random.default_rng(rng.randrange(1 << 30)).normal(0, 9, (EVENT_SIZE[1], EVENT_SIZE[0], 1))
    return Image.fromarray(np.clip(np.asarray(field, dtype=np.float32) + noise, 0, 255).astype(np.uint8)) \
        .filter(ImageFilter.GaussianBlur(1))


def build_event_set(count: int, faces_per_image: int) -> list[Labelled]:
    """Event-size JPEGs with dev faces pasted on a grid; reused when already built with these sizes."""
    folder = BENCH_DIR / f"event_{count}x{faces_per_image}"
    labels_path = folder / "labels.json"
    if labels_path.exists():
        return [(path, boxes) for path, boxes in json.loads(labels_path.read_text())]
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(20261124)
    sources = dev_images()
    columns = (faces_per_image + 1) // 2
    cell_w, cell_h = EVENT_SIZE[0] // columns, EVENT_SIZE[1] // 2
    labelled: list[Labelled] = []
    for index in range(count):
        canvas = _background(rng)
        boxes = []
        for slot, (path, (box,)) in enumerate(rng.sample(sources, faces_per_image)):
            face_w = box[2] - box[0]
            photo = Image.open(path).convert("RGB")
            # Around the face: one face width of context each side, as a person in a crowd.
            crop = (max(0, int(box[0] - face_w)), max(0, int(box[1] - face_w)),
                    min(photo.width, int(box[2] + face_w)), min(photo.height, int(box[3] + face_w)))
            scale = rng.uniform(*FACE_WIDTHS) / face_w
            scale = min(scale, 0.95 * cell_w / (crop[2] - crop[0]), 0.95 * cell_h / (crop[3] - crop[1]))
            piece = photo.crop(crop)
            piece = piece.resize((round(piece.width * scale), round(piece.height * scale)), Image.Resampling.LANCZOS)
            left = (slot % columns) * cell_w + rng.randrange(0, cell_w - piece.width + 1)
            top = (slot // columns) * cell_h + rng.randrange(0, cell_h - piece.height + 1)
            canvas.paste(piece, (left, top))
            boxes.append([left + (box[0] - crop[0]) * scale, top + (box[1] - crop[1]) * scale,
                          left + (box[2] - crop[0]) * scale, top + (box[3] - crop[1]) * scale])
        path = folder / f"event_{index:03d}.jpg"
        canvas.save(path, "JPEG", quality=90)
        labelled.append((str(path), boxes))
    labels_path.write_text(json.dumps(labelled))
    return labelled


# --- measuring -------------------------------------------------------------------------------------

def iou(a: Box, b: Box) -> float:
    inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@contextmanager
def peak_rss() -> Iterator[dict[str, int]]:
    """Samples the RSS of this process plus its children (recogniser workers) every 20 ms."""
    peak = {"bytes": 0}
    stop = threading.Event()
    me = psutil.Process()

    def sample() -> None:
        while not stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                with suppress(psutil.NoSuchProcess):
                    total += child.memory_info().rss
            peak["bytes"] = max(peak["bytes"], total)
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        stop.set()
        sampler.join()


def cpu_seconds() -> float:
    """CPU time of this process and its live children: unlike wall time, barely disturbed by
    other work on a shared machine, so it measures efficiency when wall times are noisy."""
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        with suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


Clock = tuple[float, float]  # (wall seconds, CPU seconds) at some moment


def clock() -> Clock:
    return time.perf_counter(), cpu_seconds()


def score_set(images: list[Labelled], detect_all: Callable[[list[str]], list[list[Box]]],
              since: Clock | None = None) -> dict[str, float]:
    """Faces, recall and speed on one set, timed from ``since`` (default: now)."""
    started, cpu_started = since or clock()
    found_boxes = detect_all([path for path, _ in images])
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    labelled = sum(len(boxes) for _, boxes in images)
    found = sum(any(iou(d, box) >= IOU_FOUND for d in detections)
                for (_, boxes), detections in zip(images, found_boxes, strict=True) for box in boxes)
    faces = sum(len(d) for d in found_boxes)
    return {"images": len(images), "faces": faces, "labelled": labelled, "found": found,
            "seconds": seconds, "images_per_s": len(images) / seconds, "faces_per_s": faces / seconds,
            "faces_per_cpu_s": faces / cpu, "cpu_seconds": cpu}


def score_sets(sets: dict[str, list[Labelled]], detect_all: Callable[[list[str]], list[list[Box]]],
               cold: Clock, loaded: Clock) -> dict[str, dict[str, float]]:
    """Every set; the first (event) timed from ``cold``, before the contender imported its models, so
    its figures include the cold start, which the target counts. The same set again without it
    (``loaded``: models in memory) is reported as ``<set> (warm)``."""
    first, *others = sets
    results = {first: score_set(sets[first], detect_all, since=cold)}
    row = results[first]
    load_s, load_cpu = loaded[0] - cold[0], loaded[1] - cold[1]
    results[f"{first} (warm)"] = {**row, "seconds": row["seconds"] - load_s,
                                  "images_per_s": row["images"] / (row["seconds"] - load_s),
                                  "faces_per_s": row["faces"] / (row["seconds"] - load_s),
                                  "faces_per_cpu_s": row["faces"] / (row["cpu_seconds"] - load_cpu)}
    row["cold_start_s"], row["cold_start_cpu_s"] = load_s, load_cpu
    results.update({name: score_set(sets[name], detect_all) for name in others})
    return results


def run_pipeline(sets: dict[str, list[Labelled]], parallel: bool, det_size: int) -> dict[str, object]:
    """Serial: one image at a time, embedding in-process. Parallel: RECOGNIZER_THREADS=nproc worker
    processes and 2 x nproc images in flight (the service's request concurrency), so decoding and
    detecting the next images overlaps the embedding of the current ones."""
    cold = clock()
    from shared.face_analysis import FaceAnalyzer

    workers = os.cpu_count() or 1
    environ = {"FACECLUSTER_MODEL_DIR": str(MODELS_DIR), "RECOGNIZER_THREADS": str(workers if parallel else 1),
               "DET_SIZE": str(det_size)}
    analyzer = FaceAnalyzer(Settings.from_env(environ))
    analyzer.load()
    loaded = clock()
    in_flight = 2 * workers if parallel else 1

    def detect_all(paths: list[str]) -> list[list[Box]]:
        with ThreadPoolExecutor(in_flight) as pool:
            return [[list(f.bbox) for f in analysis.faces] for analysis in pool.map(analyzer.analyze_path, paths)]

    with peak_rss() as peak:
        results = score_sets(sets, detect_all, cold, loaded)
    analyzer.close()
    return {"sets": results, "peak_rss": peak["bytes"]}


def ensure_face_recognition() -> None:
    try:
        import face_recognition  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "face_recognition"], check=True)


def run_face_recognition(sets: dict[str, list[Labelled]]) -> dict[str, object]:
    cold = clock()
    import face_recognition  # loads its dlib models

    loaded = clock()

    def detect_all(paths: list[str]) -> list[list[Box]]:
        found = []
        for path in paths:
            image = face_recognition.load_image_file(path)
            locations = face_recognition.face_locations(image)
            face_recognition.face_encodings(image, locations)
            found.append([[float(left), float(top), float(right), float(bottom)]
                          for top, right, bottom, left in locations])
        return found

    with peak_rss() as peak:
        results = score_sets(sets, detect_all, cold, loaded)
    return {"sets": results, "peak_rss": peak["bytes"]}


def run_limit(sets: dict[str, list[Labelled]]) -> dict[str, object]:
    """Each step of the default pack's pipeline timed alone on the event photos, photo by photo:
    decode (at the detector's and the chips' scale), detect, align + embed.
    The limit is their sum, with every core doing the same (x nproc): no pipeline, thread or
    queueing cost is in it, so the pipeline's share of it is its overhead."""
    from shared.face_analysis import FaceAnalyzer
    from shared.face_analysis.decode import open_image
    from shared.face_analysis.detectors import fit_scale

    settings = Settings.from_env({"FACECLUSTER_MODEL_DIR": str(MODELS_DIR), "RECOGNIZER_THREADS": "1"})
    analyzer = FaceAnalyzer(settings)
    analyzer.load()
    detector, recognizer = analyzer._detector, analyzer._recognizer  # the pipeline's own parts
    assert detector is not None and recognizer is not None
    files = [Path(path).read_bytes() for path, _ in sets["event"]]
    analyzer.analyze_path(FACES_DIR / "group_photos/images/faceapi_bbt1.jpg")  # warm-up
    steps: dict[str, tuple[float, float]] = {}  # step: (wall seconds, CPU seconds), summed

    def timed(step: str, work: Callable[..., Any], *args: Any) -> Any:
        started, cpu_started = time.perf_counter(), cpu_seconds()
        result = work(*args)
        wall, cpu = steps.get(step, (0.0, 0.0))
        steps[step] = (wall + time.perf_counter() - started, cpu + cpu_seconds() - cpu_started)
        return result

    def embed_all(pixels: np.ndarray, found: list) -> np.ndarray:
        return recognizer.embed([recognizer.align(pixels, detection) for detection in found])

    faces = 0
    with peak_rss() as peak:
        for data in files:  # photo by photo, as the analyser goes: holding all 16 decodes (1 GB) cost more
            image = open_image(data, settings.max_image_pixels)
            scale = min(1.0, fit_scale(image.width, image.height, settings.det_size))
            pixels, scale = timed("decode", image.pixels, scale)
            found = [d.scaled(1 / scale) for d in timed("detect", detector.detect, pixels)]
            faces += len(found)
            if not found:
                continue
            # The chips' pixels, as the analyser decodes them (a second decode when faces need more detail).
            needed = max(recognizer.full_detail_face_px / (d.box[2] - d.box[0]) for d in found)
            pixels, scale = timed("decode", image.pixels, min(1.0, needed))
            timed("embed", embed_all, pixels, [d.scaled(scale) for d in found])
    seconds, cpu = (sum(step[i] for step in steps.values()) for i in (0, 1))
    cores = os.cpu_count() or 1
    event = {"images": len(files), "faces": faces, "seconds": seconds / cores,
             "images_per_s": len(files) * cores / seconds, "faces_per_s": faces * cores / seconds,
             "faces_per_cpu_s": faces / cpu,
             "steps_ms_per_image": {name: 1000 * wall / len(files) for name, (wall, _) in steps.items()},
             "steps_cpu_ms_per_image": {name: 1000 * cpu / len(files) for name, (_, cpu) in steps.items()}}
    return {"sets": {"event": event}, "peak_rss": peak["bytes"]}


def run_contender(name: str, sets: dict[str, list[Labelled]]) -> dict[str, object]:
    if name == "pipeline-det640":
        return run_pipeline(sets, parallel=False, det_size=640)
    if name == "pipeline-parallel-det640":
        return run_pipeline(sets, parallel=True, det_size=640)
    if name == "pipeline":
        return run_pipeline(sets, parallel=False, det_size=1280)
    if name == "pipeline-parallel":
        return run_pipeline(sets, parallel=True, det_size=1280)
    if name == "face_recognition":
        return run_face_recognition(sets)
    return run_limit(sets)


# --- report ----------------------------------------------------------------------------------------

def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    return f"{model}, nproc={os.cpu_count()}, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, " \
           f"Python {platform.python_version()}"


def report(results: dict[str, dict], sets: dict[str, list[Labelled]]) -> str:
    load = os.getloadavg()
    lines = [f"machine: {machine()}; load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
             f"files: event = {len(sets['event'])} x {EVENT_SIZE[0]}x{EVENT_SIZE[1]} JPEG q90 "
             f"({sum(len(b) for _, b in sets['event'])} labelled faces, {FACE_WIDTHS[0]}-{FACE_WIDTHS[1]} px wide); "
             f"dev = {len(sets['dev'])} images as they are", "",
             "| contender | set | images/s | faces/s | faces per CPU-s | faces | labelled recall | peak RSS |",
             "|---|---|---|---|---|---|---|---|"]
    for name, result in results.items():
        for set_name, row in result["sets"].items():
            recall = (f"{row['found'] / row['labelled']:.4f} ({row['found']}/{row['labelled']})"
                      if "found" in row else "-")
            images_per_s = f"{row['images_per_s']:.2f}" if row.get("images") else "-"
            lines.append(f"| {name} | {set_name} | {images_per_s} | {row['faces_per_s']:.2f} | "
                         f"{row['faces_per_cpu_s']:.2f} | {row['faces']} | "
                         f"{recall} | {result['peak_rss'] / 2**20:.0f} MiB |")
    peer = results["face_recognition"]["sets"]
    limit = results["limit"]["sets"]["event"]["faces_per_s"]
    limit_cpu = results["limit"]["sets"]["event"]["faces_per_cpu_s"]
    recall = {n: sum(r["sets"][s]["found"] for s in sets) / sum(r["sets"][s]["labelled"] for s in sets)
              for n, r in results.items() if n != "limit"}
    ours = [name for name in results if name.startswith("pipeline")]
    lines += ["", "targets:", "| measure | target | " + " | ".join(ours) + " |", "|---|---|" + "---|" * len(ours)]
    checks: list[tuple[str, str, Callable[[str], float]]] = [
        ("faces per CPU-s vs peer, event photos, cold start included", ">= 20x",
         lambda n: results[n]["sets"]["event"]["faces_per_cpu_s"] / peer["event"]["faces_per_cpu_s"]),
        ("faces/s (wall) vs peer, event photos, cold start included", ">= 20x (load-dependent)",
         lambda n: results[n]["sets"]["event"]["faces_per_s"] / peer["event"]["faces_per_s"]),
        ("faces per CPU-s vs peer, event photos, both warm", "(for comparison)",
         lambda n: results[n]["sets"]["event (warm)"]["faces_per_cpu_s"] / peer["event (warm)"]["faces_per_cpu_s"]),
        ("cold start (import + load models), CPU-s", f"(peer: {peer['event']['cold_start_cpu_s']:.2f})",
         lambda n: results[n]["sets"]["event"]["cold_start_cpu_s"]),
        ("faces/s vs the limit, event photos, warm", ">= 0.8x",
         lambda n: results[n]["sets"]["event (warm)"]["faces_per_s"] / limit),
        ("faces per CPU-s vs the limit's, event photos, warm", "(>= 0.8x, robust to load)",
         lambda n: results[n]["sets"]["event (warm)"]["faces_per_cpu_s"] / limit_cpu),
        ("labelled-face recall, all sets", f">= 0.98 and > peer ({recall['face_recognition']:.4f})",
         lambda n: recall[n]),
        ("peak RSS, MiB", "< 1024", lambda n: results[n]["peak_rss"] / 2**20),
    ]
    lines += [f"| {label} | {target} | " + " | ".join(f"{value(n):.3f}" for n in ours) + " |"
              for label, target, value in checks]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--event-images", type=int, default=16)
    parser.add_argument("--faces-per-image", type=int, default=6)
    parser.add_argument("--dev-images", type=int, default=0, help="a sample of this many (0: all)")
    parser.add_argument("--contender", choices=CONTENDERS, help=argparse.SUPPRESS)  # one contender, in a child
    args = parser.parse_args()
    dev = dev_images()
    if args.dev_images:  # a quick run: an even sample of the dev images
        dev = dev[::max(1, len(dev) // args.dev_images)][:args.dev_images]
    sets = {"event": build_event_set(args.event_images, args.faces_per_image), "dev": dev}
    if args.contender:
        print(json.dumps(run_contender(args.contender, sets)))
        return
    ensure_face_recognition()
    results = {}
    for name in CONTENDERS:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        child = subprocess.run([sys.executable, __file__, "--contender", name, "--event-images",
                                str(args.event_images), "--faces-per-image", str(args.faces_per_image),
                                "--dev-images", str(args.dev_images)],
                               check=True, capture_output=True, text=True)
        results[name] = json.loads(child.stdout.strip().splitlines()[-1])
    text = report(results, sets)
    (BENCH_DIR / "face_analysis_results.json").write_text(json.dumps(results, indent=1))
    print(text)


if __name__ == "__main__":
    main()
