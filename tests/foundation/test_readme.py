"""The README and docs/ stay true where a reader acts on them: the configuration table is the
generated one, the two commands run scripts that exist (and CI runs the test command), and every
link between the pages leads somewhere, since sections move between the README and docs/."""

from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path

import pytest

from shared.commands.config import markdown_table
from shared.settings import REPO_ROOT

README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def test_configuration_table_is_the_generated_one() -> None:
    assert markdown_table() in README.read_text(), "regenerate it: facecluster config --markdown"


def _two_commands() -> list[list[str]]:
    """The command lines of the README's "Two commands" code block."""
    text = README.read_text()
    section = text[text.index("\n## Two commands\n"):]
    start = section.index("```bash\n") + len("```bash\n")
    block = section[start:section.index("\n```", start)]
    return [shlex.split(line) for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_two_commands_run_scripts_that_exist_and_ci_runs_the_test_command() -> None:
    commands = _two_commands()
    assert len(commands) == 2
    for argv in commands:
        assert argv[0] == "bash" and (REPO_ROOT / argv[1]).is_file(), argv
    ci_commands = [line.removeprefix("exec ").strip()
                   for line in (REPO_ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("exec ")]
    assert ci_commands == [shlex.join(commands[1])], "CI must run exactly the README's test command"


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", page.read_text(), re.MULTILINE):
        text = re.sub(r"[`*]", "", heading).strip().lower()
        text = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
        anchors.add(text.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_relative_link_leads_to_a_file_and_heading_that_exist(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"
