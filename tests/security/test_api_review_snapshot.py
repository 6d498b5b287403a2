"""The demo's HTML snapshot with hostile display names, in a real browser (issue #13, item 8).

Persons named to break out of the inline ``<script>`` (``<!--<script>``, ``</script>``, line
separators, HTML) come from the real face-persons endpoint on loopback, are written by the
snapshot writer and opened from disk in Chromium: every person card renders, each name is shown
as the text it is, and nothing in the data ran as script.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import functions_framework
import psycopg
from playwright.sync_api import Browser, expect

from localdev.review.snapshot import fetch_all_persons, write_snapshot
from tests.functions.conftest import MAIN_SOURCE, mint_token
from tests.functions.world import World, add_person
from tests.support.loopback import serve_wsgi

HOSTILE_NAMES = (
    "<!--<script>",
    "<!--",
    "</script><script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned = 'img'\">",
    "\u2028\u2029 separators \u2028",
    "]]> --> <!-- <script>",
    "&lt;b&gt; &amp; &#60;",
    "\"'`${window.__pwned = 'template'}",
    "\\u003c/script\\u003e",
)


def test_no_display_name_breaks_or_scripts_the_snapshot(world: World, db: psycopg.Connection, tmp_path: Path,
                                                        browser: Browser) -> None:
    for name in HOSTILE_NAMES:
        add_person(db, world.event, [world.media[0]], display_name=name)
    with serve_wsgi(functions_framework.create_app(target="face_persons", source=MAIN_SOURCE)) as url:
        data = fetch_all_persons(url + "/", mint_token(world.organiser), str(world.event))
    expected_cards = len(data["persons"])
    assert expected_cards == 3 + len(HOSTILE_NAMES)
    meta = {"title": "<!--<script>", "createdAt": "</script><!--", "members": [
        {"id": str(world.alice), "label": "</script><script>window.__pwned = 'member'</script>"}]}
    path = write_snapshot(tmp_path / "snapshot.html", data, meta)

    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.as_uri())

    expect(page.locator("article.person")).to_have_count(expected_cards)
    shown = page.locator("article.person .name").all_text_contents()
    for name in HOSTILE_NAMES:
        assert name in shown, name
    expect(page.locator("#event-title")).to_have_text("<!--<script>")
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img[src='x']").count() == 0
    assert errors == []
    page.close()


def test_the_snapshot_holds_no_raw_markup_from_the_data(tmp_path: Path) -> None:
    person = {"id": str(uuid.uuid4()), "display_name": "</script><!--<script>", "status": "active"}
    html = write_snapshot(tmp_path / "s.html", {"persons": [person]}, {"title": "&<>"}).read_text()
    data_line = next(line for line in html.splitlines() if line.startswith("window.FACECLUSTER_SNAPSHOT"))
    assert not {"<", ">", "&", "\u2028"} & set(data_line)
