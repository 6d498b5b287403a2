"""face-person-actions: links, merges, renames, ignores, face removals, each leaving faces and tags consistent."""

from __future__ import annotations

import threading
import uuid

from tests.functions.conftest import function_client
from tests.functions.world import add_person, check_invariants


def _act(api, world, user=None, **body):
    return api.call({"event_id": str(world.event), **{k: str(v) if isinstance(v, uuid.UUID) else v
                                                      for k, v in body.items()}},
                    user=user or world.organiser)


def _face_tags(db, user_id) -> set:
    return {r["media_id"] for r in db.execute("select media_id from media_tags where user_id = %s and source = 'face'",
                                              (user_id,))}


def test_assign_tags_every_media_once_and_unassign_keeps_manual_tags(db, actions_api, world) -> None:
    big = world.persons["big"]
    db.execute("insert into media_tags (media_id, user_id, source) values (%s, %s, 'manual')",
               (world.media[0], world.bob))
    first = _act(actions_api, world, action="assign", person_id=big, user_id=world.bob)
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["person"]["linked_user_id"] == str(world.bob)
    assert _face_tags(db, world.bob) == set(world.media[1:4])  # media 0 keeps its manual tag
    again = _act(actions_api, world, action="assign", person_id=big, user_id=world.bob).get_json()
    assert again["tags_added"] == 0 and again["tags_removed"] == 0
    check_invariants(db, world.event)
    _act(actions_api, world, action="unassign", person_id=big)
    assert _face_tags(db, world.bob) == set()
    assert db.execute("select source from media_tags where media_id = %s and user_id = %s",
                      (world.media[0], world.bob)).fetchone()["source"] == "manual"
    check_invariants(db, world.event)


def test_assign_needs_a_member_and_an_existing_person(actions_api, world) -> None:
    response = _act(actions_api, world, action="assign", person_id=world.persons["big"], user_id=world.outsider)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "user_id"
    response = _act(actions_api, world, action="assign", person_id=uuid.uuid4(), user_id=world.bob)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "person_not_found"


