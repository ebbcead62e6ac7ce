"""The `tui` command line and the Textual console."""

__version__ = "0.1.0"
