"""Job leases on a real database: claims, duplicates, expiry, attempts."""

from __future__ import annotations

import threading

import pytest

from shared.db.connection import connect
from shared.db.ml_jobs import ClaimOutcome, claim_job, complete_job, fail_job, release_job
from tests.factories import make_event, make_media


@pytest.fixture
def job_id(db):
    event = make_event(db)
    media = make_media(db, event)
    return db.execute("insert into ml_jobs (job_type, event_id, media_id, model, max_attempts)"
                      " values ('detect', %s, %s, 'yunet-dlib', 2) returning id", (event, media)).fetchone()["id"]


def test_claim_then_duplicate_is_busy_then_done_after_completion(db, job_id) -> None:
    first = claim_job(db, job_id, "w1", 60)
    assert first.outcome is ClaimOutcome.CLAIMED
    assert first.job["status"] == "processing" and first.job["attempts"] == 1 and first.job["started_at"]
    assert claim_job(db, job_id, "w2", 60).outcome is ClaimOutcome.BUSY
    assert complete_job(db, job_id, "w1", {"faces": 2})["status"] == "completed"
    duplicate = claim_job(db, job_id, "w2", 60)
    assert duplicate.outcome is ClaimOutcome.DONE and duplicate.job["result"] == {"faces": 2}


def test_an_expired_lease_is_claimable_and_the_old_worker_cannot_finish(db, job_id) -> None:
    claim_job(db, job_id, "dead-worker", 60)
    db.execute("update ml_jobs set lease_expires_at = now() - interval '1 second' where id = %s", (job_id,))
    second = claim_job(db, job_id, "w2", 60)
    assert second.outcome is ClaimOutcome.CLAIMED and second.job["attempts"] == 2
    assert complete_job(db, job_id, "dead-worker", {"faces": 9}) is None
    assert complete_job(db, job_id, "w2", {"faces": 1})["result"] == {"faces": 1}


def test_attempts_run_out(db, job_id) -> None:
    claim_job(db, job_id, "w1", 60)
    assert release_job(db, job_id, "w1", "storage unavailable")["status"] == "pending"
    claim_job(db, job_id, "w2", 60)
    released = release_job(db, job_id, "w2", "storage unavailable")
    assert released["status"] == "failed" and released["completed_at"] is not None


def test_a_dead_worker_on_the_last_attempt_fails_the_job(db, job_id) -> None:
    for worker in ("w1", "w2"):
        claim_job(db, job_id, worker, 60)
        db.execute("update ml_jobs set lease_expires_at = now() - interval '1 second' where id = %s", (job_id,))
    claim = claim_job(db, job_id, "w3", 60)
    assert claim.outcome is ClaimOutcome.EXHAUSTED
    assert claim.job["status"] == "failed" and "gave up after 2 attempts" in claim.job["error"]


def test_permanent_failure_is_final(db, job_id) -> None:
    claim_job(db, job_id, "w1", 60)
    assert fail_job(db, job_id, "w1", "not an image")["status"] == "failed"
    assert claim_job(db, job_id, "w2", 60).outcome is ClaimOutcome.DONE


def test_concurrent_claims_give_exactly_one_lease(database_url, job_id) -> None:
    outcomes: list[ClaimOutcome] = []
    barrier = threading.Barrier(6)

    def claim(worker: str) -> None:
        with connect(database_url) as conn:
            barrier.wait()
            outcomes.append(claim_job(conn, job_id, worker, 60).outcome)
            conn.commit()

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.value for o in outcomes) == ["busy"] * 5 + ["claimed"]


def test_failing_an_events_open_jobs_leaves_finished_jobs_and_other_events_alone(db, job_id) -> None:
    from shared.db.ml_jobs import fail_open_jobs

    claim_job(db, job_id, "w1", 60)
    event = db.execute("select event_id from ml_jobs where id = %s", (job_id,)).fetchone()["event_id"]
    done = db.execute("insert into ml_jobs (job_type, event_id, status) values ('cluster', %s, 'completed')"
                      " returning id", (event,)).fetchone()["id"]
    other_event = make_event(db)
    other = db.execute("insert into ml_jobs (job_type, event_id) values ('cluster', %s) returning id",
                       (other_event,)).fetchone()["id"]
    assert fail_open_jobs(db, event, "turned off") == 1
    assert claim_job(db, job_id, "w2", 60).outcome is ClaimOutcome.DONE
    assert complete_job(db, job_id, "w1", {"faces": 1}) is None  # the worker that held it writes nothing
    statuses = {r["id"]: r["status"] for r in db.execute("select id, status from ml_jobs")}
    assert statuses == {job_id: "failed", done: "completed", other: "pending"}
