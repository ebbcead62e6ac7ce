"""A checkbox that reads ticked or not without colour: ``[x]`` / ``[ ]``.

Textual's Checkbox draws ``▐X▌`` either way and shows the state only by colour, so in a plain terminal (or
with ``NO_COLOR``) an unticked "Sync: disable the gone" looks ticked.
"""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class PlainCheckbox(Checkbox):
    @property
    def _button(self) -> Content:  # Textual's ToggleButton draws its button here
        return Content.assemble(("[x]" if self.value else "[ ]", self.get_visual_style("toggle--button")))
