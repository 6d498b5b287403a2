"""The review page in a real browser (Debian's Chromium via Playwright) against the demo's live stack.

It must show the persons the database has, and a merge, a rename, a link to a member, removing
a face and ignoring a person, each done by clicking, must change the database. The screenshot
is kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
from playwright.sync_api import Browser, Page, expect

from localdev.stack.demo_session import DemoSession
from shared.settings import Settings
from tests.demo.conftest import ARTIFACTS_DIR


def _persons_in_db(db: psycopg.Connection, event_id: uuid.UUID) -> dict[str, dict]:
    rows = db.execute("select id, status, display_name, face_count, merged_into, linked_user_id from face_persons"
                      " where event_id = %s", (event_id,)).fetchall()
    return {str(row["id"]): row for row in rows}


def _shown_person_ids(page: Page) -> list[str]:
    return page.locator("article.person").evaluate_all("cards => cards.map(c => c.dataset.personId)")


def test_review_page_shows_the_database_and_its_clicks_change_it(
        photos_dir: Path, demo_settings: Settings, db: psycopg.Connection, browser: Browser) -> None:
    with DemoSession(photos_dir, demo_settings) as session:
        session.run()
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Two persons per request: the list is only complete if paging (loading as you scroll) works.
        page.goto(session.stack.urls.review + "#pageSize=2")
        persons = _persons_in_db(db, session.event_id)
        visible = {pid: row for pid, row in persons.items() if row["status"] in ("active", "ignored")}
        expect(page.locator("article.person")).to_have_count(len(visible), timeout=30_000)
        expect(page.locator("#more")).to_be_hidden()
        assert sorted(_shown_person_ids(page)) == sorted(visible)
        for person_id, row in visible.items():
            card = page.locator(f'article.person[data-person-id="{person_id}"]')
            expect(card.locator(".counts")).to_contain_text(f"{row['face_count']} face")
        assert len(visible) >= 2, "a merge needs two persons"

        # Merge the first person shown into the second, by clicking.
        source, target = _shown_person_ids(page)[:2]
        page.locator(f'article.person[data-person-id="{source}"] button.merge').click()
        expect(page.locator("#merge-banner")).to_be_visible()
        page.locator(f'article.person[data-person-id="{target}"] button.merge-into').click()
        expect(page.locator(f'article.person[data-person-id="{source}"]')).to_have_count(0)
        merged = _persons_in_db(db, session.event_id)
        assert merged[source]["status"] == "merged" and str(merged[source]["merged_into"]) == target
        assert merged[target]["face_count"] == persons[source]["face_count"] + persons[target]["face_count"]

        # Rename the merged person.
        card = page.locator(f'article.person[data-person-id="{target}"]')
        card.locator("button.rename").click()
        card.locator('input[name="display_name"]').fill("Renamed in the browser")
        card.locator("button.save").first.click()
        expect(card.locator(".name")).to_have_text("Renamed in the browser")
        assert _persons_in_db(db, session.event_id)[target]["display_name"] == "Renamed in the browser"
        assert sorted(_shown_person_ids(page)) == sorted(
            pid for pid, row in _persons_in_db(db, session.event_id).items() if row["status"] != "merged")

        # Link them to the organiser, the member the demo offers.
        card.locator("button.assign").click()
        card.locator('select[name="member"]').select_option(str(session.event.owner_id))
        card.locator(".assign-form button.save").click()
        expect(card.locator(".member")).to_have_text("Linked to Organiser (you)")
        assert _persons_in_db(db, session.event_id)[target]["linked_user_id"] == session.event.owner_id

        # Take a wrong face out: it becomes unassigned.
        unassigned_before = db.execute("select count(*) as n from faces where event_id = %s and person_id is null",
                                       (session.event_id,)).fetchone()["n"]
        sample = card.locator(".sample").first
        face_id = sample.get_attribute("data-face-id")
        sample.hover()
        sample.locator("button.remove-face").click()
        expect(card.locator(f'.sample[data-face-id="{face_id}"]')).to_have_count(0)
        expect(page.locator("#unassigned-count")).to_have_text(f"({unassigned_before + 1})")
        assert db.execute("select person_id from faces where id = %s", (face_id,)).fetchone()["person_id"] is None
        assert _persons_in_db(db, session.event_id)[target]["face_count"] == merged[target]["face_count"] - 1

        # Ignore another person.
        other = next(pid for pid in _shown_person_ids(page) if pid != target)
        page.locator(f'article.person[data-person-id="{other}"] button.ignore').click()
        expect(page.locator(f'article.person[data-person-id="{other}"]')).to_have_attribute("data-status", "ignored")
        assert _persons_in_db(db, session.event_id)[other]["status"] == "ignored"

        ARTIFACTS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / "review-page.png"), full_page=True)
        assert errors == []
