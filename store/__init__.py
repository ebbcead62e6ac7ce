"""The directory: everything tui knows, kept in one SQLite file. Never imports textual."""
