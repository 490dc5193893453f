"""One error policy for every command line of the project (``cmpc``, and ``private-mdi`` to adopt it).

:func:`run_cli` parses the arguments and calls ``args.func(args)``; what the user sees on failure is decided
here, once:

* a *usage error* — an argument or input file that is wrong (argparse's own errors,
  :class:`~cmpc.errors.ParameterError` and its subclasses such as ``ConfigError``, a file named on the
  command line that is missing or unreadable, a key or certificate OpenSSL rejects, bad TOML / JSON /
  UTF-8) — prints ``<prog>: error: <message>`` to stderr and exits **2**;
* a *runtime failure* — the computation or the network failed (any other
  :class:`~cmpc.errors.CMPCError`: ``TransportError``, ``ProtocolError``, ``DecodingError``, …, or an
  ``OSError`` such as an address already in use) — prints the same line and exits **1**;
* anything else is a bug: ``<prog>: error: internal error: ...`` and exit 1;
* Ctrl-C exits 130 with ``<prog>: interrupted``.

No traceback is printed unless ``--debug`` is given (anywhere on the command line, before a ``--``).
``--version`` prints ``<prog> <version>``. A command's ``func`` returns its exit status (``None`` = 0).
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import tomllib
import traceback
from collections.abc import Sequence
from typing import TextIO

from .errors import CMPCError, ParameterError

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "add_common_options",
    "classify",
    "help_texts",
    "run_cli",
]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def add_common_options(parser: argparse.ArgumentParser, prog: str, version: str) -> None:
    """Add ``--version`` and ``--debug`` to ``parser`` (once)."""
    existing = {opt for action in parser._actions for opt in action.option_strings}
    if "--version" not in existing:
        parser.add_argument("--version", action="version", version=f"{prog} {version}")
    if "--debug" not in existing:
        parser.add_argument(
            "--debug", action="store_true", help="print the full traceback of an error (for bug reports)"
        )


def _os_message(exc: OSError) -> str:
    what = exc.strerror or str(exc) or type(exc).__name__
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    return f"{what}: {' -> '.join(str(n) for n in names)}" if names else what


def classify(exc: BaseException) -> tuple[str, int]:
    """``(message, exit status)`` for an exception raised by a command (see the module docstring)."""
    if isinstance(exc, ParameterError):
        return str(exc) or type(exc).__name__, EXIT_USAGE
    if isinstance(exc, CMPCError):
        return f"{type(exc).__name__}: {exc}", EXIT_FAILURE
    if isinstance(exc, ssl.SSLError):
        return f"TLS key or certificate rejected: {getattr(exc, 'reason', None) or exc}", EXIT_USAGE
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"not valid TOML: {exc}", EXIT_USAGE
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc}", EXIT_USAGE
    if isinstance(exc, UnicodeError):
        return f"not valid UTF-8 text: {exc}", EXIT_USAGE
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError | PermissionError):
        return _os_message(exc), EXIT_USAGE
    if isinstance(exc, OSError):
        return _os_message(exc), EXIT_FAILURE
    return f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)", EXIT_FAILURE


def _split_debug(argv: Sequence[str]) -> tuple[list[str], bool]:
    """Remove ``--debug`` wherever it appears before ``--`` (so it works after the sub-command too)."""
    out: list[str] = []
    debug = False
    for i, arg in enumerate(argv):
        if arg == "--":
            out.extend(argv[i:])
            break
        if arg == "--debug":
            debug = True
            continue
        out.append(arg)
    return out, debug


def run_cli(
    prog: str,
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None = None,
    *,
    version: str | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Parse ``argv`` with ``parser``, run ``args.func(args)`` and apply the error policy; the exit status.

    ``parser`` gets ``--version`` (when ``version`` is given) and ``--debug``. Raises nothing but the
    ``SystemExit`` of argparse itself (exit 2 after printing ``<prog>: error: ...`` for a usage error, 0 for
    ``--help`` / ``--version``) and of a command calling ``parser.error``; every other failure is returned
    as an exit status.
    """
    err = stderr if stderr is not None else sys.stderr
    if version is not None:
        add_common_options(parser, prog, version)
    args_in, debug = _split_debug(list(sys.argv[1:] if argv is None else argv))
    # argparse's own exits (usage error 2, --help / --version 0) propagate as SystemExit, as they always did
    args = parser.parse_args(args_in)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(err)
        return EXIT_USAGE
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=err)
        return EXIT_INTERRUPTED
    except Exception as exc:
        message, status = classify(exc)
        if debug:
            traceback.print_exc(file=err)
        print(f"{prog}: error: {message}", file=err)
        return status


def help_texts(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{command path: help text}`` of ``parser`` and every sub-parser (tests check them for leaks)."""
    out = {parser.prog: parser.format_help()}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                out.update(help_texts(sub))
    return out
