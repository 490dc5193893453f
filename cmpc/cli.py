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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmpc",
        description="Coded multi-party computation toolkit: compare codes, run the protocol, launch parties.",
    )
    add_common_options(parser, "cmpc", _version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
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
    return run_cli("cmpc", build_parser(), argv, version=_version(), stderr=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
