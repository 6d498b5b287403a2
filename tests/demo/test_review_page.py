"""The review page in a real browser (Debian's Chromium via Playwright) against the demo's live stack.

It must show the persons the database has, and a merge and a rename done by clicking must
change the database. The screenshot is kept in test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from shared.localstack.demo import DemoSession
from shared.settings import Settings
from tests.demo.conftest import ARTIFACTS_DIR

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        raise pytest.UsageError(f"{CHROMIUM} is missing: run scripts/system-deps.sh (installs Debian's chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _persons_in_db(db: psycopg.Connection, event_id: uuid.UUID) -> dict[str, dict]:
    rows = db.execute("select id, status, display_name, face_count, merged_into from face_persons"
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
        page.goto(session.stack.urls.review)
        expect(page.locator("article.person").first).to_be_visible(timeout=30_000)

        persons = _persons_in_db(db, session.event_id)
        visible = {pid: row for pid, row in persons.items() if row["status"] in ("active", "ignored")}
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
        card.locator('input[name="display_name"]').fill("Sheldon Cooper")
        card.locator("button.save").first.click()
        expect(card.locator(".name")).to_have_text("Sheldon Cooper")
        assert _persons_in_db(db, session.event_id)[target]["display_name"] == "Sheldon Cooper"
        assert sorted(_shown_person_ids(page)) == sorted(
            pid for pid, row in _persons_in_db(db, session.event_id).items() if row["status"] != "merged")

        ARTIFACTS_DIR.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS_DIR / "review-page.png"), full_page=True)
        assert errors == []
