"""One module per screen; modals end in ``Modal``."""
