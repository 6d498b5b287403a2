"""The review page's suggestions strip and a person's page, in a real browser against the demo's live stack.

The demo's photos cluster into whole persons, so the test splits two of them as precision-first
clustering does (the face nearest a person's centre moved into a person of its own); the page
must offer each pair, and "Different", "Same person" and "Not this person", clicked, must
change the database.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from playwright.sync_api import Browser, Page, expect

from localdev.stack.demo_session import DemoSession
from shared.settings import Settings
from tests.demo.conftest import ARTIFACTS_DIR


def split_off_central_face(db: psycopg.Connection, person_id: uuid.UUID) -> uuid.UUID:
    """Move the person's face nearest its centre into a new person, as a split clustering leaves it."""
    face = db.execute(
        "select f.id, f.event_id, f.model from faces f where f.person_id = %(p)s order by f.embedding <=>"
        " (select avg(embedding) from faces where person_id = %(p)s), f.id limit 1", {"p": person_id}).fetchone()
    piece = db.execute("insert into face_persons (event_id, model, face_count, status) values (%s, %s, 1, 'active')"
                       " returning id", (face["event_id"], face["model"])).fetchone()["id"]
    db.execute("update faces set person_id = %s where id = %s", (piece, face["id"]))
    db.execute("update face_persons set representative_face_id = %s where id = %s", (face["id"], piece))
    db.execute("update face_persons p set face_count = face_count - 1, representative_face_id ="
               " (select id from faces where person_id = p.id order by quality desc, id limit 1) where id = %s",
               (person_id,))
    return piece


def _suggestion(page: Page, a: uuid.UUID, b: uuid.UUID):
    low, high = sorted((str(a), str(b)))
    return page.locator(f'article.suggestion[data-a="{low}"][data-b="{high}"]')


def test_suggestions_strip_and_person_page_change_the_database(
        photos_dir: Path, demo_settings: Settings, db: psycopg.Connection, browser: Browser) -> None:
    with DemoSession(photos_dir, demo_settings) as session:
        session.run()
        event = session.event_id
        largest = [r["id"] for r in db.execute(
            "select id from face_persons where event_id = %s and status = 'active' and face_count >= 3"
            " order by face_count desc, id", (event,))]
        assert len(largest) >= 2, "the demo's photos should give at least two persons of three faces"
        first, second = largest[:2]
        first_piece, second_piece = split_off_central_face(db, first), split_off_central_face(db, second)

        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(session.stack.urls.review + "#pageSize=2")
        expect(_suggestion(page, first, first_piece)).to_have_count(1, timeout=30_000)
        expect(_suggestion(page, second, second_piece)).to_have_count(1)
        expect(_suggestion(page, first, first_piece).locator("img.rep")).to_have_count(2)
        ARTIFACTS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / "review-suggestions.png"), full_page=True)

        # "Different": remembered, and the pair leaves the strip.
        _suggestion(page, first, first_piece).locator("button.different").click()
        expect(_suggestion(page, first, first_piece)).to_have_count(0)
        low, high = sorted((first, first_piece))
        assert db.execute("select 1 from face_person_distinctions where person_a = %s and person_b = %s",
                          (low, high)).fetchone() is not None

        # "Same person": the piece goes back into the person.
        _suggestion(page, second, second_piece).locator("button.same").click()
        expect(_suggestion(page, second, second_piece)).to_have_count(0)
        merged = db.execute("select status, merged_into from face_persons where id = %s", (second_piece,)).fetchone()
        assert merged == {"status": "merged", "merged_into": second}
        expect(page.locator("#suggestions-section")).to_be_hidden()

        # The person's page: every face, two per request, then "Not this person" on one.
        faces = [str(r["id"]) for r in db.execute("select id from faces where person_id = %s", (second,))]
        page.locator(f'article.person[data-person-id="{second}"] button.open').click()
        expect(page.locator("#person-page")).to_be_visible()
        loaded = min(2, len(faces))
        expect(page.locator("figure.person-face")).to_have_count(loaded)
        while loaded < len(faces):
            page.locator("#person-load-more").click()
            loaded = min(loaded + 2, len(faces))
            expect(page.locator("figure.person-face")).to_have_count(loaded)
        expect(page.locator("#person-more")).to_be_hidden()
        shown = page.locator("figure.person-face").evaluate_all("fs => fs.map(f => f.dataset.faceId)")
        assert sorted(shown) == sorted(faces)
        wrong = shown[-1]
        page.locator(f'figure.person-face[data-face-id="{wrong}"] button.not-this-person').click()
        expect(page.locator(f'figure.person-face[data-face-id="{wrong}"]')).to_have_count(0)
        expect(page.locator("figure.person-face")).to_have_count(len(faces) - 1)
        row = db.execute("select person_id, rejected_person_ids from faces where id = %s", (wrong,)).fetchone()
        assert row["person_id"] is None and second in row["rejected_person_ids"]
        page.screenshot(path=str(ARTIFACTS_DIR / "review-person-page.png"), full_page=True)
        page.locator("#person-back").click()
        expect(page.locator(f'article.person[data-person-id="{second}"]')).to_be_visible()
        assert errors == []
