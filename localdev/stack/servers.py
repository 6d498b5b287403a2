"""The functions and the detection service as real ``functions-framework`` servers on loopback.

Each target runs in its own process, as on Cloud Run, so requests cross a real HTTP boundary
and every process reads its configuration from its environment like in production.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from localdev.stack.processes import ManagedProcess, free_port, start_process, wait_for_http
from shared.settings import REPO_ROOT

FUNCTIONS_SOURCE = REPO_ROOT / "functions" / "main.py"
# The detection service answers GET /health; the other targets answer any request once loaded.
READY_PATHS = {"detect_push": "/health"}


def reserve_ports(targets: tuple[str, ...]) -> dict[str, int]:
    """Pick the ports up front: servers need each other's URLs (CALLBACK_URL) in their environment."""
    return {target: free_port() for target in targets}


def function_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/"


def start_function(target: str, port: int, env: Mapping[str, str], log_dir: Path) -> ManagedProcess:
    """Start one target; the working directory is the repository so ``python -m jobs...`` resolves."""
    argv = [sys.executable, "-m", "functions_framework", f"--source={FUNCTIONS_SOURCE}", f"--target={target}",
            "--host=127.0.0.1", f"--port={port}"]
    return start_process(target.replace("_", "-"), argv, env=env, log_dir=log_dir, cwd=REPO_ROOT)


def wait_until_ready(target: str, process: ManagedProcess, port: int, timeout: float = 120.0) -> None:
    wait_for_http(process, function_url(port).rstrip("/") + READY_PATHS.get(target, "/"), timeout=timeout)
