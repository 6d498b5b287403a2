"""A member's "not me" outlives merges and re-clustering (real photos, models, PostgreSQL, API)."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from shared.clustering.cluster_event import cluster_event
from shared.db.migrate import MIGRATIONS_DIR
from shared.face_analysis import DEFAULT_PACK
from shared.settings import get_settings
from tests.functions.conftest import FunctionClient
from tests.selfie.conftest import PhotoEvent, search


def _found(api: FunctionClient, event: PhotoEvent, who: str, user: uuid.UUID) -> list[str]:
    body = search(api, event.event, event.selfies[who].read_bytes(), user=user).get_json()
    return [p["person_id"] for p in body["persons"]]


def _not_me(db: psycopg.Connection, user: uuid.UUID) -> set[uuid.UUID]:
    return {r["person_id"] for r in db.execute("select person_id from face_person_not_me where user_id = %s",
                                               (user,))}


@pytest.mark.parametrize("action", ["merge", "accept_suggestion"])
def test_a_person_merged_away_takes_the_not_me_into_the_person_it_joins(
        db: psycopg.Connection, photo_event: PhotoEvent, selfie_api: FunctionClient,
        actions_api: FunctionClient, action: str) -> None:
    event = str(photo_event.event)
    beckham = _found(selfie_api, photo_event, "lfw_David_Beckham", photo_event.member)[0]
    amy = _found(selfie_api, photo_event, "bbt_amy", photo_event.member)[0]
    said = actions_api.call({"action": "not_me", "event_id": event, "person_id": beckham}, user=photo_event.member)
    assert said.status_code == 200
    pair = ({"person_id": beckham, "into_person_id": amy} if action == "merge"
            else {"person_id": beckham, "other_person_id": amy})
    merged = actions_api.call({"action": action, "event_id": event, **pair}, user=photo_event.organiser)
    assert merged.status_code == 200, merged.get_json()
    kept = merged.get_json()["person"]["id"]
    # Whichever person was kept now holds the rejected faces: never offered to that member,
    # from either selfie; the other member still finds it.
    assert _not_me(db, photo_event.member) >= {uuid.UUID(kept)}
    assert _found(selfie_api, photo_event, "lfw_David_Beckham", photo_event.member) == []
    assert _found(selfie_api, photo_event, "bbt_amy", photo_event.member) == []
    assert _found(selfie_api, photo_event, "bbt_amy", photo_event.other_member) == [kept]
    # "This is me" takes it back, on the person the member is now offered nothing of.
    claim = actions_api.call({"action": "this_is_me", "event_id": event, "person_id": kept}, user=photo_event.member)
    assert claim.status_code == 200 and uuid.UUID(kept) not in _not_me(db, photo_event.member)


def test_reclustering_keeps_a_person_said_not_me_with_its_faces(
        db: psycopg.Connection, photo_event: PhotoEvent, selfie_api: FunctionClient,
        actions_api: FunctionClient, monkeypatch: pytest.MonkeyPatch) -> None:
    beckham = _found(selfie_api, photo_event, "lfw_David_Beckham", photo_event.member)[0]
    said = actions_api.call({"action": "not_me", "event_id": str(photo_event.event), "person_id": beckham},
                            user=photo_event.member)
    assert said.status_code == 200
    faces = {r["id"] for r in db.execute("select id from faces where person_id = %s", (beckham,))}
    # A re-clustering that forms no person at all: every person nobody curated is dissolved.
    monkeypatch.setenv("MIN_CLUSTER_SIZE", "500")
    cluster_event(db, photo_event.event, get_settings(), DEFAULT_PACK)
    active = {r["id"] for r in db.execute("select id from face_persons where event_id = %s and status = 'active'",
                                          (photo_event.event,))}
    assert active == {uuid.UUID(beckham)}
    assert {r["id"] for r in db.execute("select id from faces where person_id = %s", (beckham,))} == faces
    assert _not_me(db, photo_event.member) == {uuid.UUID(beckham)}
    assert _found(selfie_api, photo_event, "lfw_David_Beckham", photo_event.member) == []


def test_the_migration_hands_not_me_left_on_merged_persons_to_their_targets(
        db: psycopg.Connection, photo_event: PhotoEvent, selfie_api: FunctionClient) -> None:
    """Merges made before merges carried "not me" left it on the merged person: the migration moves it on."""
    beckham = uuid.UUID(_found(selfie_api, photo_event, "lfw_David_Beckham", photo_event.member)[0])
    amy = uuid.UUID(_found(selfie_api, photo_event, "bbt_amy", photo_event.member)[0])
    db.execute("insert into face_person_not_me (event_id, person_id, user_id) values (%s, %s, %s)",
               (photo_event.event, beckham, photo_event.member))
    db.execute("update faces set person_id = %s where person_id = %s", (amy, beckham))
    db.execute("update face_persons set status = 'merged', merged_into = %s where id = %s", (amy, beckham))
    migration = next(MIGRATIONS_DIR.glob("*_not_me_follows_merges.sql")).read_text()
    db.execute(migration)
    db.execute(migration)  # idempotent
    assert _not_me(db, photo_event.member) == {beckham, amy}
    assert _not_me(db, photo_event.other_member) == set()
    assert _found(selfie_api, photo_event, "bbt_amy", photo_event.member) == []
    assert _found(selfie_api, photo_event, "bbt_amy", photo_event.other_member) == [str(amy)]
