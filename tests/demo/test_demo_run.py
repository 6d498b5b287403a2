"""The demo end to end on a small folder: its summary agrees with the database, reruns only add new photos."""

from __future__ import annotations

import io
import shutil
import uuid
from pathlib import Path

import pillow_heif
import psycopg
import pytest
from PIL import Image

from localdev import demo_queries
from localdev.stack.demo_session import DemoSession, demo_event_name
from localdev.stack.photos import find_photos
from shared.db.event_models import pin_event_model
from shared.face_analysis.errors import ModelFilesError
from shared.settings import Settings


def _counts(db: psycopg.Connection, event_id: object, model: str) -> dict[str, int]:
    row = db.execute(
        """
        select (select count(*) from media where event_id = %(e)s) as images,
               (select count(*) from faces where event_id = %(e)s and model = %(m)s) as faces,
               (select count(*) from face_persons where event_id = %(e)s and model = %(m)s
                   and status = 'active') as persons,
               (select count(*) from faces where event_id = %(e)s and model = %(m)s
                   and person_id is null) as unassigned,
               (select count(*) from media_analyses a join media m on m.id = a.media_id
                 where m.event_id = %(e)s and a.model = %(m)s) as analysed
        """, {"e": event_id, "m": model}).fetchone()
    return dict(row)


def _convert(photo: Path, suffix: str) -> None:
    """Re-save a JPEG as PNG or HEIC (as phones upload them), replacing it."""
    pillow_heif.register_heif_opener()
    with Image.open(photo) as image:
        image.save(photo.with_suffix(suffix))
    photo.unlink()


def test_demo_summary_matches_database_and_reruns_only_process_new_photos(
        photos_dir: Path, demo_settings: Settings, db: psycopg.Connection, faces_data_dir: Path) -> None:
    jpegs = sorted(photos_dir.rglob("*.jpg"))
    _convert(jpegs[0], ".heic")
    _convert(jpegs[-1], ".png")
    photos = find_photos(photos_dir)
    assert {photo.mime_type for photo in photos} == {"image/jpeg", "image/png", "image/heic"}
    progress = io.StringIO()
    with DemoSession(photos_dir, demo_settings, progress=progress) as session:
        first = session.run()
    counts = _counts(db, first.event_id, demo_settings.model_pack)
    assert first.images == first.new_images == first.processed == len(photos) == counts["images"]
    assert counts["analysed"] == len(photos) and first.failed == 0
    assert (first.faces, first.persons, first.unassigned) == (counts["faces"], counts["persons"], counts["unassigned"])
    assert first.faces >= len(photos) - 1, "the labelled photos each show a face"
    assert first.persons >= 2, "four identities should give more than one person"
    assert f"{len(photos)}/{len(photos)} images" in progress.getvalue()
    # The snapshot holds every person the database has, readable without a server.
    snapshot = first.snapshot_path.read_text()
    for person in db.execute("select id from face_persons where event_id = %s and status = 'active'",
                             (first.event_id,)):
        assert str(person["id"]) in snapshot

    with DemoSession(photos_dir, demo_settings) as session:
        second = session.run()
    assert second.event_id == first.event_id
    assert (second.new_images, second.processed, second.images) == (0, 0, len(photos))

    extra = next(p for p in sorted((faces_data_dir / "dev" / "bbt_leonard").glob("*.jpg")))
    shutil.copy2(extra, photos_dir / "new.jpg")
    # A photo cut short in transfer fails alone, and the summary says which and why.
    (photos_dir / "broken").mkdir()
    (photos_dir / "broken" / "cut.jpg").write_bytes(extra.read_bytes()[:3000])
    # The relay that stands in for an absent Pub/Sub emulator carries the new photos just as well.
    with DemoSession(photos_dir, demo_settings, pubsub="relay") as session:
        assert session.stack.pubsub_mode == "in-process relay"
        third = session.run()
    assert (third.new_images, third.processed, third.failed, third.images) == (2, 1, 1, len(photos) + 2)
    assert [photo for photo, _ in third.failures] == ["broken/cut.jpg"]
    assert third.failures[0][1].startswith("truncated: ")
    assert "  failed      broken/cut.jpg: truncated: " in third.render()
    assert _counts(db, first.event_id, demo_settings.model_pack)["analysed"] == len(photos) + 1


def test_missing_model_files_stop_the_demo_before_anything_starts(
        photos_dir: Path, demo_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACECLUSTER_MODEL_DIR", str(tmp_path / "no-models"))
    session = DemoSession(photos_dir, Settings.from_env())
    with pytest.raises(ModelFilesError, match="facecluster models fetch"):
        session.__enter__()
    assert session.stack.processes.processes == ()


def test_a_folder_whose_event_is_on_another_pack_continues_on_it(
        photos_dir: Path, demo_settings: Settings, db: psycopg.Connection) -> None:
    """After the default pack changed, a rerun keeps the event's pack rather than mixing two."""
    old_pack = "yunet-dlib"
    assert demo_settings.model_pack != old_pack
    event = demo_queries.create_event(db, demo_event_name(photos_dir.resolve()), uuid.uuid4())
    with db.transaction():
        pin_event_model(db, event.id, old_pack)
    progress = io.StringIO()
    with DemoSession(photos_dir, demo_settings, progress=progress) as session:
        summary = session.run()
    assert summary.event_id == event.id
    counts = _counts(db, event.id, old_pack)
    assert summary.processed == counts["analysed"] == counts["images"] and summary.faces == counts["faces"] > 0
    assert db.execute("select count(*) as n from faces where event_id = %s and model <> %s",
                      (event.id, old_pack)).fetchone()["n"] == 0
    assert f"facecluster reembed --event {event.id} --pack {demo_settings.model_pack}" in progress.getvalue()