def test_merge_moves_faces_and_links_and_hides_the_secondary(db, actions_api, persons_api, world) -> None:
    response = _act(actions_api, world, action="merge", person_id=world.persons["alice"],
                    into_person_id=world.persons["big"])
    assert response.status_code == 200, response.get_json()
    target = response.get_json()["person"]
    assert (target["face_count"], target["linked_user_id"]) == (6, str(world.alice))
    assert _face_tags(db, world.alice) == set(world.media[0:5])
    secondary = db.execute("select * from face_persons where id = %s", (world.persons["alice"],)).fetchone()
    assert (secondary["status"], secondary["merged_into"], secondary["face_count"]) == (
        "merged", world.persons["big"], 0)
    listed = persons_api.call({"event_id": str(world.event)}, user=world.alice).get_json()["persons"]
    assert str(world.persons["alice"]) not in {p["id"] for p in listed}
    check_invariants(db, world.event)
    again = _act(actions_api, world, action="merge", person_id=world.persons["alice"],
                 into_person_id=world.persons["big"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "person_merged"


def test_merging_persons_of_different_users_needs_force(db, actions_api, world) -> None:
    bobs = add_person(db, world.event, [world.media[5]], linked_user_id=world.bob)
    refused = _act(actions_api, world, action="merge", person_id=bobs, into_person_id=world.persons["alice"])
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "link_conflict"
    forced = _act(actions_api, world, action="merge", person_id=bobs, into_person_id=world.persons["alice"],
                  force=True)
    assert forced.status_code == 200 and forced.get_json()["person"]["linked_user_id"] == str(world.alice)
    assert _face_tags(db, world.bob) == set()
    check_invariants(db, world.event)


def test_rename_ignore_unignore(db, actions_api, world) -> None:
    alice_person = world.persons["alice"]
    assert _act(actions_api, world, action="rename", person_id=alice_person,
                display_name="  Alice  ").get_json()["person"]["display_name"] == "Alice"
    assert _act(actions_api, world, action="rename", person_id=alice_person,
                display_name="x" * 201).status_code == 400
    assert _act(actions_api, world, action="ignore", person_id=alice_person).get_json()["person"]["status"] == "ignored"
    assert _face_tags(db, world.alice) == set()
    assert _act(actions_api, world, action="assign", person_id=alice_person, user_id=world.alice).status_code == 409
    assert _act(actions_api, world, action="unignore", person_id=alice_person).status_code == 200
    assert _face_tags(db, world.alice) == {world.media[1], world.media[4]}
    check_invariants(db, world.event)


def test_remove_face_takes_it_out_for_good(db, actions_api, world) -> None:
    alice_person = world.persons["alice"]
    face = db.execute("select id, media_id from faces where person_id = %s and media_id = %s",
                      (alice_person, world.media[4])).fetchone()
    db.execute("update face_persons set representative_face_id = %s where id = %s", (face["id"], alice_person))
    response = _act(actions_api, world, action="remove_face", person_id=alice_person, face_id=face["id"])
    assert response.status_code == 200 and response.get_json()["person"]["face_count"] == 1
    row = db.execute("select person_id, assignment, rejected_person_ids from faces where id = %s",
                     (face["id"],)).fetchone()
    assert (row["person_id"], row["assignment"], row["rejected_person_ids"]) == (None, None, [alice_person])
    assert _face_tags(db, world.alice) == {world.media[1]}
    check_invariants(db, world.event)
    again = _act(actions_api, world, action="remove_face", person_id=alice_person, face_id=face["id"])
    assert again.status_code == 404 and again.get_json()["error"]["field"] == "face_id"


def _run_together(calls) -> list:
    """Start every call at the same moment on its own thread (and its own app instance)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call):
        barrier.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def test_concurrent_opposite_merges_leave_one_merge(db, api_env, world) -> None:
    a, b = world.persons["big"], world.persons["small"]
    apis = [function_client("face_person_actions") for _ in range(2)]
    results = _run_together([
        lambda: _act(apis[0], world, action="merge", person_id=a, into_person_id=b),
        lambda: _act(apis[1], world, action="merge", person_id=b, into_person_id=a),
    ])
    assert sorted(r.status_code for r in results) == [200, 409]
    statuses = {r["id"]: r["status"] for r in db.execute("select id, status from face_persons where id = any(%s)",
                                                         ([a, b],))}
    assert sorted(statuses.values()) == ["active", "merged"]
    check_invariants(db, world.event)


def test_concurrent_assigns_merges_and_removals_stay_consistent(db, api_env, world) -> None:
    extra = [add_person(db, world.event, [world.media[i], world.media[(i + 2) % 6]]) for i in range(4)]
    first_face = db.execute("select id from faces where person_id = %s limit 1", (world.persons["big"],)).fetchone()
    apis = [function_client("face_person_actions") for _ in range(6)]
    results = _run_together([
        lambda: _act(apis[0], world, action="assign", person_id=world.persons["big"], user_id=world.bob),
        lambda: _act(apis[1], world, action="merge", person_id=extra[0], into_person_id=world.persons["big"]),
        lambda: _act(apis[2], world, action="merge", person_id=extra[1], into_person_id=world.persons["alice"]),
        lambda: _act(apis[3], world, action="assign", person_id=extra[2], user_id=world.alice),
        lambda: _act(apis[4], world, action="merge", person_id=extra[2], into_person_id=extra[3]),
        lambda: _act(apis[5], world, action="remove_face", person_id=world.persons["big"], face_id=first_face["id"]),
    ])
    assert all(r.status_code in (200, 409) for r in results), [r.get_json() for r in results]
    assert sum(r.status_code == 200 for r in results) >= 5
    check_invariants(db, world.event)
