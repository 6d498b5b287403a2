"""A self-contained copy of the review page: its code, its style and the data, in one HTML file.

Opened from disk it shows the persons as they were at the end of the run, without any server
(actions are disabled: there is nobody to send them to). It is what CI keeps as an artifact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from localdev.review.server import REVIEW_DIR

PAGE_SIZE = 200


def fetch_all_persons(persons_url: str, token: str, event_id: str, timeout: float = 60.0) -> dict[str, Any]:
    """Every page of ``face-persons`` (with the unassigned faces) merged into one response."""
    headers = {"Authorization": f"Bearer {token}"}
    params: dict[str, Any] = {"event_id": event_id, "limit": PAGE_SIZE, "offset": 0,
                              "include_unassigned": "true", "unassigned_limit": PAGE_SIZE}
    persons: list[dict[str, Any]] = []
    while True:
        response = requests.get(persons_url, params=params, headers=headers, timeout=timeout)
        response.raise_for_status()
        page = response.json()
        if params["offset"] == 0:
            first = page
        persons.extend(page["persons"])
        if page.get("next_offset") is None:
            break
        params = {**params, "offset": page["next_offset"], "include_unassigned": "false"}
    return {**first, "persons": persons, "next_offset": None}


# Inside <script>, the HTML parser still reacts to "</script" (ends the element) and to "<!--"
# followed by "<script" (the "double escaped" state, after which "</script>" no longer ends it:
# the rest of the page became script and no person card rendered). Data is JSON whose every
# "<", ">" and "&" is written as a \u escape, so no display name can form either sequence;
# U+2028/U+2029 are escaped by ensure_ascii. The page's own code gets the two sequences broken.
_HTML_SENSITIVE = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def _inline_script(js: str) -> str:
    return "<script>\n" + js.replace("</script", "<\\/script").replace("<!--", "<\\!--") + "\n</script>"


def script_json(value: Any) -> str:
    """``value`` as a JavaScript expression that is inert inside an HTML ``<script>`` element."""
    return json.dumps(value, ensure_ascii=True).translate(_HTML_SENSITIVE)


def render_snapshot(data: dict[str, Any], meta: dict[str, Any]) -> str:
    """The page with style.css, app.js and the data inlined in place of their references."""
    page = (REVIEW_DIR / "index.html").read_text()
    style = (REVIEW_DIR / "style.css").read_text()
    app = (REVIEW_DIR / "app.js").read_text()
    snapshot = {"data": data, "meta": meta}
    data_js = "window.FACECLUSTER_SNAPSHOT = " + script_json(snapshot) + ";"
    replacements = {
        '<link rel="stylesheet" href="style.css">': "<style>\n" + style + "\n</style>",
        '<script src="config.js"></script>': _inline_script(data_js),
        '<script src="app.js"></script>': _inline_script(app),
        '<script src="selfie.js"></script>': "",   # "Find me" needs the live functions: not in a snapshot
        '<script src="photo.js"></script>': "",    # so does "Add a missed face" (and the photos)
    }
    for reference, inline in replacements.items():
        if reference not in page:
            raise ValueError(f"index.html no longer contains {reference!r}: update the snapshot writer")
        page = page.replace(reference, inline)
    return page


def write_snapshot(path: Path, data: dict[str, Any], meta: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(render_snapshot(data, meta), encoding="utf-8")
    partial.replace(path)
    return path
