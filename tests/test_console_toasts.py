"""A notification that expires while a screen is being shown must not freeze the console.

Textual builds a toast with its notification's time left and starts the toast's timer when it is mounted; if
the notification expired in between (a screen closing just as a 5-second "saved" toast ends, under load), the
timer got a negative interval and Textual's timer loop spun forever: the console stopped reading keys for
good. The check runs in a child process with a deadline, because a frozen event loop cannot time itself out.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import asyncio, time
    import tui.app  # the console's fixes come with it
    from textual.app import App
    from textual.notifications import Notification
    from textual.widgets import Static
    from textual.widgets._toast import Toast

    class Probe(App):
        def compose(self):
            yield Static("ready")

    async def main():
        app = Probe()
        async with app.run_test() as pilot:
            expired = Notification("saved", timeout=0.01)
            time.sleep(0.05)  # it expires before its toast is built and mounted
            await app.screen.mount(Toast(expired))
            await pilot.pause(0.5)  # a frozen loop never comes back from here
            await pilot.press("x")
            for _ in range(50):  # and the toast still goes away by itself
                if not app.screen.query(Toast):
                    break
                await pilot.pause(0.1)
            print("responsive", "gone" if not app.screen.query(Toast) else "still shown")

    asyncio.run(main())
""")


def test_a_toast_whose_notification_already_expired_does_not_freeze_the_console():
    completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "responsive gone"
