"""Ctrl-C and SIGTERM stop the demo and every process it started, its servers' children included."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from shared.settings import REPO_ROOT

STARTUP_TIMEOUT = 240.0


def _start_demo(photos_dir: Path, env: dict[str, str], *extra: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    process = subprocess.Popen([sys.executable, "-m", "shared.cli", "demo", str(photos_dir), *extra],
                               cwd=REPO_ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line)
    threading.Thread(target=read, daemon=True).start()
    return process, lines


def _wait_for_line(process: subprocess.Popen[str], lines: queue.Queue[str], marker: str) -> list[str]:
    seen: list[str] = []
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            assert process.poll() is None, f"the demo exited early:\n{''.join(seen)}"
            continue
        seen.append(line)
        if marker in line:
            return seen
    raise AssertionError(f"no {marker!r} from the demo within {STARTUP_TIMEOUT:.0f} s:\n{''.join(seen)}")


def _alive(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.mark.parametrize(("sig", "when", "options", "expected_status"), [
    (signal.SIGTERM, "stack up", (), 130),                                  # mid-run, as a supervisor stops it
    (signal.SIGINT, "(Ctrl-C stops everything)", ("--keep-running",), 0),  # the normal end of --keep-running
], ids=["sigterm-mid-run", "ctrl-c-keep-running"])
def test_signal_stops_every_child(photos_dir: Path, demo_env: dict[str, str], sig: signal.Signals, when: str,
                                  options: tuple[str, ...], expected_status: int) -> None:
    process, lines = _start_demo(photos_dir, demo_env, *options)
    try:
        _wait_for_line(process, lines, when)
        children = psutil.Process(process.pid).children(recursive=True)
        assert len(children) >= 5, "the demo runs its servers as child processes"
        process.send_signal(sig)
        status = process.wait(timeout=60)
    finally:
        if process.poll() is None:  # the test failed with the demo running: its servers (own sessions) go too
            for child in psutil.Process(process.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child.kill()
            process.kill()
            process.wait()
    assert status == expected_status
    psutil.wait_procs(children, timeout=10)
    assert _alive(children) == []
