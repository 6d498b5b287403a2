"""Detection service benchmark: images/s through the whole service vs the face analysis alone,
and how long Pub/Sub waits for its acknowledgement when ml-callback is quick, slow or failing.

    .venv/bin/python bench/detection_service.py [--images N] [--concurrency C] [--json out.json]
    .venv/bin/python bench/detection_service.py --ack-only [--ack-images N] [--slow-callback-seconds S]

On the same images (the group photos and the realistic single-person photos of
../shared/data/faces, read in place), with the deployment's settings (Terraform: request
concurrency = vCPUs, THREADS = vCPUs, ORT_INTRA_OP_THREADS=1):

  direct   ``get_analyzer(settings).analyze(bytes)`` on C threads, reading each file first;
  service  the real ``functions-framework --target detect_push`` server (gunicorn) on loopback,
           C clients POSTing Pub/Sub push envelopes, each one: envelope + message parsing, job
           claim with lease, file fetch, analysis, faces + media_analyses + job completion in one
           transaction, incremental assignment, and a callback to a local ml-callback stand-in;
           against the embedded PostgreSQL in a scratch directory.

Each side runs in its own process, warmed up (models loaded) before timing, so the peak RSS
(VmHWM) reported is that process's own. The two take turns on chunks of images, round after
round, so that other load on the machine hits both alike. Overhead = 1 - service images/s /
direct images/s, overall and as the median over the turns.

Ack latency: the time of each push request (what Pub/Sub waits for before its ack), median and
95th percentile, on the same images with C in flight, under three ml-callback stand-ins: one
that answers at once, a slow one (answers after ``--slow-callback-seconds``: its lock, the
clustering rule's aggregate, the Cloud Run Jobs API) and a failing one (503 every time).
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

SHARED_DIR = Path(os.environ.get("FACECLUSTER_SHARED_DIR", REPO_ROOT.parent / "shared")).resolve()
FACES_DIR = SHARED_DIR / "data" / "faces"
MODELS_DIR = SHARED_DIR / "models"
SCRATCH_DIR = REPO_ROOT / ".facecluster" / "bench" / "detection-service"   # never committed


def benchmark_images(limit: int | None) -> list[Path]:
    """Event-like photos first (several faces, up to 2500 px), then realistic portraits."""
    images = sorted((FACES_DIR / "group_photos" / "images").glob("*.jpg"))
    images += sorted((FACES_DIR / "dev").glob("deepface_*/*.jpg"))
    return images[:limit] if limit else images


def deployment_env(concurrency: int) -> dict[str, str]:
    """The detection service's settings as Terraform deploys them, pointed at local models."""
    return {
        "FACECLUSTER_MODEL_DIR": str(MODELS_DIR),
        "ORT_INTRA_OP_THREADS": "1",
        "THREADS": str(concurrency),
        "RECOGNIZER_THREADS": str(os.cpu_count() or 1),  # one recogniser thread (dlib: process) per vCPU
        "LOG_LEVEL": "INFO",
    }


def peak_rss_mib(pid: int) -> float:
    """VmHWM: the process's peak resident set, as the kernel counted it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


# --- direct: the face analysis alone, in a child process of its own ------------------------------

def direct_worker(paths: list[Path], concurrency: int) -> None:
    """The child's loop: ``<start> <stop>`` on stdin → analyse those images, answer JSON; EOF → peak RSS."""
    from shared.face_analysis import get_analyzer
    from shared.settings import get_settings

    analyzer = get_analyzer(get_settings())
    analyzer.analyze(paths[0].read_bytes())                      # warm-up: models loaded
    print(json.dumps({"ready": True}), flush=True)
    with ThreadPoolExecutor(concurrency) as pool:
        for line in sys.stdin:
            start, stop = (int(v) for v in line.split())
            started = time.perf_counter()
            faces = sum(pool.map(lambda p: len(analyzer.analyze(p.read_bytes()).faces), paths[start:stop]))
            print(json.dumps({"faces": faces, "seconds": time.perf_counter() - started}), flush=True)
    print(json.dumps({"peak_rss_mib": peak_rss_mib(os.getpid())}), flush=True)


