"""ml-callback off the push request's critical path (issue #15): Pub/Sub's ack does not wait for
the signal, the signal still arrives afterwards, and a signal that never arrives is recovered
by the sweep. Real service (functions-framework app), real database, models and photos; the
ml-callback that holds or refuses is the loopback stand-in, the sweep is the real ml-callback."""

from __future__ import annotations

import socket
import uuid

import psycopg
import pytest
from flask.testing import FlaskClient

from shared.pipeline.job_signal import BackgroundSignals, JobOutcome, background_signals
from shared.settings import Settings
from tests.detection.conftest import job_row, make_detect_job
from tests.factories import make_event
from tests.functions.conftest import RecordingRunner, function_client, runner  # noqa: F401 (a fixture)
from tests.support.callbacks import CALLBACK_SECRET, CallbackRecorder


def closed_port_url() -> str:
    """A loopback URL nothing listens on: ml-callback is down (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/"


def test_a_slow_ml_callback_does_not_hold_the_ack(client: FlaskClient, db: psycopg.Connection, stored_photo: str,
                                                  detect_env: CallbackRecorder) -> None:
    detect_env.hold()   # ml-callback takes the signal's request and does not answer until released
    case = make_detect_job(db, stored_photo)

    response = client.post("/", json=case.envelope)

    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert job_row(db, case.job_id)["status"] == "completed"
    detect_env.wait_held(1)
    # Acknowledged while ml-callback still sat on the signal's first attempt: before this change
    # the request waited through four timed-out attempts (all four held here) before answering.
    assert detect_env.received == [] and detect_env.held == 1
    detect_env.release()
    [signal] = detect_env.wait_for(1)
    assert (signal["job_id"], signal["status"]) == (str(case.job_id), "completed")


def test_a_signal_lost_while_ml_callback_is_down_is_recovered_by_the_sweep(
        client: FlaskClient, db: psycopg.Connection, stored_photo: str, detect_env: CallbackRecorder,
        runner: RecordingRunner, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811 (the fixture)
    event_id = make_event(db)
    for _ in range(2):   # two photos of the event analysed while ml-callback was up: 8 faces
        earlier = make_detect_job(db, stored_photo, event_id=event_id)
        assert client.post("/", json=earlier.envelope).status_code == 200
    detect_env.wait_for(2)
    monkeypatch.setenv("CALLBACK_URL", closed_port_url())
    last = make_detect_job(db, stored_photo, event_id=event_id)   # 12 faces, every photo done: cluster now

    response = client.post("/", json=last.envelope)

    assert response.status_code == 200 and response.get_json()["status"] == "completed"
    assert background_signals().wait_idle(timeout=60)   # retried with backoff, then given up
    assert runner.starts == []
    sweep = function_client("ml_callback").call({"type": "sweep"},
                                                headers={"Authorization": f"Bearer {CALLBACK_SECRET}"})
    assert sweep.status_code == 200 and sweep.get_json()["sweep"]["clusters_started"] == 1
    [job] = db.execute("select id from ml_jobs where event_id = %s and job_type = 'cluster'", (event_id,)).fetchall()
    assert runner.starts == [(event_id, job["id"])]


def test_the_queue_is_bounded_and_stopping_drops_what_still_waits(detect_env: CallbackRecorder) -> None:
    settings = Settings.from_env()
    signals = BackgroundSignals(capacity=1)
    first, second, third = (JobOutcome(uuid.uuid4(), "detect", uuid.uuid4(), "completed", media_id=uuid.uuid4())
                            for _ in range(3))
    detect_env.hold()
    assert signals.submit(settings, first)
    detect_env.wait_held(1)                       # the thread is sending the first
    assert signals.submit(settings, second)       # waits in the queue
    assert not signals.submit(settings, third)    # the queue is full: dropped, the caller not delayed

    assert signals.stop() == 1                    # shutting down drops the one still queued
    assert not signals.submit(settings, third)
    detect_env.release()
    assert signals.wait_idle(timeout=30)
    assert [signal["job_id"] for signal in detect_env.received] == [str(first.job_id)]
