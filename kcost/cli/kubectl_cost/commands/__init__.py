"""One module per ``kubectl cost`` command group."""
