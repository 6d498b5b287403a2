"""Where the job SQL lives is a rule the code keeps, not only a paragraph in docs/contributing.md.

Every ``ml_jobs`` statement of the production code is in :mod:`shared.db.ml_jobs`, so the job
lifecycle (statuses, lease, attempts, in-flight indexes) is read and changed in one place. Before
issue #15 it had drifted into five modules, each next to the code that called it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from shared.settings import REPO_ROOT

ML_JOBS_SQL = re.compile(r"\b(from|into|update|join)\s+(public\.)?ml_jobs\b", re.IGNORECASE)
PRODUCTION_PACKAGES = ("shared", "functions", "jobs")
HOME = Path("shared/db/ml_jobs.py")


def ml_jobs_statements(source: str) -> list[str]:
    """The string literals of ``source`` (f-strings included, docstrings not) that are SQL on ``ml_jobs``."""
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and ML_JOBS_SQL.search(node.value)]


def test_the_rule_recognises_ml_jobs_sql_and_ignores_prose() -> None:
    source = ('"""Docstrings may say: update ml_jobs."""\n'
              'def f(conn, job):\n'
              '    """Neither this: select * from ml_jobs."""\n'
              '    conn.execute(f"update ml_jobs set status = {job}")\n'
              '    return "the outcome is in ml_jobs"\n')
    assert ml_jobs_statements(source) == ["update ml_jobs set status = "]


def test_every_ml_jobs_statement_is_in_the_ml_jobs_module() -> None:
    elsewhere = {
        str(path.relative_to(REPO_ROOT))
        for package in PRODUCTION_PACKAGES for path in sorted((REPO_ROOT / package).rglob("*.py"))
        if path.relative_to(REPO_ROOT) != HOME and ml_jobs_statements(path.read_text())
    }
    assert not elsewhere, f"ml_jobs SQL belongs in {HOME}: {sorted(elsewhere)}"
    assert ml_jobs_statements((REPO_ROOT / HOME).read_text())
