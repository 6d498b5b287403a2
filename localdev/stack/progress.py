"""The demo's progress line: images done of total, faces found, elapsed time, rate.

On a terminal it redraws one line in place; into a file or a CI log it prints a line at each
tenth of the way (and at the end) so the log stays short.
"""

from __future__ import annotations

from typing import TextIO

BAR_WIDTH = 28


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(done: int, total: int, faces: int, failed: int, elapsed: float) -> str:
    fraction = done / total if total else 1.0
    filled = round(BAR_WIDTH * fraction)
    rate = done / elapsed if elapsed > 0 else 0.0
    failures = f"  {failed} failed" if failed else ""
    return (f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} images  {faces} faces{failures}  "
            f"{format_duration(elapsed)}  {rate:.1f} img/s")


class ProgressBar:
    """Writes progress lines to ``stream``; :meth:`close` ends the line on a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._interactive = stream.isatty()
        self._last_decile = -1
        self._last_line = ""

    def update(self, done: int, total: int, faces: int, failed: int, elapsed: float) -> None:
        line = progress_line(done, total, faces, failed, elapsed)
        if self._interactive:
            if line != self._last_line:
                self._stream.write("\r" + line + "\x1b[K")
                self._stream.flush()
        else:
            decile = (10 * done // total) if total else 10
            if decile != self._last_decile:
                self._stream.write(line + "\n")
                self._stream.flush()
                self._last_decile = decile
        self._last_line = line

    def close(self) -> None:
        if self._interactive and self._last_line:
            self._stream.write("\n")
            self._stream.flush()
