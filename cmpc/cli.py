"""The ``cmpc`` command line: one sub-command per module in :mod:`cmpc.commands`.

Errors follow the one policy of :mod:`cmpc.cliutil`: ``cmpc: error: <message>`` on stderr, exit 2 for
usage errors (bad arguments or input files), 1 for runtime failures, no traceback unless ``--debug``.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func`` (a callable taking the parsed namespace and returning an exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .cliutil import add_common_options, run_cli

#: command modules in the order they appear in ``cmpc --help``
COMMAND_MODULES = ("workers", "bench", "init", "keys", "party", "run")


def _version() -> str:
    from . import __version__

    return __version__


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``cmpc`` parser; ``only`` = one command name imports just that command's module (start-up)."""
    parser = argparse.ArgumentParser(
        prog="cmpc",
        description="Coded multi-party computation toolkit: compare codes, run the protocol, launch parties.",
    )
    add_common_options(parser, "cmpc", _version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES if only not in COMMAND_MODULES else (only,):
        try:
            module = importlib.import_module(f"cmpc.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"cmpc.commands.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``cmpc`` with ``argv`` (default ``sys.argv[1:]``); the exit status (see :mod:`cmpc.cliutil`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args if not a.startswith("-")), None)
    # a party process imports only its own command (the others pull in code search, plotting, ...)
    return run_cli("cmpc", build_parser(command), args, version=_version(), stderr=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
