"""``python -m cmpc``: the ``cmpc`` command line."""

from .cli import main

raise SystemExit(main())
