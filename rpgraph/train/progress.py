"""Progress of a training run: a tqdm bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import math
import sys
import time


def duration(seconds: float) -> str:
    """``H:MM:SS``, with days past 24 hours; ``?`` when unknown or beyond 10,000 days.

    >>> duration(3725), duration(90000.4), duration(1e300), duration(float("inf"))
    ('1:02:05', '1d 1:00:00', '?', '?')
    """
    if not math.isfinite(seconds) or seconds < 0 or seconds >= 10_000 * 86400:
        return "?"
    m, s = divmod(round(seconds), 60)
    h, m = divmod(m, 60)
    d, h = divmod(h, 24)
    return (f"{d}d " if d else "") + f"{h}:{m:02d}:{s:02d}"


class Progress:
    """A tqdm bar on a terminal; plain lines (about every 10% or 5 s) otherwise."""

    def __init__(self, total: int, per_epoch: int, enabled: bool, start: int = 0) -> None:
        self.total, self.per_epoch, self.enabled = total, per_epoch, enabled
        self.tty = enabled and sys.stderr.isatty()
        self.t0 = time.perf_counter()
        self.start = start
        self.last_print = 0.0
        self.last_frac = -1.0
        self.bar = None
        if self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True,
                            file=sys.stderr)

    def update(self, step: int, loss: float) -> None:
        if not self.enabled:
            return
        # the epoch the last finished step belongs to (step 3 of 3 per epoch is epoch 1)
        epochs = max(1, self.total // max(self.per_epoch, 1))
        epoch = min(max(1, -(-step // max(self.per_epoch, 1))), epochs)
        if self.bar is not None:
            self.bar.n = step
            self.bar.set_postfix_str(f"epoch {epoch}/{epochs} loss {loss:.4g}", refresh=False)
            self.bar.refresh()
            return
        now = time.perf_counter()
        frac = step / max(self.total, 1)
        if step < self.total and now - self.last_print < 5 and frac - self.last_frac < 0.1:
            return
        self.last_print, self.last_frac = now, frac
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else math.inf
        eta_s = duration(eta)
        print(f"epoch {epoch}/{epochs}  step {step}/{self.total}  loss {loss:.6g}  "
              f"{rate:.1f} steps/s  ETA {eta_s}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

