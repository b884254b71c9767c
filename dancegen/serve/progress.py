"""How far a generation is, read from the progress bars the pipelines already draw.

The families report progress with tqdm (`denoising`, and LRCM's `segments` around it). A
worker turns those bars on, sends their text to nowhere, and a thread reads the live bars a few
times a second: nested bars combine (outer n + inner fraction) / outer total. Nothing in the
pipelines changes, and a family without bars simply reports its stages.
"""

from __future__ import annotations

import contextlib
import io
import threading
from typing import Callable, Iterator

POLL_SECONDS = 0.25


def bars_fraction() -> tuple[float, str] | None:
    """(fraction done, the innermost bar's label) over the live tqdm bars; None when there are none."""
    from tqdm import tqdm

    bars = [bar for bar in list(getattr(tqdm, "_instances", ())) if getattr(bar, "total", None)]
    if not bars:
        return None
    bars.sort(key=lambda bar: abs(getattr(bar, "pos", 0)))  # outermost first
    fraction = 0.0
    for bar in reversed(bars):
        fraction = min(1.0, (bar.n + fraction) / bar.total)
    return fraction, str(bars[-1].desc or "generating")


class _Sink(io.TextIOBase):
    """Where the bars' text goes: they are read, not printed (a worker has no terminal)."""

    def write(self, text: str) -> int:
        return len(text)


@contextlib.contextmanager
def watch_progress(report: Callable[[float, str], None] | None) -> Iterator[None]:
    """Within the block, `report(fraction, label)` hears the bars' progress (none: a no-op)."""
    if report is None:
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        last = None
        while not stop.wait(POLL_SECONDS):
            now = bars_fraction()
            if now is not None and now != last:
                last = now
                report(*now)

    thread = threading.Thread(target=poll, name="progress", daemon=True)
    with contextlib.redirect_stderr(_Sink()):
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