class DirectAnalysis:
    """The direct side: a child process running :func:`direct_worker` with the deployment's settings."""

    def __init__(self, images: int | None, concurrency: int) -> None:
        command = [sys.executable, __file__, "--direct-worker", f"--concurrency={concurrency}"]
        if images:
            command.append(f"--images={images}")
        self.child = subprocess.Popen(command, env={**os.environ, **deployment_env(concurrency)}, text=True,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._answer()

    def _answer(self) -> dict[str, Any]:
        line = self.child.stdout.readline()
        if not line:
            raise RuntimeError(f"the direct worker exited with {self.child.wait()}")
        return json.loads(line)

    def run(self, start: int, stop: int) -> dict[str, Any]:
        self.child.stdin.write(f"{start} {stop}\n")
        self.child.stdin.flush()
        return {"images": stop - start, **self._answer()}

    def finish(self) -> float:
        self.child.stdin.close()
        rss = self._answer()["peak_rss_mib"]
        self.child.wait(timeout=30)
        return rss


# --- service: the real server on loopback ------------------------------------------------------

class _CallbackSink(http.server.BaseHTTPRequestHandler):
    """ml-callback stand-in: answers every report with ``status`` after ``delay`` seconds."""

    received = 0          # reports accepted (answered 200)
    delay = 0.0
    status = 200

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(type(self).delay)
        if type(self).status == 200:
            type(self).received += 1
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _detect_jobs(database_url: str, paths: list[Path], name: str) -> list[bytes]:
    """An enabled event with a media row and a detect job per image; the push bodies naming them."""
    from shared.db.connection import connect
    from shared.pipeline.messages import DetectMessage
    from shared.settings import get_settings

    model = get_settings().model_pack  # the pack both sides run (MODEL_PACK, default: the default pack)
    bodies = []
    with connect(database_url, autocommit=True) as conn:
        event_id = conn.execute("insert into events (owner_id, name, face_recognition_enabled) "
                                "values (%s, %s, true) returning id", (uuid.uuid4(), name)).fetchone()["id"]
        for path in paths:
            media_id = conn.execute("insert into media (event_id, storage_path) values (%s, %s) returning id",
                                    (event_id, path.as_uri())).fetchone()["id"]
            job_id = conn.execute("insert into ml_jobs (job_type, event_id, media_id, model) "
                                  "values ('detect', %s, %s, %s) returning id",
                                  (event_id, media_id, model)).fetchone()["id"]
            message = DetectMessage(job_id=job_id, event_id=event_id, media_id=media_id, image=path.as_uri(),
                                    model=model)
            bodies.append(json.dumps({"message": {"data": base64.b64encode(message.to_bytes()).decode(),
                                                  "messageId": str(len(bodies))},
                                      "subscription": "projects/bench/subscriptions/detect"}).encode())
    return bodies


class ServiceUnderTest:
    """``functions-framework --target detect_push`` (gunicorn) on loopback, with a scratch database."""

    def __init__(self, scratch: Path, concurrency: int) -> None:
        from localdev.stack.processes import free_port
        from shared.db.embedded import start_embedded_server
        from shared.db.migrate import migrate

        self.concurrency = concurrency
        self.database_url = start_embedded_server(scratch / "pgdata")
        migrate(self.database_url)
        self.sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CallbackSink)
        threading.Thread(target=self.sink.serve_forever, daemon=True).start()
        port = free_port()
        env = {**os.environ, **deployment_env(concurrency), "DATABASE_URL": self.database_url,
               "LOCAL_STORAGE_DIR": str(FACES_DIR),   # the images are read in place, as file:// media
               "FACECLUSTER_DATA_DIR": str(scratch), "CALLBACK_SECRET": "bench",
               "CALLBACK_URL": f"http://127.0.0.1:{self.sink.server_port}/"}
        self.log = (scratch / "service.log").open("wb")
        self.server = subprocess.Popen(
            [str(Path(sys.executable).parent / "functions-framework"),
             f"--source={REPO_ROOT / 'functions' / 'main.py'}", "--target=detect_push",
             "--host=127.0.0.1", f"--port={port}"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
        self.base = f"http://127.0.0.1:{port}"
        self._sessions = threading.local()
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise RuntimeError(f"functions-framework exited with {self.server.returncode}")
            try:
                if requests.get(self.base + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("the service never became healthy")

    def _push(self, body: bytes) -> int:
        return self._timed_push(body)[0]

    def _timed_push(self, body: bytes) -> tuple[int, float]:
        """The faces the push reported, and how long the request took (Pub/Sub's wait for its ack)."""
        if not hasattr(self._sessions, "session"):
            self._sessions.session = requests.Session()
        started = time.perf_counter()
        answer = self._sessions.session.post(self.base + "/", data=body, timeout=300,
                                             headers={"Content-Type": "application/json"})
        seconds = time.perf_counter() - started
        if answer.status_code != 200 or answer.json()["status"] != "completed":
            raise RuntimeError(f"push answered {answer.status_code}: {answer.text}")
        return answer.json()["faces"], seconds

    def warm_up(self, path: Path) -> None:
        self._push(_detect_jobs(self.database_url, [path], "warm-up")[0])

    def run(self, paths: list[Path], name: str) -> dict[str, Any]:
        bodies = _detect_jobs(self.database_url, paths, name)   # new media rows: real work every time
        started = time.perf_counter()
        with ThreadPoolExecutor(self.concurrency) as pool:
            faces = sum(pool.map(self._push, bodies))
        seconds = time.perf_counter() - started
        return {"images": len(paths), "faces": faces, "seconds": seconds}

    def ack_latencies(self, paths: list[Path], name: str, delay: float, status: int) -> dict[str, Any]:
        """Push each image once with ml-callback answering ``status`` after ``delay`` s; the request times."""
        _CallbackSink.delay, _CallbackSink.status = delay, status
        try:
            bodies = _detect_jobs(self.database_url, paths, name)
            with ThreadPoolExecutor(self.concurrency) as pool:
                seconds = sorted(s for _, s in pool.map(self._timed_push, bodies))
        finally:
            _CallbackSink.delay, _CallbackSink.status = 0.0, 200
        return {"callback_delay_seconds": delay, "callback_status": status, "pushes": len(seconds),
                "median_ms": 1000 * statistics.median(seconds),
                "p95_ms": 1000 * statistics.quantiles(seconds, n=20, method="inclusive")[18],
                "max_ms": 1000 * seconds[-1]}

    def wait_for_callbacks(self, count: int, timeout: float = 60.0) -> int:
        """The reports accepted so far, once ``count`` arrived or ``timeout`` passed (they may follow the acks)."""
        deadline = time.monotonic() + timeout
        while _CallbackSink.received < count and time.monotonic() < deadline:
            time.sleep(0.1)
        return _CallbackSink.received

    def peak_rss_mib(self) -> float:
        import psutil

        root = psutil.Process(self.server.pid)
        return max(peak_rss_mib(p.pid) for p in (root, *root.children(recursive=True)))

    def stop(self) -> None:
        self.server.terminate()
        self.server.wait(timeout=30)
        self.sink.shutdown()
        self.log.close()


# --- report ------------------------------------------------------------------------------------

def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import onnxruntime
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"onnxruntime {onnxruntime.__version__}, {platform.system()} {platform.release()}")


ACK_CONDITIONS = (("reachable", False, 200), ("slow", True, 200), ("failing", False, 503))  # name, slow?, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=None, help="use the first N images (default: all)")
    parser.add_argument("--concurrency", type=int, default=2 * (os.cpu_count() or 1),
                        help="requests in flight = analysis threads (default: 2 x cores, as deployed)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the images")
    parser.add_argument("--chunk", type=int, default=12,
                        help="images per turn: direct and service take turns chunk by chunk")
    parser.add_argument("--ack-images", type=int, default=40, help="pushes per ml-callback condition")
    parser.add_argument("--slow-callback-seconds", type=float, default=1.0,
                        help="how long the slow ml-callback takes to answer")
    parser.add_argument("--ack-only", action="store_true", help="measure only the ack latency (no direct side)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--direct-worker", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    paths = benchmark_images(args.images)

    if args.direct_worker:
        direct_worker(paths, args.concurrency)
        return

    report: dict[str, Any] = {"machine": machine(), "load_average_before": os.getloadavg()[0],
                              "concurrency": args.concurrency}
    shutil.rmtree(SCRATCH_DIR, ignore_errors=True)   # the last run's database (its server stopped with it)
    service = ServiceUnderTest(SCRATCH_DIR, args.concurrency)
    try:
        service.warm_up(paths[0])
        if not args.ack_only:
            report.update(throughput(service, paths, args))
        ack_paths = (paths * args.ack_images)[:args.ack_images]
        service.run(ack_paths, "ack-warm-up")   # each image once untimed: the first condition must not pay
        #                                         for the analyser's first run on its sizes and face counts
        report["ack_latency"] = {
            name: service.ack_latencies(ack_paths, f"ack-{name}", args.slow_callback_seconds if slow else 0.0, status)
            for name, slow, status in ACK_CONDITIONS}
    finally:
        service.stop()
    report["load_average_after"] = os.getloadavg()[0]
    print_report(report, len(paths))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def throughput(service: ServiceUnderTest, paths: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    """The service and the analysis alone, taking turns on the same chunks of images."""
    turns: list[tuple[dict[str, Any], dict[str, Any]]] = []
    direct = DirectAnalysis(args.images, args.concurrency)
    try:
        # Short alternating turns: a change in background load hits both sides alike.
        for round_no in range(args.rounds):
            for start in range(0, len(paths), args.chunk):
                stop = min(start + args.chunk, len(paths))
                turns.append((direct.run(start, stop), service.run(paths[start:stop], f"r{round_no}-{start}")))
        service_rss = service.peak_rss_mib()
    finally:
        direct_rss = direct.finish()

    def side(runs: list[dict[str, Any]], rss: float) -> dict[str, Any]:
        images, seconds = sum(r["images"] for r in runs), sum(r["seconds"] for r in runs)
        return {"images": images, "faces": sum(r["faces"] for r in runs), "seconds": seconds,
                "images_per_second": images / seconds, "peak_rss_mib": rss}

    report = {
        "rounds": args.rounds, "chunk": args.chunk,
        "direct": side([d for d, _ in turns], direct_rss), "service": side([s for _, s in turns], service_rss),
        "turn_overheads": [1 - d["seconds"] / s["seconds"] for d, s in turns],
    }
    pushed = 1 + report["service"]["images"]   # with the warm-up
    report["service"]["callbacks"] = service.wait_for_callbacks(pushed) - 1
    report["service_overhead"] = 1 - report["service"]["images_per_second"] / report["direct"]["images_per_second"]
    report["median_turn_overhead"] = statistics.median(report["turn_overheads"])
    return report


def print_report(report: dict[str, Any], distinct_images: int) -> None:
    print(f"machine: {report['machine']}")
    print(f"load average {report['load_average_before']:.2f} before, {report['load_average_after']:.2f} after")
    if "direct" in report:
        print(f"{distinct_images} images x {report['rounds']} rounds in turns of {report['chunk']}, "
              f"{report['concurrency']} in flight\n")
        print(f"{'':9}{'images':>8}{'seconds':>10}{'images/s':>10}{'faces':>8}{'peak RSS MiB':>14}")
        for name in ("direct", "service"):
            s = report[name]
            print(f"{name:9}{s['images']:>8}{s['seconds']:>10.1f}{s['images_per_second']:>10.2f}{s['faces']:>8}"
                  f"{s['peak_rss_mib']:>14.0f}")
        print(f"\nservice-layer overhead: {report['service_overhead']:.1%} overall, "
              f"{report['median_turn_overhead']:.1%} median of {len(report['turn_overheads'])} turns "
              f"(same faces: {report['direct']['faces'] == report['service']['faces']}, "
              f"callbacks: {report['service']['callbacks']} of {report['service']['images']})\n")
    print(f"push request time (Pub/Sub's wait for its ack), {report['concurrency']} in flight:")
    print(f"{'ml-callback':34}{'pushes':>8}{'median ms':>11}{'p95 ms':>9}{'max ms':>9}")
    for name, ack in report["ack_latency"].items():
        answer = (f"answers {ack['callback_status']} after {ack['callback_delay_seconds']:g} s"
                  if ack["callback_delay_seconds"] else f"answers {ack['callback_status']} at once")
        print(f"{name + ' (' + answer + ')':34}{ack['pushes']:>8}{ack['median_ms']:>11.0f}{ack['p95_ms']:>9.0f}"
              f"{ack['max_ms']:>9.0f}")


if __name__ == "__main__":
    main()
