"""SQL of re-embedding: what an event holds of other packs, and replacing it in one transaction.

:func:`replace_event_faces` runs inside the caller's transaction, which holds the event row
and :func:`shared.db.events.lock_event_face_data`. Its statements are ordered so that every
one of them leaves faces and persons consistent even under foreign keys that tie a face to
a person of the same event *and* pack: the old faces go before the persons change pack (all
of the event's persons in one statement, so merge links stay within one pack), and the new
faces get their persons only after that. Person ids do not change, so links, names, merges,
rejections ("not this person") and the ``person_id`` of face tags stay valid as they are.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg

from shared.db.event_models import move_event_model
from shared.db.face_tags import sync_face_tags
from shared.db.faces import IMAGE_MEDIA, FaceRecord, store_media_faces
from shared.db.persons import refresh_persons


@dataclass(frozen=True)
class CarriedState:
    """What a new face takes over from the old face it matched."""

    person_id: uuid.UUID | None
    assignment: str | None
    rejected_person_ids: list[uuid.UUID]
    origin: str   # 'user': an organiser placed it, and it stays theirs (kept by a forced re-detection)


@dataclass(frozen=True)
class NewAnalysis:
    """One photo as the new pack sees it."""

    media_id: uuid.UUID
    width: int
    height: int
    faces: Sequence[FaceRecord]


def media_to_reembed(conn: psycopg.Connection, event_id: uuid.UUID, model: str) -> list[dict[str, Any]]:
    """The event's image media to analyse with ``model``: those another pack analysed, and those
    no pack has (their detection failed, or is still on its way); ``analysed_before`` tells them apart."""
    return conn.execute(
        f"""
        select m.id, m.storage_path,
               exists (select 1 from media_analyses a where a.media_id = m.id) as analysed_before
          from media m
         where m.event_id = %(event)s and {IMAGE_MEDIA}
           and (exists (select 1 from media_analyses a where a.media_id = m.id and a.model <> %(model)s)
                or not exists (select 1 from media_analyses a where a.media_id = m.id))
         order by m.created_at, m.id
        """,
        {"event": event_id, "model": model}).fetchall()


_REPLACED_FACES = "event_id = %(event)s and (model <> %(model)s or media_id = any(%(media)s))"


def old_faces(conn: psycopg.Connection, event_id: uuid.UUID, model: str,
              media_ids: Sequence[uuid.UUID]) -> list[dict[str, Any]]:
    """The faces a re-embedding replaces, with what users made of them (read under the event lock):
    every face of another pack, and every face of the photos analysed again."""
    return conn.execute(
        f"select id, media_id, bbox, person_id, assignment, rejected_person_ids, origin from faces"
        f" where {_REPLACED_FACES}"
        " order by media_id, id",
        {"event": event_id, "model": model, "media": list(media_ids)}).fetchall()


def representatives(conn: psycopg.Connection, event_id: uuid.UUID) -> dict[uuid.UUID, uuid.UUID]:
    """Person -> its representative face, for the persons that have one."""
    return {row["id"]: row["representative_face_id"] for row in conn.execute(
        "select id, representative_face_id from face_persons"
        " where event_id = %s and representative_face_id is not null", (event_id,))}


def replace_event_faces(conn: psycopg.Connection, event_id: uuid.UUID, model: str,
                        analyses: Sequence[NewAnalysis]) -> list[list[uuid.UUID]]:
    """Make ``model`` the event's pack: drop the faces :func:`old_faces` lists, store ``analyses``;
    new face ids per analysis.

    The persons keep their ids and change pack; the new faces are stored unassigned, for
    :func:`carry_face_state` to give them their old faces' persons.
    """
    replaced = {"event": event_id, "model": model, "media": [a.media_id for a in analyses]}
    move_event_model(conn, event_id, model)
    conn.execute(f"update face_persons set representative_face_id = null where event_id = %(event)s"
                 f" and representative_face_id in (select id from faces where {_REPLACED_FACES})", replaced)
    conn.execute(f"delete from faces where {_REPLACED_FACES}", replaced)
    conn.execute(f"delete from media_analyses where {_REPLACED_FACES}", replaced)
    conn.execute("update face_persons set model = %s, updated_at = now() where event_id = %s and model <> %s",
                 (model, event_id, model))
    return [store_media_faces(conn, event_id=event_id, media_id=a.media_id, model=model, width=a.width,
                              height=a.height, faces=a.faces).face_ids
            for a in analyses]


def carry_face_state(conn: psycopg.Connection, event_id: uuid.UUID, carried: Mapping[uuid.UUID, CarriedState],
                     representative_faces: Mapping[uuid.UUID, uuid.UUID]) -> None:
    """Give new faces their persons, rejections and origin, restore representatives, recount, re-derive tags."""
    if carried:
        ids = list(carried)
        conn.execute(
            """
            update faces f set person_id = v.person_id, assignment = v.assignment,
                               rejected_person_ids = coalesce(v.rejected, '{}'), origin = v.origin,
                               updated_at = now()
              from (select * from jsonb_to_recordset(%s::jsonb)
                      as r(id uuid, person_id uuid, assignment text, rejected uuid[], origin text)) v
             where f.id = v.id and f.event_id = %s
            """,
            (_json_records(ids, carried), event_id))
    if representative_faces:
        conn.execute(
            """
            update face_persons p set representative_face_id = v.face_id
              from unnest(%s::uuid[], %s::uuid[]) as v(id, face_id)
             where p.id = v.id and p.event_id = %s
            """,
            (list(representative_faces), list(representative_faces.values()), event_id))
    persons = [row["id"] for row in conn.execute("select id from face_persons where event_id = %s", (event_id,))]
    refresh_persons(conn, persons)
    sync_face_tags(conn, [row["id"] for row in conn.execute("select id from media where event_id = %s",
                                                            (event_id,))])


def _json_records(ids: list[uuid.UUID], carried: Mapping[uuid.UUID, CarriedState]) -> str:
    """Rows for ``jsonb_to_recordset``: an array column cannot go through ``unnest`` beside scalars."""
    return json.dumps([{"id": str(i), "person_id": str(carried[i].person_id) if carried[i].person_id else None,
                        "assignment": carried[i].assignment,
                        "rejected": [str(p) for p in carried[i].rejected_person_ids],
                        "origin": carried[i].origin} for i in ids])
