"""The ``cmpc`` command line: one sub-command per module in :mod:`cmpc.commands`.

Each command module exposes ``register(subparsers)`` which adds its parser and sets
``func`` (a callable taking the parsed namespace and returning an exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import CMPCError

#: command modules in the order they appear in ``cmpc --help``
COMMAND_MODULES = ("workers", "bench", "keys", "party", "run")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cmpc",
        description="Coded multi-party computation toolkit: compare codes, run the protocol, launch parties.",
    )
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CMPCError as exc:
        print(f"cmpc: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
