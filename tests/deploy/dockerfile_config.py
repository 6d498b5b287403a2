"""The Dockerfile read as instructions per stage, for the tests that check it against the code,
the Cloud Build config and the build context (no Docker engine runs on these machines)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from shared.settings import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"


@dataclass
class Stage:
    """One build stage: its base and its instructions in order, continuations joined."""

    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def text(self) -> str:
        return "\n".join(f"{kw} {args}" for kw, args in self.instructions)

    def env(self) -> dict[str, str]:
        """The stage's ENV assignments (the KEY=value form, the only one this Dockerfile uses)."""
        return dict(item.partition("=")[::2] for args in self.all("ENV") for item in args.split())


def parse_dockerfile(path: Path = DOCKERFILE) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, each a list of (INSTRUCTION, arguments) with continuations joined."""
    logical, current = [], ""
    for line in path.read_text().splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            assert match, line
            stages.append(Stage(match.group(2) or str(len(stages)), match.group(1)))
        elif not stages and keyword == "ARG":
            name, _, default = args.partition("=")
            global_args[name] = default
        else:
            stages[-1].instructions.append((keyword, args.strip()))
    return global_args, stages


def context_sources(stages: list[Stage]) -> list[str]:
    """The sources of every COPY that reads the build context (not another stage), without a trailing slash."""
    return [source.rstrip("/") for stage in stages for copy in stage.all("COPY")
            if not copy.startswith("--from=") for source in copy.split()[:-1]]


def dockerignore_rules() -> list[str]:
    """The rules of .dockerignore, comments and blank lines left out."""
    return [line for line in DOCKERIGNORE.read_text().splitlines() if line and not line.startswith("#")]


def sent_to_builder() -> set[str]:
    """What .dockerignore lets through its leading ``*``: the ``!path`` exceptions, without a trailing slash."""
    return {line[1:].rstrip("/") for line in dockerignore_rules() if line.startswith("!")}
