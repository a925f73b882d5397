"""Progress for long work: a live line per view on a terminal, one summary line when piped."""
from __future__ import annotations

import sys
import time
from typing import IO, Any

_SPIN = "|/-\\"


class ViewProgress:
    """Reports materialization runs (anything with .view, .rows, .rate and .line())."""

    def __init__(self, out: IO[str] | None = None, tty: bool | None = None, interval: float = 0.1):
        self.out = out or sys.stderr
        self.summary_out = sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.interval = interval
        self._last = 0.0
        self._tick = 0

    def started(self, run: Any) -> None:
        self._last = 0.0
        self._draw(run, force=True)

    def advanced(self, run: Any) -> None:
        self._draw(run)

    def finished(self, run: Any) -> None:
        if self.tty:
            self.out.write("\r\x1b[2K")
            self.out.flush()
        try:
            self.summary_out.write(run.line() + "\n")
            self.summary_out.flush()
        except BrokenPipeError:  # `| head -1`: the reader left; the remaining views still run
            import os

            self.summary_out = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the run

    def _draw(self, run: Any, force: bool = False) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        self._tick += 1
        spin = _SPIN[self._tick % len(_SPIN)]
        self.out.write(f"\r\x1b[2K{spin} {run.view}: {run.rows:,} rows  {run.rate:,.0f} rows/s")
        self.out.flush()


class Elapsed:
    """`with Elapsed("building training set"):` a live elapsed-time line on a terminal, then a
    one-line timing on stderr; silent when piped (the command's own output says what it did)."""

    def __init__(self, label: str, out: IO[str] | None = None, tty: bool | None = None):
        self.label = label
        self.out = out or sys.stderr
        self.tty = self.out.isatty() if tty is None else tty
        self._stop: Any = None
        self._thread: Any = None

    def __enter__(self) -> Elapsed:
        self.began = time.monotonic()
        if self.tty:
            import threading

            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def _tick(self) -> None:
        i = 0
        while not self._stop.wait(0.1):
            i += 1
            self.out.write(f"\r\x1b[2K{_SPIN[i % len(_SPIN)]} {self.label}"
                           f" {time.monotonic() - self.began:.1f}s")
            self.out.flush()

    def __exit__(self, *exc: Any) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self.out.write(f"\r\x1b[2K{self.label}: {time.monotonic() - self.began:.1f}s\n")
            self.out.flush()
