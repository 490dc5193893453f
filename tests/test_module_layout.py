"""The split of correlation / paillier / placement / inference into small modules keeps every public path.

The public names of the four modules are pinned as they were before the split (``__all__`` unchanged); each
must resolve from its old module to the very object defined in its new home. The module-level imports of
``private_mdi`` (outside ``if TYPE_CHECKING:`` blocks and function bodies) must form no cycle.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "private_mdi"

# name -> module that defines it now, per old module (the old module's __all__, pinned)
CORRELATION = {
    "DEFAULT_STAT_BITS": "correlation_params",
    "ClientCorrelationState": "correlation_client",
    "CorrelationParams": "correlation_params",
    "EncryptedMask": "correlation_wire",
    "EncryptedReply": "correlation_wire",
    "PackingLayout": "correlation_params",
    "UploadPad": "correlation_client",
    "client_decrypt_reply": "correlation_client",
    "client_encrypt_mask": "correlation_client",
    "linear_correlation": "correlation",
    "linear_correlation_batch": "correlation",
    "linear_correlation_layers": "correlation",
    "owner_respond": "correlation_owner",
    "precompute_upload": "correlation_client",
    "weight_bound_for": "correlation_params",
}
MOVED: dict[str, dict[str, str]] = {
    "private_mdi.correlation": CORRELATION,
    # paillier's own names, and the protocol's names from before the split (all but the upload pad's)
    "private_mdi.paillier": {
        "DEFAULT_KEY_BITS": "paillier",
        "MIN_KEY_BITS": "paillier",
        "RECOMMENDED_KEY_BITS": "paillier",
        "ROLE_THREADS": "paillier",
        "PaillierKeyPair": "paillier",
        "PublicKey": "paillier",
        "RandomizerPool": "paillier_pool",
        **{k: v for k, v in CORRELATION.items() if k not in ("UploadPad", "precompute_upload")},
    },
    "private_mdi.placement": {
        "Placement": "placement_rules",
        "Slice": "placement_rules",
        "balanced": "placement_balance",
        "edge_loads": "placement_balance",
        "plan_slices": "placement_rules",
        "round_robin": "placement_rules",
        "validate_placement": "placement_rules",
    },
    "private_mdi.inference": {
        "DEFAULT_KEY_BITS": "inference",
        "OfflineIncompleteError": "inference",
        "PrivateInference": "inference",
        "SessionClosedError": "inference",
    },
}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_public_names_still_importable_from_the_old_module(old: str) -> None:
    mod = importlib.import_module(old)
    assert sorted(mod.__all__) == sorted(MOVED[old])
    for name, home in MOVED[old].items():
        assert getattr(mod, name) is getattr(importlib.import_module(f"private_mdi.{home}"), name), name


def test_other_names_outside_code_reaches_still_resolve() -> None:
    import private_mdi.paillier as paillier
    import private_mdi.placement as placement
    from private_mdi import paillier_pool, placement_rules, powmod

    assert paillier.random_unit is paillier_pool.random_unit  # tests/test_paillier.py
    assert paillier.Mpz is powmod.Mpz  # correlation_wire, multiexp
    assert placement.MAX_SLICES == placement_rules.MAX_SLICES == 63


def _runtime_imports(path: Path, module: str, is_package: bool, modules: set[str]) -> set[str]:
    """Modules of ``modules`` imported at module level by ``path`` (TYPE_CHECKING blocks skipped).

    ``from pkg import name`` counts as an import of ``pkg.name`` when that is a module, else of ``pkg``.
    """
    found: set[str] = set()

    def resolve(level: int, name: str | None) -> str:
        if not level:
            return name or ""
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (level - 1)]
        return ".".join(base + ([name] if name else []))

    def walk(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                walk(node.orelse)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                for part in ("body", "orelse", "finalbody"):
                    walk(getattr(node, part, []))
                for handler in getattr(node, "handlers", []):
                    walk(handler.body)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                target = resolve(node.level, node.module)
                for a in node.names:
                    found.add(f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target)

    walk(ast.parse(path.read_text(encoding="utf-8")).body)
    return found & modules


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (as a path that returns to its start), or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                return [*stack[stack.index(t) :], t]
            if t not in state and (found := visit(t)) is not None:
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_find_cycle_sees_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_private_mdi_has_no_import_cycle() -> None:
    modules: dict[str, tuple[Path, bool]] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("private_mdi", *path.relative_to(PACKAGE).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    names = set(modules)
    graph = {m: _runtime_imports(p, m, pkg, names) - {m} for m, (p, pkg) in modules.items()}
    # the walk sees the imports the split introduced
    assert "private_mdi.placement_rules" in graph["private_mdi.placement_balance"]
    assert "private_mdi.paillier_pool" in graph["private_mdi.paillier"]
    assert "private_mdi.paillier" not in graph["private_mdi.paillier_pool"]  # annotation-only import
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])
