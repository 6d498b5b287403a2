"""Re-embed one event: analyse its photos with another pack and carry every piece of user work over.

Why it exists: an event never mixes packs (:mod:`shared.db.event_models`), so changing
``MODEL_PACK`` leaves events analysed before on their old pack. An operator moves an event
when it suits them; until then it keeps working on its old pack.

The run (:func:`reembed_event`):

1. take the event's rewrite slot: a ``reembed`` row in ``ml_jobs``, which shares the
   one-in-flight-per-event index with clustering, so a running clustering makes this refuse
   and no clustering starts while this runs (a run that died is taken over once its lease ends);
2. analyse with the new pack, holding no lock (minutes for a large event; reviewers keep
   working), every photo the event has analysed with another pack, and those no pack has
   analysed yet (a photo no pack can read is skipped; one the old pack read but the new cannot
   refuses the run, as its faces would be lost);
3. in one transaction holding the event row and its face-data lock: analyse the photos
   uploaded meanwhile, re-read the old faces with what users made of them *now*, match new
   faces to old ones photo by photo (:mod:`shared.reembed.matching`), replace the faces,
   move persons and the event to the new pack, give each new face its old face's person,
   assignment and rejections, keep representatives, recount, re-derive face tags, and
   complete the job row. Any failure rolls all of it back.

Persons keep their ids, so names, links, merges, ignored persons and rejections survive as
they are, and a face tag stays byte for byte where the same faces are found. A user-placed
face (``add_face``) the new detector missed is looked for again in the box the user drew, as
``add_face`` did, and stays user-placed with its person. Old faces no new face is (the new
pack finds nothing there) are gone, and reported; new faces no old face matches (it found
more) are unassigned, for the next clustering run. Same pack: nothing to do.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg

from shared.clustering.job_run import MIN_LEASE_SECONDS
from shared.db.connection import connect, resolve_database_url
from shared.db.event_models import pinned_model
from shared.db.events import face_recognition_state, lock_event_face_data, lock_event_row
from shared.db.ml_jobs import ClaimOutcome, claim_job, complete_job, create_reembed_job, fail_job, rewrite_in_flight
from shared.db.reembed import (
    CarriedState,
    NewAnalysis,
    carry_face_state,
    media_to_reembed,
    old_faces,
    replace_event_faces,
    representatives,
)
from shared.errors import OperatorError
from shared.face_analysis import Face, ImageError, get_analyzer, get_pack
from shared.log import log_context
from shared.reembed.matching import covered, match_boxes
from shared.settings import Settings
from shared.storage import ImageFetchError, fetch_image, media_image_location

logger = logging.getLogger(__name__)

ANALYSIS_THREADS = 2   # photos in flight: fetch and decode of one overlap the models' work on another


class ReembedError(OperatorError):
    """The event cannot be re-embedded (now); nothing was changed."""


@dataclass(frozen=True)
class ReembedResult:
    event_id: uuid.UUID
    model: str
    previous_model: str | None
    changed: bool           # False: the event already was on the pack
    media: int = 0          # photos analysed with the new pack
    old_faces: int = 0
    new_faces: int = 0
    matched: int = 0        # new faces that are an old face
    carried: int = 0        # of those: faces that took over a person, rejections or a user's placement
    refound: int = 0        # user-placed faces the new detection missed, found again in their box
    lost: int = 0           # old faces with a person, rejections or a user's placement no new face is
    lost_user_placed: int = 0   # of those: user-placed faces with no face in their box for the new pack
    skipped: int = 0        # photos no pack could read (they had no faces to keep)
    job_id: uuid.UUID | None = None

    def summary(self) -> dict[str, Any]:
        return {key: str(value) if isinstance(value, uuid.UUID) else value
                for key, value in dataclasses.asdict(self).items()}


def reembed_event(settings: Settings, event_id: uuid.UUID, pack: str | None = None) -> ReembedResult:
    """Move the event to ``pack`` (default: ``MODEL_PACK``); see the module docstring."""
    model = get_pack(pack or settings.model_pack).id   # an unknown pack is refused before anything else
    worker = f"reembed:{os.environ.get('CLOUD_RUN_EXECUTION') or socket.gethostname()}:{os.getpid()}"
    with connect(resolve_database_url(settings), autocommit=True) as conn, log_context(event_id=event_id):
        enabled = face_recognition_state(conn, event_id)
        if enabled is None:
            raise ReembedError(f"no event {event_id}")
        if not enabled:
            raise ReembedError(f"face recognition is off for event {event_id}: it has no face data to re-embed")
        previous = pinned_model(conn, event_id)
        todo = media_to_reembed(conn, event_id, model)
        other_packs = previous not in (None, model) or any(m["analysed_before"] for m in todo)
        if not other_packs:   # the photos no pack could read are for detection to retry, not for this
            logger.info("event %s is already on %s: nothing to re-embed", event_id, model)
            return ReembedResult(event_id, model, previous, changed=False)
        job_id = _take_job(conn, event_id, model, settings, worker)
        with log_context(job_id=job_id):
            try:
                result = _run(conn, settings, event_id, model, previous, todo, job_id, worker)
            except BaseException as exc:   # Ctrl-C too: a failed row frees the event for the next run at once
                fail_job(conn, job_id, worker, f"{type(exc).__name__}: {exc}"[:1000])
                raise
    logger.info("event re-embedded", extra=result.summary())
    return result


def _take_job(conn: psycopg.Connection, event_id: uuid.UUID, model: str, settings: Settings, worker: str) -> uuid.UUID:
    """Claim the event's rewrite slot, or refuse while a clustering or another re-embedding holds it."""
    job_id = create_reembed_job(conn, event_id, model, settings.job_max_attempts)
    if job_id is None:
        busy = rewrite_in_flight(conn, event_id)
        if busy is not None and not (busy["job_type"] == "reembed" and busy["abandoned"]):
            raise ReembedError(f"event {event_id} is in use by {busy['job_type']} job {busy['id']} "
                               f"({busy['status']}); run this again once it has finished")
        job_id = busy["id"] if busy is not None else create_reembed_job(conn, event_id, model,
                                                                       settings.job_max_attempts)
    claim = claim_job(conn, job_id, worker, max(settings.job_lease_seconds, MIN_LEASE_SECONDS)) if job_id else None
    if claim is None or claim.outcome is not ClaimOutcome.CLAIMED:
        raise ReembedError(f"event {event_id} is being re-embedded by another run; nothing was changed")
    return job_id


