"""Fixes for Textual behaviour that freezes the console, applied once when the console is imported.

Each fix says what goes wrong in Textual and why the fix is safe. Remove one when Textual fixes the cause.
"""

from __future__ import annotations

from textual import events
from textual.widgets._toast import Toast

# The shortest time a toast is shown: one that expired on its way to the screen flashes briefly and goes. Any
# positive interval keeps Textual's timer loop finite; a near-zero one could still be skipped by it, hence a
# quarter of a second.
MIN_TOAST_SECONDS = 0.25


def _toast_on_mount(self: Toast, _: events.Mount) -> None:
    # Textual's Toast reads its notification's time left when it is built and starts a timer for it when it is
    # mounted. A notification that expires in between gives the timer a negative interval, and
    # ``textual.timer.Timer._run`` then loops forever without yielding: the whole console froze (seen under
    # load, when a screen closes just as a 5-second "saved" toast expires). Clamp it.
    self.set_timer(max(self._timeout, MIN_TOAST_SECONDS), self._expire)


def apply() -> None:
    Toast._on_mount = _toast_on_mount  # type: ignore[method-assign]  # replaced on purpose (see above)
