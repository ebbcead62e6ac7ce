"""Drive the console with Pilot and save a PNG of every main screen into screenshots/ (``make screenshots``).

Textual writes SVG; cairosvg turns it into PNG. The SVG asks for the Fira Code web font, which is not here
(and nothing may be fetched), so the font is pinned to DejaVu Sans Mono, which every machine of ours has, and
columns line up.
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import cairosvg  # noqa: E402

from store.audit import Actor  # noqa: E402
from store.demo import seed_demo  # noqa: E402
from store.directory import Directory  # noqa: E402
from tui.app import TuiApp  # noqa: E402

OUT = ROOT / "screenshots"
FONT = "DejaVu Sans Mono"


def svg_to_png(svg: str, target: Path) -> None:
    svg = re.sub(r"@font-face\s*{[^}]*}", "", svg)
    svg = svg.replace("Fira Code, monospace", f"{FONT}, monospace").replace('"Fira Code"', f'"{FONT}"')
    cairosvg.svg2png(bytestring=svg.encode(), write_to=str(target), output_width=1600)


async def shoot(directory: Directory, size: tuple[int, int]) -> list[Path]:
    app = TuiApp(directory)
    written = []

    async def save(name: str) -> None:
        await pilot.pause(0.6)
        target = OUT / f"{name}.png"
        svg_to_png(app.export_screenshot(), target)
        written.append(target)

    async with app.run_test(size=size) as pilot:
        await save("dashboard")
        await pilot.press("2")
        await save("users")
        await pilot.press("slash", *"dev")
        await save("users-filter")
        await pilot.press("escape", "escape", "down", "enter")
        await save("user-detail")
        await pilot.press("escape", "n")
        await pilot.press(*"new user")
        await pilot.press("enter")
        await save("user-form-error")
        await pilot.press("escape", "3")
        await save("groups")
        await pilot.press("4")
        await save("accounts")
        await pilot.press("5")
        await save("permission-sets")
        await pilot.press("e")
        await save("permission-set-form")
        await pilot.press("escape", "6")
        await save("assignments")
        await pilot.press("2", "d")
        await save("confirm-disable")
        await pilot.press("n", "question_mark")
        await save("help")
        await pilot.press("escape", "ctrl+p")
        await save("command-palette")
    return written


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        directory = Directory.open(Path(folder) / "demo.db", Actor("console:admin", "console"))
        seed_demo(directory)
        written = asyncio.run(shoot(directory, (120, 36)))
        directory.close()
    for path in written:
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