def _run(conn: psycopg.Connection, settings: Settings, event_id: uuid.UUID, model: str, previous: str | None,
         todo: list[dict[str, Any]], job_id: uuid.UUID, worker: str) -> ReembedResult:
    logger.info("re-embedding %d photos of event %s with %s (was %s)", len(todo), event_id, model, previous)
    analyses, skipped = _analyse(settings, model, todo)
    with conn.transaction():
        if not lock_event_row(conn, event_id):
            raise ReembedError(f"face recognition was turned off for event {event_id} meanwhile")
        lock_event_face_data(conn, event_id)
        current = media_to_reembed(conn, event_id, model)
        late, late_skipped = _analyse(settings, model, [m for m in current
                                                        if m["id"] not in analyses and m["id"] not in skipped])
        analyses.update(late)
        skipped |= late_skipped
        result = _replace(conn, settings, event_id, model, previous,
                          [analyses[m["id"]] for m in current if m["id"] in analyses],
                          {m["id"]: m["storage_path"] for m in current}, job_id, len(skipped))
        if complete_job(conn, job_id, worker, result.summary()) is None:
            raise ReembedError(f"re-embedding job {job_id} was settled by someone else (face recognition turned "
                               "off?); nothing was changed")
    return result


def _analyse(settings: Settings, model: str,
             media: Sequence[dict[str, Any]]) -> tuple[dict[uuid.UUID, NewAnalysis], set[uuid.UUID]]:
    """The photos analysed with ``model``, and those skipped: unreadable photos no pack analysed before.

    An unreadable photo that another pack did analyse refuses the whole run: its faces may
    hold user work, and they would go without successors.
    """
    if not media:
        return {}, set()
    analyzer = get_analyzer(settings.model_copy(update={"model_pack": model}))
    analyzer.load()   # a missing model file: one clear error before any photo

    def analyse(row: dict[str, Any]) -> NewAnalysis | str:
        try:
            location = media_image_location(row["storage_path"], settings)   # the rules of shared.storage.policy
            analysis = analyzer.analyze(fetch_image(location, settings))
        except (ImageError, ImageFetchError) as exc:
            return f"{row['id']}: {exc.code}: {exc}"
        return NewAnalysis(row["id"], analysis.width, analysis.height, analysis.faces)

    with ThreadPoolExecutor(ANALYSIS_THREADS) as pool:
        outcomes = dict(zip((row["id"] for row in media), pool.map(analyse, media), strict=True))
    blocking = [error for row in media if row["analysed_before"] and isinstance(error := outcomes[row["id"]], str)]
    if blocking:
        raise ReembedError(f"{len(blocking)} of {len(media)} photos could not be analysed with {model}, so their "
                           f"faces would be lost; nothing was changed. Fix or delete them and run again: "
                           + "; ".join(blocking[:5]))
    skipped = {media_id for media_id, outcome in outcomes.items() if isinstance(outcome, str)}
    if skipped:
        logger.warning("%d photos no pack could read are skipped", len(skipped))
    return {m: o for m, o in outcomes.items() if isinstance(o, NewAnalysis)}, skipped


