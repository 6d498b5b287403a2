"""The review page's "Find me" panel in a real browser (Debian's Chromium via Playwright), live stack.

The demo's organiser picks a selfie taken apart from the event's photos: the panel must show the
person the database holds for that identity, "This is me" must link it in the database, and
"Not me" must record the verdict so that the same selfie then finds nobody for them.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from playwright.sync_api import Browser, expect

from localdev.stack.demo_session import DemoSession
from shared.settings import Settings
from tests.demo.conftest import ARTIFACTS_DIR, PHOTOS_PER_IDENTITY


def _selfie(faces_data_dir: Path, identity: str) -> Path:
    """A photo of the identity that is not among the event's (the demo copies the first ones)."""
    return sorted((faces_data_dir / "dev" / identity).glob("*.jpg"))[PHOTOS_PER_IDENTITY]


def _person_of(db: psycopg.Connection, event_id: uuid.UUID, person_id: str) -> dict:
    return db.execute("select linked_user_id, (select array_agg(distinct m.storage_path) from faces f"
                      " join media m on m.id = f.media_id where f.person_id = p.id) as paths"
                      " from face_persons p where p.id = %s and p.event_id = %s", (person_id, event_id)).fetchone()


def test_find_me_panel_finds_the_person_and_records_this_is_me_and_not_me(
        photos_dir: Path, faces_data_dir: Path, demo_settings: Settings, db: psycopg.Connection,
        browser: Browser) -> None:
    with DemoSession(photos_dir, demo_settings) as session:
        session.run()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(session.stack.urls.review)
        expect(page.locator("#find-me")).to_be_visible(timeout=30_000)
        expect(page.locator("article.person").first).to_be_visible(timeout=30_000)

        # "This is me": the panel shows Sheldon's person; clicking links it to the organiser.
        page.locator("#selfie-file").set_input_files(str(_selfie(faces_data_dir, "bbt_sheldon")))
        match = page.locator("#find-me-result article.match")
        expect(match).to_have_count(1, timeout=60_000)
        person_id = match.get_attribute("data-person-id")
        person = _person_of(db, session.event_id, person_id)
        assert person["paths"] and all("sheldon" in path for path in person["paths"])
        expect(page.locator("#find-me-result li")).to_have_count(len(person["paths"]))
        match.locator("button.this-is-me").click()
        expect(match.locator(".answered")).to_have_text("Linked to you")
        assert _person_of(db, session.event_id, person_id)["linked_user_id"] == session.event.owner_id
        expect(page.locator(f'article.person[data-person-id="{person_id}"] .member')).to_have_text(
            "Linked to Organiser (you)")

        # "Not me" on Penny's person: recorded, and the same selfie then finds nobody.
        penny = _selfie(faces_data_dir, "bbt_penny")
        page.locator("#selfie-file").set_input_files(str(penny))
        expect(match).to_have_count(1, timeout=60_000)
        penny_id = match.get_attribute("data-person-id")
        assert penny_id != person_id
        match.locator("button.not-me").click()
        expect(match.locator(".answered")).to_have_text("Will not be offered again")
        assert db.execute("select count(*) as n from face_person_not_me where person_id = %s and user_id = %s",
                          (penny_id, session.event.owner_id)).fetchone()["n"] == 1
        page.locator("#selfie-file").set_input_files(str(penny))
        expect(page.locator("#find-me-status")).to_have_text("No photo of you was found.", timeout=60_000)
        expect(match).to_have_count(0)

        # A photo without a face: the reason is shown, nothing breaks.
        page.locator("#selfie-file").set_input_files(
            files=[{"name": "wall.txt", "mimeType": "image/jpeg", "buffer": b"not an image"}])
        expect(page.locator("#notice")).to_contain_text("cannot be read as a photo")

        ARTIFACTS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / "review-find-me.png"), full_page=True)
        assert errors == []
