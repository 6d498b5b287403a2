"""The README stays true: its configuration table and its two commands."""

from __future__ import annotations

from shared.commands.config import markdown_table
from shared.settings import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_configuration_table_is_the_generated_one() -> None:
    assert markdown_table() in README, "regenerate it: facecluster config --markdown"


def test_the_two_commands_exist_and_ci_runs_the_test_command() -> None:
    assert "bash scripts/demo.sh ../shared/data/faces" in README
    assert "bash scripts/test.sh" in README
    assert (REPO_ROOT / "scripts" / "demo.sh").exists()
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert "exec bash scripts/test.sh" in ci
