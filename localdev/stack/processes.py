"""Child processes that always go away: each in its own process group, stopped as a group.

Every server of the local stack runs in a new session, so a Ctrl-C in the terminal reaches only
the demo, which then stops its children in order; and stopping a child stops what *it* started
too (ml-callback starts the clustering job as its own subprocess). ``SIGTERM`` is turned into
the same orderly exit as Ctrl-C by :func:`exit_on_sigterm`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psutil
import requests

from shared.errors import OperatorError

logger = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 8.0


class ProcessStartError(OperatorError):
    """A child process exited or never became ready; the message points at its log."""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ManagedProcess:
    """One child process with its log file; :meth:`stop` ends it and all its descendants."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def check_running(self) -> None:
        if not self.running():
            raise ProcessStartError(f"{self.name} exited with status {self.popen.returncode} "
                                    f"(log: {self.log_path}):\n{self.log_tail()}")

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left of it and of its descendants."""
        try:
            descendants = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        for child in descendants:  # some may have moved to their own group
            with contextlib.suppress(psutil.Error):
                child.terminate()
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            logger.warning("process did not stop in time; killing it", extra={"process": self.name})
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        _, alive = psutil.wait_procs(descendants, timeout=grace)
        for child in alive:
            with contextlib.suppress(psutil.Error):
                child.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace)
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]


def start_process(name: str, argv: Sequence[str], *, env: Mapping[str, str], log_dir: Path,
                  cwd: Path | None = None) -> ManagedProcess:
    """Start ``argv`` in its own session with stdout and stderr going to ``<log_dir>/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log_file = log_path.open("ab")
    popen = subprocess.Popen(list(argv), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL, stdout=log_file,
                             stderr=subprocess.STDOUT, start_new_session=True)
    logger.debug("started process", extra={"process": name, "pid": popen.pid})
    return ManagedProcess(name, popen, log_path, log_file)


def wait_for_http(process: ManagedProcess, url: str, timeout: float = 60.0) -> None:
    """Wait until ``url`` answers at all (any status): the server is listening and has imported its code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check_running()
        try:
            requests.get(url, timeout=2)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise ProcessStartError(f"{process.name} did not answer at {url} within {timeout:.0f} s "
                            f"(log: {process.log_path}):\n{process.log_tail()}")


def wait_for_port(process: ManagedProcess, port: int, timeout: float = 30.0) -> None:
    """Wait until something accepts TCP connections on the loopback ``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.check_running()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise ProcessStartError(f"{process.name} did not listen on port {port} within {timeout:.0f} s "
                            f"(log: {process.log_path}):\n{process.log_tail()}")


class ProcessGroup:
    """Processes started together and stopped together, newest first (servers before what they use)."""

    def __init__(self) -> None:
        self._processes: list[ManagedProcess] = []

    def add(self, process: ManagedProcess) -> ManagedProcess:
        self._processes.append(process)
        return process

    @property
    def processes(self) -> tuple[ManagedProcess, ...]:
        return tuple(self._processes)

    def check_running(self) -> None:
        for process in self._processes:
            process.check_running()

    def stop_all(self) -> None:
        # Ctrl-C during shutdown must not leave the rest running: finish the loop regardless.
        with _signals_deferred():
            while self._processes:
                self._processes.pop().stop()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ignore SIGINT/SIGTERM while stopping children (only possible in the main thread)."""
    try:
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C (``KeyboardInterrupt``) so ``finally`` blocks stop the children."""
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
