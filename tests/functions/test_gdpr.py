"""GDPR through face-person-actions: a member's own purge, and turning face recognition off or on."""

from __future__ import annotations

from tests.factories import make_media
from tests.functions.world import add_person, build_world, check_invariants


def _snapshot(db, event_id, exclude_user=None) -> dict:
    return {
        "faces": {r["id"] for r in db.execute(
            "select f.id from faces f left join face_persons p on p.id = f.person_id"
            " where f.event_id = %s and p.linked_user_id is distinct from %s", (event_id, exclude_user))},
        "tags": {(r["media_id"], r["user_id"], r["source"]) for r in db.execute(
            "select t.media_id, t.user_id, t.source from media_tags t join media m on m.id = t.media_id"
            " where m.event_id = %s and (t.user_id is distinct from %s or t.source = 'manual')",
            (event_id, exclude_user))},
    }


def test_a_member_purges_only_their_own_face_data_idempotently(db, actions_api, world) -> None:
    bobs = add_person(db, world.event, [world.media[1], world.media[2]], linked_user_id=world.bob)
    db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')",
               (world.media[0], world.alice))
    others_before = _snapshot(db, world.event, exclude_user=world.alice)
    response = actions_api.call({"action": "purge_my_data", "event_id": str(world.event)}, user=world.alice)
    assert response.status_code == 200
    assert response.get_json()["purged"] == {"faces_deleted": 2, "persons_deleted": 1, "tags_deleted": 2}
    assert _snapshot(db, world.event, exclude_user=world.alice) == others_before
    assert db.execute("select 1 from face_persons where id = %s", (bobs,)).fetchone() is not None
    assert db.execute("select source from media_tags where user_id = %s", (world.alice,)).fetchall() == [
        {"source": "manual"}]
    again = actions_api.call({"action": "purge_my_data", "event_id": str(world.event)}, user=world.alice)
    assert again.get_json()["purged"] == {"faces_deleted": 0, "persons_deleted": 0, "tags_deleted": 0}
    log = db.execute("select scope, user_id, requested_by from face_purge_log order by id").fetchall()
    assert log == [{"scope": "user", "user_id": world.alice, "requested_by": world.alice}] * 2
    check_invariants(db, world.event)
    outsider = actions_api.call({"action": "purge_my_data", "event_id": str(world.event)}, user=world.outsider)
    assert outsider.status_code == 403


def test_turning_face_recognition_off_purges_the_event_only(db, actions_api, world) -> None:
    other_event = build_world(db)
    other_before = _snapshot(db, other_event.event)
    db.execute("insert into ml_jobs (job_type, event_id, media_id, model) values ('detect', %s, %s, 'yunet-dlib')",
               (world.event, make_media(db, world.event)))
    body = {"action": "set_face_recognition", "event_id": str(world.event), "enabled": False}
    assert actions_api.call(body, user=world.alice).status_code == 403
    response = actions_api.call(body, user=world.organiser)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert result["face_recognition_enabled"] is False and result["jobs_cancelled"] == 1
    assert result["purged"]["faces_deleted"] == 8 and result["purged"]["persons_deleted"] == 3
    assert db.execute("select count(*) as n from faces where event_id = %s", (world.event,)).fetchone()["n"] == 0
    assert db.execute("select face_recognition_enabled from events where id = %s",
                      (world.event,)).fetchone()["face_recognition_enabled"] is False
    assert _snapshot(db, other_event.event) == other_before
    again = actions_api.call(body, user=world.organiser).get_json()
    assert again["purged"] == {"faces_deleted": 0, "persons_deleted": 0, "tags_deleted": 0}
    assert [r["requested_by"] for r in db.execute(
        "select requested_by from face_purge_log where scope = 'event'")] == [world.organiser] * 2


def test_turning_face_recognition_on_requires_consent(db, actions_api, world) -> None:
    db.execute("update events set face_recognition_enabled = false where id = %s", (world.event,))
    body = {"action": "set_face_recognition", "event_id": str(world.event), "enabled": True}
    refused = actions_api.call(body, user=world.organiser)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "consent_required"
    assert refused.get_json()["error"]["field"] == "consent"
    accepted = actions_api.call({**body, "consent": True}, user=world.organiser)
    assert accepted.status_code == 200 and accepted.get_json()["face_recognition_enabled"] is True
    assert db.execute("select face_recognition_enabled from events where id = %s",
                      (world.event,)).fetchone()["face_recognition_enabled"] is True


def test_a_member_who_purged_cannot_be_linked_again_until_they_opt_back_in(db, actions_api, world) -> None:
    assert actions_api.call({"action": "purge_my_data", "event_id": str(world.event)},
                            user=world.alice).status_code == 200
    stranger = add_person(db, world.event, [world.media[3]])
    assign = {"action": "assign", "event_id": str(world.event), "person_id": str(stranger),
              "user_id": str(world.alice)}
    refused = actions_api.call(assign, user=world.organiser)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "user_opted_out"
    assert refused.get_json()["error"]["field"] == "user_id"
    assert db.execute("select linked_user_id from face_persons where id = %s",
                      (stranger,)).fetchone()["linked_user_id"] is None

    # Only the member can lift it: the organiser's opt_in lifts nothing of Alice's.
    organisers = actions_api.call({"action": "opt_in", "event_id": str(world.event)}, user=world.organiser)
    assert organisers.get_json()["opt_out_lifted"] is False
    assert actions_api.call(assign, user=world.organiser).status_code == 409
    alices = actions_api.call({"action": "opt_in", "event_id": str(world.event)}, user=world.alice)
    assert alices.status_code == 200 and alices.get_json()["opt_out_lifted"] is True
    assert actions_api.call(assign, user=world.organiser).status_code == 200
    check_invariants(db, world.event)
