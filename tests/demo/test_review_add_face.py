"""The review page's "Add a missed face", in a real browser against the demo's live stack.

A group photo joins the demo's labelled photos; its faces cluster with the same characters'
other photos. The test then deletes one of them, as if detection had missed it, opens its photo
from the person's page (served by the review server), draws a box around the face and submits:
the face must be back, placed by the user in that person. A box on an empty area must show the
422 reason and change nothing.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
from playwright.sync_api import Browser, Page, expect

from localdev.stack.demo_session import DemoSession
from shared.settings import Settings
from tests.demo.conftest import ARTIFACTS_DIR

GROUP_PHOTO = Path("group_photos") / "images" / "faceapi_bbt1.jpg"   # Raj, Leonard, Howard, Sheldon; 1366x768
EMPTY_AREA = (40.0, 600.0, 220.0, 760.0)   # below the faces (all above y = 270): no face there


def _missed_face(db: psycopg.Connection, event: uuid.UUID, media: uuid.UUID) -> dict:
    """A face of the group photo in a person of at least two faces, not its representative."""
    face = db.execute(
        "select f.id, f.person_id, f.bbox from faces f join face_persons p on p.id = f.person_id"
        " where f.event_id = %s and f.media_id = %s and p.face_count >= 2 and p.representative_face_id <> f.id"
        " order by f.bbox[1] limit 1", (event, media)).fetchone()
    assert face is not None, "a face of the group photo should have joined a person of the demo's photos"
    return face


def _forget(db: psycopg.Connection, face: dict) -> None:
    """Detection "missed" it: the face goes, its person counts one fewer."""
    db.execute("delete from faces where id = %s", (face["id"],))
    db.execute("update face_persons set face_count = face_count - 1 where id = %s", (face["person_id"],))


def _draw(page: Page, box: tuple[float, float, float, float]) -> None:
    """Drag from the box's top-left to its bottom-right corner, the box in the photo's pixels."""
    image = page.locator("#photo-image")
    # Wait for the photo itself: an <img> whose fetch has not yet given it a src is already "complete".
    page.wait_for_function("() => document.getElementById('photo-image').naturalWidth > 0")
    natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    shown = image.bounding_box()
    assert shown is not None and natural[0] > 0
    sx, sy = shown["width"] / natural[0], shown["height"] / natural[1]
    page.mouse.move(shown["x"] + box[0] * sx, shown["y"] + box[1] * sy)
    page.mouse.down()
    page.mouse.move(shown["x"] + (box[0] + box[2]) / 2 * sx, shown["y"] + (box[1] + box[3]) / 2 * sy, steps=4)
    page.mouse.move(shown["x"] + box[2] * sx, shown["y"] + box[3] * sy, steps=4)
    page.mouse.up()


def _faces_of(db: psycopg.Connection, media: uuid.UUID) -> list[dict]:
    return db.execute("select id, person_id, origin, bbox from faces where media_id = %s order by id",
                      (media,)).fetchall()


def test_an_organiser_boxes_a_missed_face_on_the_photo(
        photos_dir: Path, faces_data_dir: Path, demo_settings: Settings, db: psycopg.Connection,
        browser: Browser) -> None:
    shutil.copy2(faces_data_dir / GROUP_PHOTO, photos_dir / GROUP_PHOTO.name)
    with DemoSession(photos_dir, demo_settings) as session:
        session.run()
        event = session.event_id
        media = db.execute("select id from media where event_id = %s and storage_path like %s",
                           (event, f"%{GROUP_PHOTO.name}")).fetchone()["id"]
        missed = _missed_face(db, event, media)
        person = missed["person_id"]

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(session.stack.urls.review)
        page.locator(f'article.person[data-person-id="{person}"] button.open').click()
        figure = page.locator(f'figure.person-face[data-face-id="{missed["id"]}"]')
        expect(figure).to_have_count(1, timeout=30_000)
        _forget(db, missed)

        figure.locator("button.open-photo").click()
        expect(page.locator("#photo-dialog")).to_be_visible()
        expect(page.locator("#photo-use-person")).to_be_checked()
        x1, y1, x2, y2 = missed["bbox"]
        margin = 0.1 * (x2 - x1)
        _draw(page, (x1 - margin, y1 - margin, x2 + margin, y2 + margin))
        page.locator("#photo-submit").click()
        expect(page.locator("#photo-status")).to_have_text("Face added to the person.", timeout=60_000)
        added = [f for f in _faces_of(db, media) if f["origin"] == "user"]
        assert len(added) == 1 and added[0]["person_id"] == person
        assert page.locator("#photo-dialog").get_attribute("data-face-id") == str(added[0]["id"])
        expect(page.locator(f'figure.person-face[data-face-id="{added[0]["id"]}"]')).to_have_count(1)
        expect(page.locator("#photo-found")).to_be_visible()
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / "review-add-face.png"))

        before = _faces_of(db, media)
        assert all(f["bbox"][1] < EMPTY_AREA[1] for f in before), "the empty area must hold no face"
        _draw(page, EMPTY_AREA)
        page.locator("#photo-submit").click()
        expect(page.locator("#photo-status")).to_contain_text("no face was found in the box")
        expect(page.locator("#photo-status")).to_contain_text("HTTP 422")
        assert _faces_of(db, media) == before
        page.locator("#photo-close").click()
        expect(page.locator("#photo-dialog")).to_be_hidden()
        assert errors == []
