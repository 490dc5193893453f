"""``python -m private_mdi``: the ``private-mdi`` command line."""

from .cli import main

raise SystemExit(main())