def _replace(conn: psycopg.Connection, settings: Settings, event_id: uuid.UUID, model: str, previous: str | None,
             analyses: list[NewAnalysis], storage_paths: dict[uuid.UUID, str], job_id: uuid.UUID,
             skipped: int) -> ReembedResult:
    """Swap the faces and hand the user work from old faces to the new faces that are them."""
    olds = old_faces(conn, event_id, model, [a.media_id for a in analyses])
    representative_of = representatives(conn, event_id)
    old_by_media: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for face in olds:
        old_by_media[face["media_id"]].append(face)
    successor: dict[uuid.UUID, tuple[int, int]] = {}   # old face -> (analysis, face) of the new face it is
    faces_of = [list(a.faces) for a in analyses]
    refound = 0
    for n, analysis in enumerate(analyses):
        there = old_by_media.get(analysis.media_id, [])
        for i, j in match_boxes([f["bbox"] for f in there], [f.bbox for f in analysis.faces]):
            successor[there[i]["id"]] = (n, j)
        missed = [f for f in there if f["origin"] == "user" and f["id"] not in successor]
        for old, face in zip(missed, _find_in_boxes(settings, model, storage_paths[analysis.media_id], missed,
                                                    analysis.faces), strict=True):
            if face is not None:
                successor[old["id"]] = (n, len(faces_of[n]))
                faces_of[n].append(face)
                refound += 1
    new_ids = replace_event_faces(conn, event_id, model, [dataclasses.replace(a, faces=faces)
                                                          for a, faces in zip(analyses, faces_of, strict=True)])
    new_of = {old: new_ids[n][j] for old, (n, j) in successor.items()}
    carried: dict[uuid.UUID, CarriedState] = {}
    lost = lost_user_placed = 0
    for face in olds:
        if face["person_id"] is None and not face["rejected_person_ids"] and face["origin"] != "user":
            continue
        if face["id"] not in new_of:
            lost += 1
            lost_user_placed += face["origin"] == "user"
            continue
        carried[new_of[face["id"]]] = CarriedState(face["person_id"], face["assignment"],
                                                   list(face["rejected_person_ids"] or ()), face["origin"])
    carry_face_state(conn, event_id, carried,
                     {person: new_of[face] for person, face in representative_of.items() if face in new_of})
    if lost:
        logger.warning("%d faces with user work were not found again by %s (%d placed by a user)", lost, model,
                       lost_user_placed)
    return ReembedResult(event_id, model, previous, changed=True, media=len(analyses), old_faces=len(olds),
                         new_faces=sum(len(ids) for ids in new_ids), matched=len(new_of), carried=len(carried),
                         refound=refound, lost=lost, lost_user_placed=lost_user_placed, skipped=skipped,
                         job_id=job_id)


def _find_in_boxes(settings: Settings, model: str, storage_path: str, placed: Sequence[dict[str, Any]],
                   detected: Sequence[Face]) -> list[Face | None]:
    """The new pack's face in the box of each user-placed face its whole-image detection missed, as
    ``add_face`` finds one (None: no face there, or one the detection already has, i.e. someone else's).

    A user-placed face is one the detector missed once, so the next detector often misses it
    too; looking again in the box the user drew keeps that work. It runs under the event's
    locks, fetching the photo again: such faces are few (one organiser's boxes), and a photo
    that became unreadable fails the run, which changes nothing.
    """
    if not placed:
        return []
    analyzer = get_analyzer(settings.model_copy(update={"model_pack": model}))
    try:
        data = fetch_image(media_image_location(storage_path, settings), settings)
        found = [analyzer.find_face_in_box(data, tuple(face["bbox"])) for face in placed]
    except (ImageError, ImageFetchError) as exc:
        raise ReembedError(f"media {placed[0]['media_id']} could not be read again to find its user-placed faces "
                           f"({exc.code}: {exc}); nothing was changed. Run again") from exc
    boxes = [f.bbox for f in detected]
    return [face if face is not None and not covered([face.bbox], boxes)[0] else None for face in found]
