"""``cmpc workers``: compare the number of workers (and the costs) of the codes over a range of z.

Examples::

    cmpc workers --s 2 --t 2 --z 1-12
    cmpc workers --s 2 --t 3 --z 1,2,5 --codes age,polydot --format json
    cmpc workers --s 2 --t 2 --z 1-12 --plot docs/workers.png

One row per (code, z): N = |P(H)|, deg H + 1, AGE's λ (empty for other codes), the certified N at prime
``--p`` (default 2^31 − 1; :mod:`cmpc.protocol.certificate`: the fewest workers whose privacy can be
certified — for AGE the best λ that certifies, falling back to the structurally private λ ∈ {0, z}; empty
when the code cannot be certified at p) and the costs of one run at size m (:func:`cmpc.costs.report`).
Codes that do not exist for (s, t) (``polynomial-sharing`` and ``gasp`` need s = 1, ``bgw`` needs
s = t = 1) are skipped: a note on stderr for the table, silently for csv/json
and markdown (a pivot table of N: one line per z, one column per code).
``--codes all`` selects every code, including ``search`` (bounded by ``--search-seconds`` per z).

Bounded work: a request is refused (:class:`ParameterError`) when its estimated work Σ (st + z)² over the
codes and z values exceeds :data:`MAX_WORK` (about 10 s), and z beyond the codes' bound (512).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from typing import Any

from .. import codes as codes_mod
from .. import costs
from ..codes.age import _age_secrets
from ..codes.base import MAX_Z, Code
from ..errors import ParameterError
from ..protocol.certificate import certifiable_kind

__all__ = ["DEFAULT_CODES", "parse_z", "register", "run", "worker_table"]

#: codes compared when ``--codes`` is not given
DEFAULT_CODES = ("age", "polydot", "entangled", "ssmm")

#: JSON keys every row carries (extra cost keys follow)
ROW_KEYS = (
    "code", "s", "t", "z", "workers", "degree_plus_one", "lambda", "p", "certified_workers",
    "certified_lambda", "certificate",
)

#: default prime for the certified worker count
DEFAULT_P = 2**31 - 1
#: largest estimated work Σ (st + z)² of one request (about 10 s on the reference machine)
MAX_WORK = 4_000_000


def certified(code: Code, p: int) -> tuple[int | None, int | None, str | None]:
    """(certified N, λ for AGE, certificate kind) for ``code`` without spare workers over GF(p).

    AGE: the λ with the fewest workers whose privacy certifies (by N(λ), ties → smaller λ); λ ∈ {0, z} is
    always structural, so AGE always has an answer. Other codes: their N if they certify, else ``None``.
    """
    if code.name == "age":
        s, t, z = code.s, code.t, code.z
        n_by = code.params["n_by_lambda"]
        for lam in sorted(n_by, key=lambda k: (n_by[k], k)):
            sa, sb = _age_secrets(s, t, z, lam)
            kind = certifiable_kind(sa, sb, n_by[lam], p)
            if kind is not None:
                return n_by[lam], lam, kind
        return None, None, None  # pragma: no cover - λ = 0 is structural
    kind = certifiable_kind(code.secret_a, code.secret_b, code.n_workers, p)
    return (code.n_workers if kind else None), None, kind


def check_work(s: int, t: int, zs: Sequence[int], codes: Sequence[str]) -> int:
    """Estimated work Σ (st + z)² of a request; :class:`ParameterError` above :data:`MAX_WORK` or z > 512."""
    if zs and max(zs) > MAX_Z:
        raise ParameterError(f"--z values must be <= {MAX_Z} (bounded work of the codes), got {max(zs)}")
    work = len(codes) * sum((s * t + z) ** 2 for z in zs)
    if work > MAX_WORK:
        raise ParameterError(
            f"this request ({len(codes)} codes, {len(zs)} values of z up to {max(zs)}) needs an estimated "
            f"{work / MAX_WORK * 10:.0f} s, above the bound of about 10 s: narrow --z or --codes"
        )
    return work


def parse_z(text: str) -> list[int]:
    """Parse ``3``, ``1-12``, ``1,2,5`` or mixtures (``1-3,8``) into a sorted list of distinct z ≥ 1."""
    values: set[int] = set()
    if not text or not text.strip():
        raise ParameterError("--z must not be empty (examples: 3, 1-12, 1,2,5)")
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo_s, hi_s = part.split("-", 1)
                lo, hi = int(lo_s), int(hi_s)
                if lo > hi:
                    raise ParameterError(f"--z range {part!r} is empty (low > high)")
                if hi > MAX_Z:
                    raise ParameterError(
                        f"--z values must be <= {MAX_Z} (bounded work of the codes), got {hi}"
                    )
                values.update(range(lo, hi + 1))
            else:
                values.add(int(part))
                if max(values) > MAX_Z:
                    raise ParameterError(
                        f"--z values must be <= {MAX_Z} (bounded work of the codes), got {max(values)}"
                    )
        except ValueError as exc:
            if isinstance(exc, ParameterError):
                raise
            raise ParameterError(f"--z: cannot parse {part!r} (examples: 3, 1-12, 1,2,5)") from exc
    if min(values) < 1:
        raise ParameterError(f"--z values must be >= 1, got {min(values)}")
    return sorted(values)


def _z_type(text: str) -> list[int]:
    try:
        return parse_z(text)
    except ParameterError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _codes_type(text: str) -> list[str]:
    if text.strip() == "all":
        return codes_mod.available()
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in codes_mod.REGISTRY]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown code(s) {unknown}; choose from {', '.join(codes_mod.available())} or 'all'"
        )
    return list(dict.fromkeys(names))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from exc
    if not 0 < value <= 600:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"expected seconds in (0, 600], got {text}")
    return value


def _prime(text: str) -> int:
    from ..field import PrimeField

    try:
        return PrimeField(int(text, 0)).p
    except (ValueError, ParameterError) as exc:
        raise argparse.ArgumentTypeError(f"expected a prime below 2^63, got {text!r}") from exc


def worker_table(
    s: int,
    t: int,
    zs: Sequence[int],
    codes: Sequence[str] = DEFAULT_CODES,
    m: int = 1024,
    *,
    search_seconds: float | None = None,
    p: int = DEFAULT_P,
) -> list[dict[str, Any]]:
    """Rows ``{"code", "s", "t", "z", "workers", "degree_plus_one", "lambda", "p", "certified_workers",
    "certified_lambda", "certificate", ...costs}`` per (code, z) (:func:`certified` at prime ``p``).

    Codes not applicable to (s, t) are left out (see :func:`cmpc.codes.applicable`). ``lambda`` is
    AGE's chosen gap and ``None`` for the other codes. Extra keys: ``m``, ``phase1_elements``,
    ``phase2_elements``, ``phase3_elements``, ``total_elements``, ``per_worker_compute``, ``total_compute``,
    ``storage_per_worker``,
    ``total_storage`` (:meth:`cmpc.costs.CostReport.as_dict`), and ``complete`` for ``search``.
    """
    check_work(s, t, zs, codes)
    rows: list[dict[str, Any]] = []
    for name in codes:
        if not codes_mod.applicable(name, s, t):
            continue
        for z in zs:
            extra = {"seconds": search_seconds} if name == "search" and search_seconds else {}
            code = codes_mod.make(name, s=s, t=t, z=z, **extra)
            row: dict[str, Any] = {
                "code": name,
                "s": s,
                "t": t,
                "z": z,
                "workers": code.n_workers,
                "degree_plus_one": code.degree_plus_one,
                "lambda": code.params.get("lambda") if name == "age" else None,
            }
            n_cert, lam_cert, kind = certified(code, p)
            row.update(p=p, certified_workers=n_cert, certified_lambda=lam_cert, certificate=kind)
            row.update(costs.report(code, m).as_dict())
            row.pop("n_workers", None)
            if name == "search":
                row["complete"] = code.params.get("complete")
            rows.append(row)
    return rows


_TABLE_COLUMNS = (
    ("code", "code"),
    ("z", "z"),
    ("workers", "N"),
    ("degree_plus_one", "deg+1"),
    ("lambda", "λ"),
    ("certified_workers", "N@p"),
    ("certified_lambda", "λ@p"),
    ("certificate", "cert"),
    ("phase1_elements", "phase1"),
    ("phase2_elements", "phase2"),
    ("phase3_elements", "phase3"),
    ("per_worker_compute", "compute/worker"),
    ("storage_per_worker", "storage/worker"),
)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """Fixed-width text table of :func:`worker_table` rows, one line per (code, z), sorted by z then N."""
    ordered = sorted(rows, key=lambda r: (r["z"], r["workers"], r["code"]))
    cells = [[label for _, label in _TABLE_COLUMNS]]
    for r in ordered:
        cells.append(["" if r.get(key) is None else str(r[key]) for key, _ in _TABLE_COLUMNS])
    widths = [max(len(row[i]) for row in cells) for i in range(len(_TABLE_COLUMNS))]
    lines = []
    for k, row in enumerate(cells):
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        lines.append("  ".join(padded))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_csv(rows: Sequence[dict[str, Any]]) -> str:
    """CSV with a header line; keys in :data:`ROW_KEYS` order first."""
    keys = list(ROW_KEYS)
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: "" if r.get(k) is None else r.get(k) for k in keys})
    return buf.getvalue()


def format_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown pivot table: one line per z, one column per code with N (AGE: ``N (λ)``; search: ``N*`` when
    the search was cut by its time bound)."""
    names = list(dict.fromkeys(r["code"] for r in rows))
    zs = sorted({r["z"] for r in rows})
    cell: dict[tuple[str, int], str] = {}
    for r in rows:
        text = str(r["workers"])
        if r["code"] == "age":
            text += f" ({r['lambda']})"
        if r["code"] == "search" and r.get("complete") is False:
            text += "*"
        cell[(r["code"], r["z"])] = text
    head = ["z", *[f"{n} (λ)" if n == "age" else n for n in names]]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    for z in zs:
        lines.append("| " + " | ".join([str(z), *[cell.get((n, z), "") for n in names]]) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[dict[str, Any]], path: str, s: int, t: int) -> None:
    """Draw N against z, one line per code, into ``path`` (needs matplotlib: the ``plot`` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    names = list(dict.fromkeys(r["code"] for r in rows))
    markers = "os^vDxP*"
    styles = ("-", "--", "-.", ":")
    # equal values would hide each other (entangled under AGE): shift each code a little along z and draw
    # hollow markers of different shapes, so every curve stays visible
    width = 0.36 if len(names) > 1 else 0.0
    for k, name in enumerate(names):
        pts = sorted((r["z"], r["workers"]) for r in rows if r["code"] == name)
        shift = (k / (len(names) - 1) - 0.5) * width if len(names) > 1 else 0.0
        ax.plot(
            [p[0] + shift for p in pts], [p[1] for p in pts],
            marker=markers[k % len(markers)], linestyle=styles[k % len(styles)],
            linewidth=2.0 if name == "age" else 1.2, markersize=6, markerfacecolor="none",
            markeredgewidth=1.4, label=name, zorder=3 + k,
        )
    ax.set_xlabel("z (colluding workers)")
    ax.set_ylabel("N = |P(H)| (workers)")
    ax.set_title(f"Workers needed, s = {s}, t = {t} (codes offset along z so equal values stay visible)",
                 fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``cmpc workers``; returns the exit status."""
    zs: list[int] = args.z
    names: list[str] = args.codes
    skipped = [(n, codes_mod.why_not(n, args.s, args.t)) for n in names]
    skipped = [(n, why) for n, why in skipped if why is not None]
    rows = worker_table(args.s, args.t, zs, names, args.m, search_seconds=args.search_seconds, p=args.p)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    elif args.format == "csv":
        sys.stdout.write(format_csv(rows))
    elif args.format == "markdown":
        print(f"N = |P(H)| for s = {args.s}, t = {args.t} (AGE: N (λ))\n")
        sys.stdout.write(format_markdown(rows))
    else:
        print(f"s = {args.s}, t = {args.t}, costs for m = {args.m} (field elements / multiply-adds); "
              f"N@p: certified workers at p = {args.p}")
        print(format_table(rows) if rows else "(no applicable code)")
        for name, why in skipped:
            print(f"note: skipped {name}: {why}", file=sys.stderr)
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print(
                "cmpc workers: --plot needs matplotlib; install the 'plot' extra "
                "(pip install 'cmpc-toolkit[plot]')",
                file=sys.stderr,
            )
            return 3
        plot(rows, args.plot, args.s, args.t)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``workers`` sub-command to the ``cmpc`` parser."""
    parser = subparsers.add_parser(
        "workers",
        help="compare worker counts and costs of the codes",
        description="Number of workers N = |P(H)| per code and z, with per-phase costs at size m.",
    )
    parser.add_argument("--s", type=_positive_int, default=2, help="row blocks of A and B (default 2)")
    parser.add_argument("--t", type=_positive_int, default=2, help="column blocks of A and B (default 2)")
    parser.add_argument(
        "--z",
        type=_z_type,
        default=parse_z("1-12"),
        help="colluding workers: 3, 1-12 or 1,2,5 (default 1-12)",
    )
    parser.add_argument(
        "--codes",
        type=_codes_type,
        default=list(DEFAULT_CODES),
        help=f"comma-separated codes or 'all' (default {','.join(DEFAULT_CODES)}; "
        f"known: {','.join(codes_mod.available())})",
    )
    parser.add_argument("--format", choices=("table", "csv", "json", "markdown"), default="table")
    parser.add_argument("--plot", metavar="PNG", default=None, help="also draw N against z into this file")
    parser.add_argument(
        "--m", type=_positive_int, default=1024, help="matrix size for the costs (default 1024)"
    )
    parser.add_argument(
        "--search-seconds", type=_seconds, default=None, help="time bound per z for the 'search' code"
    )
    parser.add_argument(
        "--p", type=_prime, default=DEFAULT_P,
        help="prime for the certified worker count N@p (default 2^31 - 1 = 2147483647)",
    )
    parser.set_defaults(func=run)
    return parser
