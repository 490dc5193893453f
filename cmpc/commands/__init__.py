"""Sub-commands of the ``cmpc`` command line (one module each)."""
