"""Keep face-sourced ``media_tags`` equal to what the persons say.

The rule (one place, used after every change to persons or face memberships): a tag
``(media, user, source='face')`` exists exactly while some face on that media belongs to an
active person linked to that user, and that user may be recognised in the event (a member who
has not opted out: ``may_be_recognised``, which the database enforces on every new face tag).
Recomputing it for the affected media, instead of adding and removing tags at each call site,
is what keeps merges, removals, re-clustering and purges consistent: a face leaving a person
removes a tag only when no other face of that user supports it, and ``manual`` tags are never
read or written here.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

import psycopg

_SUPPORTED_TAGS = """
    select distinct on (f.media_id, p.linked_user_id)
           f.media_id, p.linked_user_id as user_id, p.id as person_id
      from faces f
      join face_persons p on p.id = f.person_id
     where p.status = 'active' and p.linked_user_id is not null
       and f.media_id = any(%(media_ids)s) and may_be_recognised(f.event_id, p.linked_user_id)
     order by f.media_id, p.linked_user_id, p.face_count desc, p.id
"""


def sync_face_tags(conn: psycopg.Connection, media_ids: Collection[uuid.UUID]) -> dict[str, int]:
    """Bring the face tags of ``media_ids`` in line with persons; return counts added/removed."""
    ids = list(media_ids)
    if not ids:
        return {"tags_added": 0, "tags_removed": 0}
    removed = conn.execute(
        f"""
        delete from media_tags t
         where t.source = 'face' and t.media_id = any(%(media_ids)s)
           and not exists (select 1 from ({_SUPPORTED_TAGS}) s
                            where s.media_id = t.media_id and s.user_id = t.user_id)
        """,
        {"media_ids": ids},
    ).rowcount
    added = conn.execute(
        f"""
        insert into media_tags (media_id, user_id, source, person_id)
        select s.media_id, s.user_id, 'face', s.person_id from ({_SUPPORTED_TAGS}) s
        on conflict (media_id, user_id) do update
           set person_id = excluded.person_id
         where media_tags.source = 'face' and media_tags.person_id is distinct from excluded.person_id
        """,
        {"media_ids": ids},
    ).rowcount
    return {"tags_added": added, "tags_removed": removed}


def media_of_persons(conn: psycopg.Connection, person_ids: Collection[uuid.UUID]) -> list[uuid.UUID]:
    """Media that have a face of any of these persons (the media whose tags a change may affect)."""
    rows = conn.execute("select distinct media_id from faces where person_id = any(%s)", (list(person_ids),))
    return [row["media_id"] for row in rows]
