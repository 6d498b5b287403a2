"""One local run of the whole pipeline on a folder of photos (``facecluster demo``).

Upload the photos into an event (inserting their media rows starts their detection through
``ml-media-inserted``, as in production), ask ``ml-enqueue`` as the organiser for any photo an
earlier run left unanalysed, let Pub/Sub push each image to the detection service, which reports
to ``ml-callback``, which starts clustering; then summarise from the database and write a
snapshot of the review page. A folder always maps to the same event (named after its absolute
path), and only files not uploaded before become new media, so a second run processes only new photos.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO

import psycopg
import requests

from localdev import demo_queries
from localdev.review.snapshot import fetch_all_persons, write_snapshot
from localdev.stack.object_store import DirectoryObjectStore
from localdev.stack.photos import find_photos
from localdev.stack.progress import ProgressBar, format_duration
from localdev.stack.stack import LocalStack
from localdev.stack.tokens import mint_user_token
from shared.db.connection import connect
from shared.db.event_models import pinned_model
from shared.db.ml_jobs import fail_open_jobs
from shared.errors import OperatorError
from shared.face_analysis.packs import get_pack, verify_pack
from shared.settings import Settings

POLL_SECONDS = 0.5
STALL_SECONDS = 600.0          # no image finished for this long: something is stuck, say where to look
CLUSTER_TIMEOUT_SECONDS = 1800.0
CALLBACK_GRACE_SECONDS = 3.0   # ml-callback may be about to start clustering itself: give it the chance
CLUSTER_START_SECONDS = 60.0   # a cluster job still pending after this was never started (its process died)


class DemoError(OperatorError):
    """The demo cannot go on; the message says why and where the logs are."""


@dataclass(frozen=True)
class DemoSummary:
    event_id: uuid.UUID
    photos_dir: Path
    images: int               # media of the event
    new_images: int           # uploaded by this run
    processed: int            # analysed by this run
    failed: int               # failed for good in this run
    faces: int                # faces of the event
    new_faces: int
    persons: int              # active persons
    unassigned: int           # faces in no person
    seconds: float            # the whole run
    detection_seconds: float
    review_url: str
    snapshot_path: Path
    failures: tuple[tuple[str, str], ...] = ()  # (photo, why) of the photos that failed in this run

    @property
    def images_per_second(self) -> float:
        return self.processed / self.detection_seconds if self.detection_seconds > 0 else 0.0

    def render(self) -> str:
        rate = f"{self.images_per_second:.2f} images/s" if self.processed else "nothing new to process"
        return "\n".join([
            f"facecluster demo: {self.photos_dir}",
            f"  images      {self.images} ({self.new_images} new, {self.processed} processed, {self.failed} failed)",
            f"  faces       {self.faces} ({self.new_faces} new)",
            f"  persons     {self.persons}",
            f"  unassigned  {self.unassigned} faces",
            f"  time        {format_duration(self.seconds)} ({rate})",
            f"  snapshot    {self.snapshot_path}",
            *self._failure_lines(),
        ])

    def _failure_lines(self, shown: int = 10) -> list[str]:
        """Which photos failed and why (corrupt, truncated, not an image...), the first few of them."""
        lines = [f"  failed      {photo}: {why}" for photo, why in self.failures[:shown]]
        if len(self.failures) > shown:
            lines.append(f"              ... and {len(self.failures) - shown} more (see ml_jobs.error)")
        return lines


def check_models(pack: str, model_dir: Path) -> None:
    """Fail before starting anything when a model file is missing (the error says how to fetch it)."""
    verify_pack(get_pack(pack), model_dir)


def demo_event_name(photos_dir: Path) -> str:
    return f"demo {photos_dir}"


class DemoSession:
    """The stack plus one event for ``photos_dir``; ``with DemoSession(...) as s: s.run()``."""

    def __init__(self, photos_dir: Path, settings: Settings, *, pack: str | None = None,
                 progress: TextIO | None = None, pubsub: str = "auto") -> None:
        self.photos_dir = photos_dir.expanduser().resolve()
        self.settings = settings
        self.pack = pack or settings.model_pack
        self.progress_stream = progress
        self.demo_dir = settings.facecluster_data_dir / "demo"
        self.stack = LocalStack(settings, pack=self.pack, log_dir=self.demo_dir / "logs",
                                objects_dir=self.demo_dir / "objects", pubsub=pubsub)
        self.event: demo_queries.DemoEvent | None = None
        self.token = ""
        self._conn: psycopg.Connection | None = None
        self._started = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> DemoSession:
        if not self.photos_dir.is_dir():
            raise DemoError(f"{self.photos_dir} is not a folder of photos")
        check_models(self.pack, self.settings.model_dir)
        self._started = time.monotonic()
        self.stack.__enter__()
        try:
            self._conn = connect(self.stack.database_url, autocommit=True)
            self.event = self._event_for_folder()
            self._follow_event_pack()
            self.token = mint_user_token(self.stack.jwt_secret, self.event.owner_id,
                                         audience=self.settings.jwt_audience)
            self.stack.set_review_config(self.review_config())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self.stack.__exit__(*exc)

    @property
    def conn(self) -> psycopg.Connection:
        assert self._conn is not None, "use DemoSession as a context manager"
        return self._conn

    @property
    def event_id(self) -> uuid.UUID:
        assert self.event is not None, "use DemoSession as a context manager"
        return self.event.id

    @property
    def event_dir(self) -> Path:
        return self.demo_dir / str(self.event_id)

    @cached_property
    def store(self) -> DirectoryObjectStore:
        """Where this event's photos are uploaded (a folder standing in for the bucket); built once per session."""
        return DirectoryObjectStore(self.stack.objects_dir / str(self.event_id))

    def review_config(self) -> dict[str, Any]:
        """What the review page needs: endpoints, event, token, and the members it can link to."""
        urls = self.stack.urls
        assert urls is not None and self.event is not None
        return {"personsUrl": urls.face_persons, "actionsUrl": urls.face_person_actions,
                "selfieUrl": urls.face_selfie_search, "photoUrl": urls.review + "photo",
                "eventId": str(self.event.id), "token": self.token, "title": self.photos_dir.name,
                "members": [{"id": str(self.event.owner_id), "label": "Organiser (you)"}]}

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> DemoSummary:
        """Upload new photos, detect, cluster; return the summary (and write the snapshot)."""
        # Before the upload: inserting the media rows already starts their detection (ml-media-inserted).
        since = demo_queries.database_now(self.conn)
        new_images = self.upload_new_photos()
        pending = demo_queries.unanalysed_media_ids(self.conn, self.event_id, self.pack)
        detection_started = time.monotonic()
        if pending:
            self.call("ml_enqueue", {"type": "detect", "event_id": str(self.event_id), "priority": "normal"})
            progress = self.wait_for_detection(pending, since)
            failures = tuple((self.store.key_of(path), why)
                             for path, why in demo_queries.failed_media(self.conn, pending, self.pack, since))
        else:
            progress = demo_queries.DetectProgress(0, 0, 0, 0)
            failures = ()
        detection_seconds = time.monotonic() - detection_started
        self.ensure_clustered()
        totals = demo_queries.event_summary(self.conn, self.event_id, self.pack)
        snapshot_path = self.write_snapshot()
        return DemoSummary(
            event_id=self.event_id, photos_dir=self.photos_dir, images=totals.images, new_images=new_images,
            processed=progress.completed, failed=progress.failed, faces=totals.faces, new_faces=progress.faces,
            persons=totals.persons, unassigned=totals.unassigned, seconds=time.monotonic() - self._started,
            detection_seconds=detection_seconds, review_url=self.stack.urls.review,
            snapshot_path=snapshot_path, failures=failures)

    def _event_for_folder(self) -> demo_queries.DemoEvent:
        name = demo_event_name(self.photos_dir)
        with self.conn.transaction():
            event = demo_queries.find_event_by_name(self.conn, name)
            if event is None:
                event = demo_queries.create_event(self.conn, name, uuid.uuid4())
            else:
                abandoned = fail_open_jobs(self.conn, event.id,
                                           "abandoned: an earlier demo run of this folder was interrupted")
                if abandoned and self.progress_stream:
                    print(f"facecluster demo: {abandoned} job(s) of an interrupted run failed; their photos "
                          "are enqueued again", file=self.progress_stream, flush=True)
        return event

    def _follow_event_pack(self) -> None:
        """Continue on the pack of the folder's event when an earlier run made it with another one.

        An event never mixes packs (docs/model-switch.md): its new photos are analysed with the
        pack of its faces, so progress and totals must be counted in that pack too.
        """
        pinned = pinned_model(self.conn, self.event_id)
        if pinned is None or pinned == self.pack:
            return
        check_models(pinned, self.settings.model_dir)
        if self.progress_stream:
            print(f"facecluster demo: this folder's event was analysed with {pinned}; continuing with it "
                  f"(`facecluster reembed --event {self.event_id} --pack {self.pack}` moves it to {self.pack})",
                  file=self.progress_stream, flush=True)
        self.pack = pinned

    def upload_new_photos(self) -> int:
        """Copy photos not uploaded before into the object store and add them as media."""
        known = demo_queries.media_storage_paths(self.conn, self.event_id)
        new = [(photo, self.store.location_of(photo.key)) for photo in find_photos(self.photos_dir)]
        new = [(photo, location) for photo, location in new if location not in known]
        if not new and not known:
            raise DemoError(f"no photos (JPEG, PNG, HEIC) under {self.photos_dir}")
        items = [(self.store.upload(photo.key, photo.path), photo.mime_type) for photo, _ in new]
        with self.conn.transaction():
            demo_queries.insert_media(self.conn, self.event_id, self.event.owner_id, items)
        return len(items)

    def call(self, target: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to a function as the organiser; a refusal is an error that quotes the answer."""
        url = getattr(self.stack.urls, target)
        try:
            response = requests.post(url, json=body, headers={"Authorization": f"Bearer {self.token}"}, timeout=120)
        except requests.RequestException as exc:
            raise DemoError(f"{target} is unreachable at {url}: {exc}") from exc
        if response.status_code >= 400:
            raise DemoError(f"{target} answered HTTP {response.status_code}: {response.text[:300]} "
                            f"(logs: {self.stack.log_dir})")
        return response.json() if response.content else {}

    def wait_for_detection(self, media_ids: list[uuid.UUID], since: Any) -> demo_queries.DetectProgress:
        """Poll the database until every image is analysed or failed, drawing the progress bar."""
        bar = ProgressBar(self.progress_stream) if self.progress_stream else None
        started = last_change = time.monotonic()
        last_finished = -1
        try:
            while True:
                self.stack.check_running()
                progress = demo_queries.detect_progress(self.conn, media_ids, self.pack, since)
                now = time.monotonic()
                if bar:
                    bar.update(progress.finished, progress.total, progress.faces, progress.failed, now - started)
                if progress.finished >= progress.total:
                    return progress
                if progress.finished != last_finished:
                    last_finished, last_change = progress.finished, now
                elif now - last_change > STALL_SECONDS:
                    raise DemoError(f"detection stalled at {progress.finished}/{progress.total} images for "
                                    f"{STALL_SECONDS:.0f} s; see the logs in {self.stack.log_dir}")
                time.sleep(POLL_SECONDS)
        finally:
            if bar:
                bar.close()

    def ensure_clustered(self) -> None:
        """Wait for clustering that covers the last detection; ask ml-enqueue for it when none is coming.

        ml-callback starts clustering on its own once enough of the event is analysed; a run
        that ends below that threshold, or after an interrupted run, asks explicitly (once).
        """
        requested = False
        started = time.monotonic()
        deadline = started + CLUSTER_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            self.stack.check_running()
            state = demo_queries.clustering_progress(self.conn, self.event_id, CLUSTER_START_SECONDS)
            up_to_date = state.last_completed_at is not None and (
                state.last_detection_at is None or state.last_completed_at >= state.last_detection_at)
            if state.active_job_id is None and (up_to_date or state.last_detection_at is None):
                return
            waiting_for_callback = time.monotonic() - started < CALLBACK_GRACE_SECONDS
            if (state.active_job_id is None or state.active_stale) and not waiting_for_callback:
                if requested:
                    problem = ("a clustering job never started or its worker died" if state.active_stale
                               else f"clustering failed: {state.last_failed_error or 'no result'}")
                    raise DemoError(f"{problem} (logs: {self.stack.log_dir})")
                self.call("ml_enqueue", {"type": "cluster", "event_id": str(self.event_id), "priority": "normal"})
                requested, started = True, time.monotonic()
            time.sleep(POLL_SECONDS)
        raise DemoError(f"clustering did not finish within {CLUSTER_TIMEOUT_SECONDS:.0f} s "
                        f"(logs: {self.stack.log_dir})")

    def write_snapshot(self) -> Path:
        """The review page with the current persons inlined, readable without any server."""
        urls = self.stack.urls
        assert urls is not None
        try:
            data = fetch_all_persons(urls.face_persons, self.token, str(self.event_id))
        except requests.RequestException as exc:
            raise DemoError(f"face-persons failed, no snapshot written: {exc} (logs: {self.stack.log_dir})") from exc
        meta = {"title": self.photos_dir.name, "eventId": str(self.event_id),
                "members": self.review_config()["members"], "createdAt": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                                      time.gmtime())}
        return write_snapshot(self.event_dir / "review.html", data, meta)
